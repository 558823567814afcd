import { PowernodeError } from '@powernode/contracts';
import { parseAuthChallenge, type AuthChallenge } from './auth-challenge.js';
import { isRedirect, MAX_REDIRECTS, mayReceiveCredentials, redirectStep, type HopCheck } from './registry-hops.js';

/** Credentials for a registry: a user and password (basic, or exchanged for bearer tokens) or a ready bearer token. */
export type RegistryAuth = { username: string; password: string } | { token: string };

/** HTTP methods the distribution API uses. */
export type RegistryMethod = 'GET' | 'HEAD' | 'POST' | 'PUT' | 'PATCH' | 'DELETE';

/** Settings of a transport; `OciClient` fills in the defaults. */
export interface RegistryTransportOptions {
  /** `http://host:port` or `https://host`. */
  baseUrl: string;
  auth?: RegistryAuth;
  /** Extra attempts after the first on 5xx, 429 and connection errors. */
  retries: number;
  /** First backoff delay; doubles on each attempt, with jitter. */
  retryDelayMs: number;
  maxRetryDelayMs: number;
  /** Time allowed until response headers arrive (bodies may stream for longer). */
  requestTimeoutMs: number;
  fetch: typeof fetch;
  userAgent: string;
  /**
   * Called before a request goes anywhere but `baseUrl`'s origin (a redirect, a token service, an upload
   * location on another host); throws to refuse. Without it, any http(s) host is followed, except that https
   * never steps down to http.
   */
  checkHop?: HopCheck;
}

/** One call of the distribution API. */
export interface RegistryRequest {
  method: RegistryMethod;
  /** A path starting with `/v2/`, or an absolute URL (upload locations the registry handed out). */
  url: string;
  headers?: Record<string, string>;
  body?: Uint8Array;
  /** Token scopes the call needs, e.g. `repository:owner/repo:pull`. */
  scopes: readonly string[];
  /** Statuses the caller handles itself; any other status becomes an error. */
  accept: readonly number[];
  /** What the call is for, as error messages say it: `pull manifest owner/repo:v1`. */
  what: string;
  /** False for calls that must not be repeated blindly (an upload chunk). */
  retry?: boolean;
}

/** An error body in the distribution format. */
export interface RegistryErrorEntry {
  code?: string;
  message?: string;
  detail?: unknown;
}

/** A failure worth another attempt: a connection problem or a retryable status. */
class TransientFailure extends Error {
  constructor(
    message: string,
    readonly status: number | undefined,
    readonly retryAfterMs: number | undefined,
    options?: { cause?: unknown },
  ) {
    super(message, options);
  }
}

const RETRYABLE_STATUSES = new Set([429, 500, 502, 503, 504]);
const TOKEN_REFRESH_MARGIN_MS = 10_000;
const MAX_ERROR_BODY = 64 * 1024;

/** A distribution error code as the spec spells them (`MANIFEST_UNKNOWN`); anything else a registry says is not repeated. */
const DISTRIBUTION_ERROR_CODE = /^[A-Z][A-Z0-9_]{0,63}$/;

/**
 * The distribution error codes of an error body, and nothing else of it. A registry's free text (and whatever
 * a proxy or an internal service answers in its place) never reaches messages, details or stored reasons:
 * it may hold anything, secrets included.
 */
export function registryErrorCodes(errors: readonly RegistryErrorEntry[]): string[] {
  const codes = errors.map((entry) => entry?.code).filter((code): code is string => typeof code === 'string' && DISTRIBUTION_ERROR_CODE.test(code));
  return [...new Set(codes)].slice(0, 5);
}

