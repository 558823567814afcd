import { request as httpRequest, type IncomingMessage } from 'node:http';
import { request as httpsRequest } from 'node:https';
import { connect as connectTcp } from 'node:net';
import { connect as connectTls } from 'node:tls';
import { Readable } from 'node:stream';
import { rootCertificates } from 'node:tls';

const NULL_BODY_STATUSES = new Set([101, 103, 204, 205, 304]);

function requestHeaders(init: RequestInit | undefined): Record<string, string> {
  const out: Record<string, string> = {};
  new Headers(init?.headers).forEach((value, key) => {
    out[key] = value;
  });
  return out;
}

function requestBody(body: RequestInit['body']): Buffer | undefined {
  if (body === undefined || body === null) return undefined;
  if (typeof body === 'string') return Buffer.from(body, 'utf8');
  if (body instanceof Uint8Array) return Buffer.from(body.buffer, body.byteOffset, body.byteLength);
  if (body instanceof ArrayBuffer) return Buffer.from(body);
  // The agent only sends JSON and small token requests; streaming uploads never go through here.
  throw new TypeError('this fetch sends only string, Uint8Array or ArrayBuffer bodies');
}

function responseHeaders(message: IncomingMessage): Headers {
  const headers = new Headers();
  for (const [name, value] of Object.entries(message.headers)) {
    if (value === undefined) continue;
    for (const item of Array.isArray(value) ? value : [value]) headers.append(name, item);
  }
  return headers;
}

const REDIRECT_STATUSES = new Set([301, 302, 303, 307, 308]);
const MAX_REDIRECTS = 5;

interface OneRequest {
  url: URL;
  method: string;
  headers: Record<string, string>;
  body: Buffer | undefined;
  signal: AbortSignal | undefined;
}

/** A TCP address every request is sent to, whatever its URL's host (a byte pipe to the one server). */
export interface PipeAddress {
  host: string;
  port: number;
}

function pipeConnection(url: URL, ca: string[], pipe: PipeAddress): { createConnection: () => ReturnType<typeof connectTcp> } {
  // The URL still names the server: Host header and, over TLS, the name its certificate is checked against.
  const servername = url.hostname.replace(/^\[|\]$/g, '');
  return {
    createConnection: () =>
      url.protocol === 'https:' ? connectTls({ host: pipe.host, port: pipe.port, servername, ca }) : connectTcp({ host: pipe.host, port: pipe.port }),
  };
}

function sendOnce(
  request: OneRequest,
  ca: string[],
  socketPath: string | undefined,
  pipe?: PipeAddress,
): Promise<{ message: IncomingMessage; status: number }> {
  return new Promise((resolve, reject) => {
    const headers = { ...request.headers, ...(request.body === undefined ? {} : { 'content-length': String(request.body.length) }) };
    const options = {
      method: request.method,
      headers,
      ...(request.url.protocol === 'https:' ? { ca } : {}),
      ...(socketPath === undefined ? {} : { socketPath }),
      ...(pipe === undefined ? {} : pipeConnection(request.url, ca, pipe)),
      ...(request.signal === undefined ? {} : { signal: request.signal }),
    };
    const send = request.url.protocol === 'https:' ? httpsRequest : httpRequest;
    const req = send(request.url, options, (message) => resolve({ message, status: message.statusCode ?? 502 }));
    req.once('error', (cause) => reject(new TypeError(`fetch failed: ${cause.message}`, { cause })));
    req.end(request.body);
  });
}

/**
 * A `fetch` that trusts the given PEM certificates on top of Node's bundled roots for https: the platform's
 * private CA, which Node's built-in fetch cannot be told about after start-up. Redirects are followed (up to
 * five, as registries send blob downloads to their storage) and, as browsers do, the Authorization header is
 * dropped when a redirect leaves the origin.
 */
export function fetchTrusting(caPem: string): typeof fetch {
  return fetchOver({ caPem });
}

/**
 * `fetchTrusting`, optionally through a unix socket that pipes to the one server this fetch talks to (the
 * agent inside a machine reaches the gateway so): every request goes through it, whatever the URL's host.
 */
export function fetchOver(options: { caPem?: string; socketPath?: string; pipe?: PipeAddress }): typeof fetch {
  const ca = options.caPem === undefined ? [...rootCertificates] : [...rootCertificates, options.caPem];
  const socketPath = options.socketPath;
  const pipe = options.pipe;
  return (async (input: string | URL | Request, init?: RequestInit): Promise<Response> => {
    let request: OneRequest = {
      url: new URL(typeof input === 'string' || input instanceof URL ? input : input.url),
      method: (init?.method ?? 'GET').toUpperCase(),
      headers: requestHeaders(init),
      body: requestBody(init?.body),
      signal: init?.signal ?? undefined,
    };
    for (let hop = 0; ; hop++) {
      const { message, status } = await sendOnce(request, ca, socketPath, pipe);
      const location = message.headers.location;
      if (REDIRECT_STATUSES.has(status) && location !== undefined && init?.redirect !== 'manual' && init?.redirect !== 'error') {
        message.resume();
        if (hop >= MAX_REDIRECTS) throw new TypeError(`fetch failed: more than ${MAX_REDIRECTS} redirects from ${request.url.origin}`);
        const next = new URL(location, request.url);
        const headers = { ...request.headers };
        if (next.origin !== request.url.origin) delete headers['authorization'];
        const rewritesToGet = status === 303 || ((status === 301 || status === 302) && request.method === 'POST');
        request = { ...request, url: next, headers, ...(rewritesToGet ? { method: 'GET', body: undefined } : {}) };
        continue;
      }
      const nullBody = request.method === 'HEAD' || NULL_BODY_STATUSES.has(status);
      if (nullBody) message.resume();
      const stream = nullBody ? null : (Readable.toWeb(message) as unknown as ReadableStream<Uint8Array>);
      return new Response(stream, { status, statusText: message.statusMessage ?? '', headers: responseHeaders(message) });
    }
  }) as typeof fetch;
}
