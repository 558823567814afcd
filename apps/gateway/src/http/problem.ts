import { httpStatusFor, isPowernodeError, PowernodeError, type ErrorBody } from '@powernode/contracts';

/** RFC 9457 problem details, with our stable `code` and the error's details as extension members. */
export interface ProblemDetails {
  type: string;
  title: string;
  status: number;
  detail: string;
  code: string;
  instance?: string;
  correlation_id?: string;
  [extension: string]: unknown;
}

/** Maps any thrown value to problem+json; unknown errors become `internal` without leaking their message. */
export function toProblem(error: unknown, instance?: string, correlation_id?: string): ProblemDetails {
  const e = isPowernodeError(error)
    ? error
    : new PowernodeError('internal', 'internal error: the failure was logged with this correlation id', { cause: error });
  const body: ErrorBody = e.toBody();
  // Details go first: a detail never replaces a member RFC 9457 defines (a `status` detail once turned a 409 into a 500).
  return {
    ...(body.details ?? {}),
    type: `https://powernode.dev/problems/${body.code}`,
    title: body.code.replace(/_/g, ' '),
    status: httpStatusFor(e.code),
    detail: body.message,
    code: body.code,
    ...(instance ? { instance } : {}),
    ...(correlation_id ? { correlation_id } : {}),
  };
}
