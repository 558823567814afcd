import { Readable } from 'node:stream';
import { PowernodeError } from '@powernode/contracts';
import type { RegistryContext } from './registry-context.js';

/** The connection failed while a body was streaming: not a verdict on the content, worth another attempt. */
export class BodyInterrupted extends Error {}

/** The chunks of a response body; a broken transfer surfaces as `BodyInterrupted`. */
export async function* bodyChunks(response: Response): AsyncGenerator<Buffer> {
  if (response.body === null) return;
  try {
    for await (const chunk of Readable.fromWeb(response.body as import('node:stream/web').ReadableStream<Uint8Array>)) yield chunk as Buffer;
  } catch (cause) {
    throw new BodyInterrupted(`the body broke off: ${(cause as Error).message}`, { cause });
  }
}

/** Releases a body the caller does not read, so the connection can be reused; a failure to do so is moot. */
export async function discardBody(response: Response): Promise<void> {
  await response.body?.cancel().catch(() => undefined);
}

/** The `Content-Length` the registry declared, when it is a usable number. */
export function contentLength(response: Response): number | undefined {
  const header = response.headers.get('content-length');
  if (header === null) return undefined;
  const value = Number(header);
  return Number.isSafeInteger(value) && value >= 0 ? value : undefined;
}

/** A `Content-Type` without its parameters, lowercased; undefined when absent or empty. */
export function baseMediaType(contentType: string | null): string | undefined {
  const value = contentType?.split(';')[0]?.trim().toLowerCase();
  return value === undefined || value === '' ? undefined : value;
}

/** Runs a request-and-read step again when the body broke mid-transfer (not when the content was wrong). */
export async function withBodyRetries<T>(context: RegistryContext, what: string, step: () => Promise<T>): Promise<T> {
  for (let attempt = 0; ; attempt++) {
    try {
      return await step();
    } catch (error) {
      if (!(error instanceof BodyInterrupted)) throw error;
      if (attempt >= context.retries) {
        throw new PowernodeError('registry_unreachable', `${what}: the connection broke while reading the body, ${attempt + 1} times; check the registry`, {
          cause: error,
          details: { registry: context.registry, attempts: attempt + 1 },
        });
      }
      await context.transport.backoff(attempt + 1);
    }
  }
}