/** Reads at most 64 KiB of an error body and extracts distribution's `{errors:[…]}` when present. */
export async function readRegistryErrorBody(response: Response): Promise<{ text: string; errors: RegistryErrorEntry[] }> {
  let text = '';
  try {
    text = (await response.text()).slice(0, MAX_ERROR_BODY);
  } catch {
    // the body is only used for the message
  }
  let errors: RegistryErrorEntry[] = [];
  try {
    const parsed = JSON.parse(text) as { errors?: unknown };
    if (Array.isArray(parsed.errors)) errors = parsed.errors as RegistryErrorEntry[];
  } catch {
    // not JSON (a proxy's HTML page, say)
  }
  return { text, errors };
}

function describeNetworkError(error: unknown): string {
  // Duck-typed: fetch errors may come from another realm (test VMs), where instanceof Error is false.
  const messageOf = (value: unknown): string | undefined =>
    typeof value === 'object' && value !== null && typeof (value as Error).message === 'string' ? (value as Error).message : undefined;
  const message = messageOf(error) ?? String(error);
  const cause = typeof error === 'object' && error !== null ? (error as { cause?: unknown }).cause : undefined;
  const code = (cause as NodeJS.ErrnoException | undefined)?.code ?? messageOf(cause);
  return code === undefined ? message : `${message} (${code})`;
}

function retryAfterMs(response: Response): number | undefined {
  const header = response.headers.get('retry-after');
  if (header === null) return undefined;
  const seconds = Number(header);
  if (Number.isFinite(seconds)) return Math.max(0, seconds * 1000);
  const date = Date.parse(header);
  return Number.isNaN(date) ? undefined : Math.max(0, date - Date.now());
}

/**
 * HTTP to one registry: authentication (basic, or bearer tokens from the registry's token service, cached
 * per scope), retries with exponential backoff on 5xx/429/connection errors, and the mapping of failures to
 * PowernodeError codes.
 */
export class RegistryTransport {
  private basicPreferred = false;
  private bearerChallenge: Extract<AuthChallenge, { scheme: 'bearer' }> | undefined;
  private readonly tokens = new Map<string, { token: string; expiresAt: number }>();

  constructor(readonly options: RegistryTransportOptions) {}

  /** Sends the request (with retries and auth) and returns the response once its status is one the caller accepts. */
  async request(request: RegistryRequest): Promise<Response> {
    const attempts = request.retry === false ? 1 : this.options.retries + 1;
    let lastFailure: TransientFailure | undefined;
    for (let attempt = 0; attempt < attempts; attempt++) {
      if (attempt > 0) await this.backoff(attempt, lastFailure?.retryAfterMs);
      let response: Response;
      try {
        response = await this.sendAuthenticated(request);
      } catch (error) {
        if (error instanceof PowernodeError) throw error;
        lastFailure = error instanceof TransientFailure ? error : new TransientFailure(describeNetworkError(error), undefined, undefined, { cause: error });
        continue;
      }
      if (request.accept.includes(response.status)) return response;
      if (RETRYABLE_STATUSES.has(response.status) && attempt + 1 < attempts) {
        lastFailure = new TransientFailure(`status ${response.status}`, response.status, retryAfterMs(response));
        await response.body?.cancel().catch(() => undefined);
        continue;
      }
      throw await this.statusError(request, response, attempt + 1);
    }
    if (lastFailure?.status !== undefined) {
      throw new PowernodeError(
        'registry_error',
        `${request.what}: ${this.options.baseUrl} kept failing (${lastFailure.message}) after ${attempts} attempts; retry later`,
        {
          details: { status: lastFailure.status, attempts },
        },
      );
    }
    throw new PowernodeError(
      'registry_unreachable',
      `${request.what}: registry ${this.options.baseUrl} unreachable after ${attempts} attempt${attempts === 1 ? '' : 's'}: ${lastFailure?.message ?? 'no answer'}; check the registry address and that it is running`,
      { cause: lastFailure?.cause ?? lastFailure, details: { registry: this.options.baseUrl, attempts } },
    );
  }

