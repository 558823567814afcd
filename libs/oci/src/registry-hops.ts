import { PowernodeError } from '@powernode/contracts';

/**
 * Where a registry can send the client besides its own address: a redirect (blob downloads often go to a
 * storage host), the token service its `WWW-Authenticate` challenge names, or an upload location on another
 * host. All are chosen by the remote side, so each is checked before a request leaves (server-side request
 * forgery).
 */
export type RegistryHop = 'redirect' | 'token realm' | 'upload location';

/** Throws (a PowernodeError, usually `registry_not_allowed`) when the client may not send a request to `url`. */
export type HopCheck = (url: URL, hop: RegistryHop) => void;

/** Redirects followed for one request before giving up: real registries need one, at most two. */
export const MAX_REDIRECTS = 5;

const REDIRECT_STATUSES = new Set([301, 302, 303, 307, 308]);

/** True for a redirect status (the `Location` header says where). */
export function isRedirect(status: number): boolean {
  return REDIRECT_STATUSES.has(status);
}

/** True for a host name of this machine's loopback interface (`localhost`, `127.x.x.x`, `[::1]`). */
export function isLoopbackHost(hostname: string): boolean {
  const host = hostname.toLowerCase();
  return host === 'localhost' || host === '[::1]' || host === '::1' || /^127(?:\.\d{1,3}){3}$/.test(host);
}

/** True when `url` addresses the registry `host[:port]` (default ports compared as such, names case-insensitively). */
export function urlIsOnRegistry(url: URL, registry: string): boolean {
  try {
    return new URL(`${url.protocol}//${registry}`).host === url.host;
  } catch {
    return false;
  }
}

/**
 * The next request of a redirect chain: its URL, method and body, and whether the credentials may go along.
 * Refuses a step from https down to plain http (a man in the middle could send the client anywhere) and
 * a `Location` that is not a URL. 303 turns any method but HEAD into GET; 301 and 302 turn POST into GET, as
 * browsers and fetch do.
 */
export function redirectStep(
  from: URL,
  status: number,
  location: string | null,
  request: { method: string; body?: Uint8Array | undefined },
  what: string,
): { url: URL; method: string; body: Uint8Array | undefined; sameOrigin: boolean } {
  let url: URL;
  try {
    if (location === null || location === '') throw new Error('no Location');
    url = new URL(location, from);
  } catch (cause) {
    throw new PowernodeError('registry_error', `${what}: the registry redirected without a usable Location`, {
      cause,
      retryable: false,
      details: { from: from.origin },
    });
  }
  if (url.protocol !== 'https:' && url.protocol !== 'http:') {
    throw new PowernodeError('registry_not_allowed', `${what}: the registry redirected to a ${url.protocol} URL; only http(s) is followed`, {
      details: { from: from.origin },
    });
  }
  if (from.protocol === 'https:' && url.protocol === 'http:') {
    throw new PowernodeError('registry_not_allowed', `${what}: the registry redirected from https to plain http (${url.host}); refused`, {
      details: { from: from.origin, to: url.origin },
    });
  }
  return { url, ...redirectedMethod(status, request), sameOrigin: url.origin === from.origin };
}

function redirectedMethod(status: number, request: { method: string; body?: Uint8Array | undefined }): { method: string; body: Uint8Array | undefined } {
  const toGet = (status === 303 && request.method !== 'HEAD') || ((status === 301 || status === 302) && request.method === 'POST');
  return toGet ? { method: 'GET', body: undefined } : { method: request.method, body: request.body };
}

/**
 * True when the registry's Basic credentials may go to a token service at `realm`: only on the registry's
 * own host name, and only over https, except on loopback where plain http never leaves the machine.
 */
export function mayReceiveCredentials(realm: URL, registryBase: URL): boolean {
  if (realm.hostname.toLowerCase() !== registryBase.hostname.toLowerCase()) return false;
  return realm.protocol === 'https:' || (realm.protocol === 'http:' && isLoopbackHost(realm.hostname));
}
