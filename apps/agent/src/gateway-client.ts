import type { z } from 'zod';
import {
  ERROR_CODES,
  PowernodeError,
  agentDesiredState,
  agentEnrolResult,
  agentHeartbeatResult,
  type AgentDesiredState,
  type AgentEnrolInput,
  type AgentEnrolResult,
  type AgentHeartbeat,
  type ErrorCode,
} from '@powernode/contracts';

/** How the agent reaches the gateway. */
export interface GatewayClientOptions {
  /** `POWERNODE_GATEWAY_URL`, without a trailing slash. */
  baseUrl: string;
  fetch?: typeof fetch;
  /** Time allowed for one request, body included. */
  timeoutMs: number;
  userAgent: string;
}

/** `{ok:true, desired_generation}`: what a heartbeat answers. */
export type AgentHeartbeatResult = z.infer<typeof agentHeartbeatResult>;

const FALLBACK_CODES: Record<number, ErrorCode> = {
  400: 'validation_failed',
  401: 'unauthenticated',
  403: 'forbidden',
  404: 'not_found',
  409: 'conflict',
  413: 'payload_too_large',
  429: 'rate_limited',
};

function codeFor(status: number, declared: unknown): ErrorCode {
  if (typeof declared === 'string' && declared in ERROR_CODES) return declared as ErrorCode;
  return FALLBACK_CODES[status] ?? (status >= 500 ? 'gateway_unreachable' : 'internal');
}

/**
 * The three agent endpoints of the gateway (see libs/contracts agent-api.ts): enrolment, the desired state
 * and heartbeats. Answers are checked against the contract; problem+json errors become `PowernodeError`s
 * with the gateway's code, and a gateway that cannot be reached is `gateway_unreachable` (retryable).
 */
export class GatewayClient {
  private readonly fetch: typeof fetch;

  constructor(private readonly options: GatewayClientOptions) {
    this.fetch = options.fetch ?? globalThis.fetch;
  }

  /** Exchanges the one-time enrolment token for the instance credential. */
  async enrol(input: AgentEnrolInput): Promise<AgentEnrolResult> {
    return this.call('enrol', 'POST', '/api/v1/agent/enrol', undefined, input, agentEnrolResult);
  }

  /** What the instance should run now. */
  async desired(credential: string): Promise<AgentDesiredState> {
    return this.call('fetch the desired state', 'GET', '/api/v1/agent/desired', credential, undefined, agentDesiredState);
  }

  /** Reports what runs; the answer says which generation the platform wants. */
  async heartbeat(credential: string, heartbeat: AgentHeartbeat): Promise<AgentHeartbeatResult> {
    return this.call('send a heartbeat', 'POST', '/api/v1/agent/heartbeat', credential, heartbeat, agentHeartbeatResult);
  }

  private async call<T>(what: string, method: 'GET' | 'POST', route: string, credential: string | undefined, body: unknown, schema: z.ZodType<T>): Promise<T> {
    const url = `${this.options.baseUrl}${route}`;
    const headers: Record<string, string> = { accept: 'application/json, application/problem+json', 'user-agent': this.options.userAgent };
    if (credential !== undefined) headers['authorization'] = `Bearer ${credential}`;
    if (body !== undefined) headers['content-type'] = 'application/json';
    let response: Response;
    let text: string;
    try {
      response = await this.fetch(url, {
        method,
        headers,
        ...(body === undefined ? {} : { body: JSON.stringify(body) }),
        signal: AbortSignal.timeout(this.options.timeoutMs),
      });
      text = await response.text();
    } catch (cause) {
      throw new PowernodeError(
        'gateway_unreachable',
        `cannot ${what}: ${method} ${url} failed (${(cause as Error).message}); check POWERNODE_GATEWAY_URL and that the gateway runs`,
        {
          cause,
          details: { url },
        },
      );
    }
    let parsed: unknown;
    try {
      parsed = text === '' ? undefined : JSON.parse(text);
    } catch (cause) {
      if (response.ok) {
        throw new PowernodeError('gateway_unreachable', `cannot ${what}: the gateway answered ${response.status} with something that is not JSON`, {
          cause,
          details: { url, status: response.status },
        });
      }
      parsed = undefined;
    }
    if (!response.ok) {
      const problem = (parsed ?? {}) as { code?: unknown; detail?: unknown; title?: unknown };
      const detail = typeof problem.detail === 'string' ? problem.detail : typeof problem.title === 'string' ? problem.title : text.slice(0, 200);
      throw new PowernodeError(
        codeFor(response.status, problem.code),
        `cannot ${what}: the gateway answered ${response.status}${detail === '' ? '' : `: ${detail}`}`,
        {
          details: { url, status: response.status, ...(typeof problem.code === 'string' ? { gateway_code: problem.code } : {}) },
          retryable: response.status >= 500 || response.status === 429,
        },
      );
    }
    const checked = schema.safeParse(parsed);
    if (!checked.success) {
      const issues = checked.error.issues.map((issue) => `${issue.path.join('.') || '(body)'}: ${issue.message}`);
      throw new PowernodeError(
        'validation_failed',
        `cannot ${what}: the gateway's answer does not follow the agent protocol (${issues.slice(0, 5).join('; ')})`,
        {
          details: { url, issues },
        },
      );
    }
    return checked.data;
  }
}
