import { uuidv7 } from '@powernode/events';

/** The request's correlation id: the caller's `X-Correlation-Id` when it is sane, otherwise a new one. */
export function correlationIdFrom(header: string | string[] | undefined): string {
  const value = Array.isArray(header) ? header[0] : header;
  return value && /^[A-Za-z0-9._:-]{1,128}$/.test(value) ? value : uuidv7();
}