  /** Turns a response with an unexpected status into the PowernodeError a caller can act on (consumes the body). */
  async statusError(request: RegistryRequest, response: Response, attempts = 1): Promise<PowernodeError> {
    const { errors } = await readRegistryErrorBody(response);
    const status = response.status;
    const codes = registryErrorCodes(errors);
    const details = { status, url: new URL(request.url, this.options.baseUrl).pathname, registry_codes: codes, attempts };
    const base = `${request.what}: registry answered ${status}${codes.length === 0 ? '' : ` (${codes.join(', ')})`}`;
    switch (status) {
      case 401:
        return new PowernodeError('unauthenticated', `${base}; check the registry credentials`, { details });
      case 403:
        return new PowernodeError('forbidden', `${base}; the credentials lack permission for this repository`, { details });
      case 404:
        return new PowernodeError('not_found', `${base}; check the repository name, tag or digest`, { details });
      case 429:
        return new PowernodeError('rate_limited', `${base}; retry later`, { details });
      default:
        return new PowernodeError('registry_error', status >= 500 ? `${base} after ${attempts} attempts; retry later` : base, {
          details,
          retryable: status >= 500,
        });
    }
  }

  /** Absolute URL for a registry path or an upload location (which may be relative). */
  resolve(url: string): URL {
    return new URL(url, this.options.baseUrl);
  }

  private async sendAuthenticated(request: RegistryRequest): Promise<Response> {
    const authorization = await this.authorizationFor(request.scopes);
    const response = await this.send(request, authorization);
    if (response.status !== 401) return response;

    const challenge = parseAuthChallenge(response.headers.get('www-authenticate'));
    const unauthenticated = async (why: string, rejected: Response): Promise<never> => {
      const { errors } = await readRegistryErrorBody(rejected);
      throw new PowernodeError('unauthenticated', `${request.what}: ${why}`, {
        details: { registry: this.options.baseUrl, challenge: challenge.scheme, registry_codes: registryErrorCodes(errors) },
      });
    };
    const auth = this.options.auth;
    switch (challenge.scheme) {
      case 'bearer': {
        if (auth !== undefined && 'token' in auth) return unauthenticated('the registry rejected the bearer token; provide a valid token', response);
        await response.body?.cancel().catch(() => undefined);
        // Remembered without its scope: later calls ask for their own scopes up front.
        this.bearerChallenge = { scheme: 'bearer', realm: challenge.realm, ...(challenge.service === undefined ? {} : { service: challenge.service }) };
        const token = await this.fetchToken(challenge, request.scopes, request.what);
        const retried = await this.send(request, `Bearer ${token}`);
        if (retried.status === 401)
          return unauthenticated('the registry rejected the token its own token service issued; check the credentials have access to this repository', retried);
        return retried;
      }
      case 'basic': {
        if (auth === undefined || !('username' in auth)) return unauthenticated('the registry requires a username and password', response);
        if (authorization?.startsWith('Basic ')) return unauthenticated('the registry rejected the username or password', response);
        await response.body?.cancel().catch(() => undefined);
        this.basicPreferred = true;
        const retried = await this.send(request, this.basicAuthorization());
        if (retried.status === 401) return unauthenticated('the registry rejected the username or password', retried);
        return retried;
      }
      case 'unknown': {
        const scheme = /^\s*([A-Za-z][A-Za-z0-9-]{0,31})/.exec(challenge.raw)?.[1];
        return unauthenticated(`the registry demands an authentication scheme we do not speak (${scheme ?? 'no WWW-Authenticate header'})`, response);
      }
    }
  }

  private basicAuthorization(): string {
    const auth = this.options.auth as { username: string; password: string };
    return `Basic ${Buffer.from(`${auth.username}:${auth.password}`).toString('base64')}`;
  }

