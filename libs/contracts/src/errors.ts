/**
 * The closed set of error codes every surface speaks. The gateway maps a code to an HTTP status and to an
 * MCP tool error; services only ever raise `PowernodeError` with one of these codes.
 */
export const ERROR_CODES = {
  // generic
  validation_failed: { http: 400, retryable: false },
  unauthenticated: { http: 401, retryable: false },
  forbidden: { http: 403, retryable: false },
  not_found: { http: 404, retryable: false },
  conflict: { http: 409, retryable: false },
  payload_too_large: { http: 413, retryable: false },
  rate_limited: { http: 429, retryable: true },
  internal: { http: 500, retryable: false },
  // infrastructure
  concurrency_conflict: { http: 409, retryable: true },
  unknown_event_type: { http: 400, retryable: false },
  invalid_event: { http: 400, retryable: false },
  store_unavailable: { http: 503, retryable: true },
  bus_unavailable: { http: 503, retryable: true },
  rpc_timeout: { http: 504, retryable: true },
  rpc_no_responder: { http: 503, retryable: true },
  /** A streamed reply lost a part or its end (the bus dropped a message, or the service went away). */
  stream_interrupted: { http: 502, retryable: true },
  read_model_behind: { http: 503, retryable: true },
  config_invalid: { http: 500, retryable: false },
  // catalog
  already_exists: { http: 409, retryable: false },
  invalid_transition: { http: 409, retryable: false },
  dependency_not_promoted: { http: 409, retryable: false },
  dependency_cycle: { http: 409, retryable: false },
  provides_conflict: { http: 409, retryable: false },
  already_assigned: { http: 409, retryable: false },
  module_assigned: { http: 409, retryable: false },
  unverified_signature: { http: 409, retryable: false },
  approval_required: { http: 409, retryable: false },
  approval_expired: { http: 409, retryable: false },
  self_approval: { http: 403, retryable: false },
  manifest_invalid: { http: 400, retryable: false },
  // supply chain
  signature_missing: { http: 422, retryable: false },
  signature_invalid: { http: 422, retryable: false },
  digest_mismatch: { http: 422, retryable: false },
  fsverity_mismatch: { http: 422, retryable: false },
  not_semver: { http: 422, retryable: false },
  registry_unreachable: { http: 502, retryable: true },
  registry_error: { http: 502, retryable: true },
  /** A registry, a redirect or a token service on a host the configuration does not allow (SSRF policy). */
  registry_not_allowed: { http: 403, retryable: false },
  signing_failed: { http: 502, retryable: true },
  webhook_unreachable: { http: 502, retryable: true },
  // module builds
  distribution_unavailable: { http: 422, retryable: false },
  package_unavailable: { http: 422, retryable: false },
  package_install_failed: { http: 422, retryable: false },
  build_requires_root: { http: 403, retryable: false },
  build_tool_failed: { http: 500, retryable: false },
  // agent
  gateway_unreachable: { http: 502, retryable: true },
  // instances as machines
  base_missing: { http: 409, retryable: false },
  compose_conflict: { http: 409, retryable: false },
  compose_failed: { http: 500, retryable: false },
  machine_failed: { http: 502, retryable: true },
  instance_terminated: { http: 409, retryable: false },
  instance_not_running: { http: 409, retryable: false },
} as const satisfies Record<string, { http: number; retryable: boolean }>;

export type ErrorCode = keyof typeof ERROR_CODES;

/** Serialised form of an error on every wire (`{ok:false,error}` replies, problem+json `code`). */
export interface ErrorBody {
  code: ErrorCode;
  message: string;
  details?: Record<string, unknown>;
}

/** A typed failure with a stable code; `retryable` tells a consumer whether to nak with delay or park. */
export class PowernodeError extends Error {
  readonly code: ErrorCode;
  readonly details: Record<string, unknown> | undefined;
  readonly retryable: boolean;

  constructor(code: ErrorCode, message: string, options: { details?: Record<string, unknown>; cause?: unknown; retryable?: boolean } = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = 'PowernodeError';
    this.code = code;
    this.details = options.details;
    this.retryable = options.retryable ?? ERROR_CODES[code].retryable;
  }

  toBody(): ErrorBody {
    return this.details === undefined ? { code: this.code, message: this.message } : { code: this.code, message: this.message, details: this.details };
  }

  static fromBody(body: ErrorBody): PowernodeError {
    const code = (body.code in ERROR_CODES ? body.code : 'internal') as ErrorCode;
    return new PowernodeError(code, body.message, body.details === undefined ? {} : { details: body.details });
  }
}

/** True when `value` is a PowernodeError, even across module copies (checks the shape, not the prototype). */
export function isPowernodeError(value: unknown): value is PowernodeError {
  return value instanceof Error && typeof (value as PowernodeError).code === 'string' && (value as PowernodeError).code in ERROR_CODES;
}

/** HTTP status for an error code. */
export function httpStatusFor(code: ErrorCode): number {
  return ERROR_CODES[code].http;
}

/**
 * The one answer to a webhook whose signature is wrong or whose repository is unknown: the gateway and the
 * catalog both refuse with exactly this text, so the two cases cannot be told apart (no oracle).
 */
export const WEBHOOK_REFUSAL_MESSAGE = 'webhook signature invalid or repository unknown: check POWERNODE_WEBHOOK_SECRET and the repository name';