  private async authorizationFor(scopes: readonly string[]): Promise<string | undefined> {
    const auth = this.options.auth;
    if (auth !== undefined && 'token' in auth) return `Bearer ${auth.token}`;
    const cached = this.tokens.get(scopeKey(scopes));
    if (cached !== undefined && cached.expiresAt > Date.now()) return `Bearer ${cached.token}`;
    // Once the registry has shown its token service, ask it up front instead of collecting a 401 per scope.
    if (this.bearerChallenge !== undefined) return `Bearer ${await this.fetchToken(this.bearerChallenge, scopes, 'token request')}`;
    if (this.basicPreferred && auth !== undefined) return this.basicAuthorization();
    return undefined;
  }

  private async fetchToken(challenge: Extract<AuthChallenge, { scheme: 'bearer' }>, scopes: readonly string[], what: string): Promise<string> {
    const url = this.realmUrl(challenge.realm, what);
    if (challenge.service !== undefined) url.searchParams.set('service', challenge.service);
    const wanted = new Set([...(challenge.scope?.split(' ') ?? []), ...scopes].filter((scope) => scope !== ''));
    for (const scope of wanted) url.searchParams.append('scope', scope);
    const headers: Record<string, string> = { 'user-agent': this.options.userAgent, accept: 'application/json' };
    // The realm is whatever the registry's challenge names: the password only goes to the registry's own host, over https.
    if (this.options.auth !== undefined && 'username' in this.options.auth && mayReceiveCredentials(url, this.resolve('/')))
      headers['authorization'] = this.basicAuthorization();

    const response = await this.fetchFollowing(url, { method: 'GET', headers }, what);
    const realm = `${url.origin}${url.pathname}`;
    if (response.status === 401 || response.status === 403) {
      await response.body?.cancel().catch(() => undefined);
      const sent = headers['authorization'] !== undefined;
      throw new PowernodeError(
        'unauthenticated',
        sent
          ? `${what}: the token service ${realm} refused the credentials (${response.status}); check the username and password`
          : `${what}: the token service ${realm} refused an anonymous request (${response.status}); credentials are only sent to a token service on the registry's own host over https (or loopback)`,
        { details: { realm, status: response.status, credentials_sent: sent } },
      );
    }
    if (RETRYABLE_STATUSES.has(response.status)) {
      await response.body?.cancel().catch(() => undefined);
      throw new TransientFailure(`token service answered ${response.status}`, response.status, retryAfterMs(response));
    }
    if (!response.ok) {
      await response.body?.cancel().catch(() => undefined);
      throw new PowernodeError('registry_error', `${what}: the token service ${realm} answered ${response.status}`, {
        retryable: false,
        details: { realm, status: response.status },
      });
    }
    let body: { token?: unknown; access_token?: unknown; expires_in?: unknown };
    try {
      body = (await response.json()) as typeof body;
    } catch (cause) {
      throw new PowernodeError('registry_error', `${what}: the token service answered with something that is not JSON`, { cause, retryable: false });
    }
    const token = typeof body.token === 'string' ? body.token : typeof body.access_token === 'string' ? body.access_token : undefined;
    if (token === undefined || token === '') {
      throw new PowernodeError('registry_error', `${what}: the token service answered without a token`, { retryable: false });
    }
    const lifetimeMs = (typeof body.expires_in === 'number' && body.expires_in > 0 ? body.expires_in : 60) * 1000;
    this.tokens.set(scopeKey(scopes), { token, expiresAt: Date.now() + Math.max(lifetimeMs - TOKEN_REFRESH_MARGIN_MS, lifetimeMs / 2) });
    return token;
  }

  /** The token service a challenge names, checked before anything is sent to it. */
  private realmUrl(realm: string, what: string): URL {
    let url: URL;
    try {
      url = new URL(realm);
    } catch (cause) {
      throw new PowernodeError('registry_error', `${what}: the registry names a token service that is not a URL`, { cause, retryable: false });
    }
    if (url.protocol !== 'https:' && url.protocol !== 'http:') {
      throw new PowernodeError('registry_not_allowed', `${what}: the registry names a token service over ${url.protocol}; only http(s) is used`, {
        details: { realm: url.protocol },
      });
    }
    if (url.origin !== this.resolve('/').origin) this.options.checkHop?.(url, 'token realm');
    return url;
  }

  private async send(request: RegistryRequest, authorization: string | undefined): Promise<Response> {
    const url = this.resolve(request.url);
    const headers: Record<string, string> = { 'user-agent': this.options.userAgent, ...request.headers };
    // An upload location on another host is the registry's choice too: checked, and without our credentials.
    const foreign = url.origin !== this.resolve('/').origin;
    if (foreign) this.options.checkHop?.(url, 'upload location');
    if (authorization !== undefined && !foreign) headers['authorization'] = authorization;
    return this.fetchFollowing(url, { method: request.method, headers, ...(request.body === undefined ? {} : { body: request.body }) }, request.what);
  }

  /**
   * One request, following at most MAX_REDIRECTS redirects by hand: each hop is checked (`checkHop`, no step
   * down from https to http) before it is sent, and credentials do not follow to another origin.
   */
  private async fetchFollowing(url: URL, init: { method: string; headers: Record<string, string>; body?: Uint8Array }, what: string): Promise<Response> {
    let current = url;
    let { method, headers, body } = init;
    for (let redirects = 0; ; redirects++) {
      const response = await this.fetchWithTimeout(current.toString(), { method, headers, ...(body === undefined ? {} : { body }), redirect: 'manual' });
      if (!isRedirect(response.status)) return response;
      await response.body?.cancel().catch(() => undefined);
      if (redirects >= MAX_REDIRECTS) {
        throw new PowernodeError('registry_error', `${what}: more than ${MAX_REDIRECTS} redirects; check the registry's configuration`, {
          retryable: false,
          details: { registry: this.options.baseUrl, redirects },
        });
      }
      const step = redirectStep(current, response.status, response.headers.get('location'), { method, body }, what);
      this.options.checkHop?.(step.url, 'redirect');
      if (!step.sameOrigin) headers = withoutCredentials(headers);
      if (step.body === undefined && body !== undefined) headers = withoutBodyHeaders(headers);
      ({ url: current, method, body } = step);
    }
  }

  private async fetchWithTimeout(url: string, init: RequestInit): Promise<Response> {
    const controller = new AbortController();
    const timer = setTimeout(() => controller.abort(new Error(`no response within ${this.options.requestTimeoutMs} ms`)), this.options.requestTimeoutMs);
    try {
      return await this.options.fetch(url, { ...init, signal: controller.signal });
    } finally {
      // Only the wait for headers is bounded; a large blob body may stream for longer.
      clearTimeout(timer);
    }
  }

  /** Waits before attempt number `attempt` (1 = first retry): exponential, jittered, capped, at least Retry-After. */
  async backoff(attempt: number, retryAfter?: number): Promise<void> {
    const exponential = Math.min(this.options.maxRetryDelayMs, this.options.retryDelayMs * 2 ** (attempt - 1));
    const jittered = exponential * (0.5 + Math.random() * 0.5);
    const delay = Math.min(this.options.maxRetryDelayMs, Math.max(jittered, retryAfter ?? 0));
    await new Promise((resolve) => setTimeout(resolve, delay));
  }
}

function withoutCredentials(headers: Record<string, string>): Record<string, string> {
  return Object.fromEntries(Object.entries(headers).filter(([name]) => !['authorization', 'cookie', 'proxy-authorization'].includes(name.toLowerCase())));
}

function withoutBodyHeaders(headers: Record<string, string>): Record<string, string> {
  return Object.fromEntries(Object.entries(headers).filter(([name]) => !['content-type', 'content-length'].includes(name.toLowerCase())));
}

function scopeKey(scopes: readonly string[]): string {
  return [...scopes].sort().join(' ');
}
