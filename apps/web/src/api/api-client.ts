import type { Problem } from './api-types.js';

/** An answer that was not 2xx, with its problem details. */
export class ApiError extends Error {
  constructor(readonly problem: Problem) {
    super(problem.detail);
  }
  get status(): number {
    return this.problem.status;
  }
  get code(): string {
    return this.problem.code;
  }
}

export const API_BASE = '/api/v1/system';

/**
 * Calls the REST API with the bearer token. A 401 calls `onUnauthorized` (the app returns to sign-in) and
 * still rejects, so no caller carries on as if it had an answer.
 */
export class ApiClient {
  constructor(
    private readonly token: () => string | null,
    private readonly onUnauthorized: () => void,
  ) {}

  async request<T>(method: string, route: string, body?: unknown): Promise<T> {
    const token = this.token();
    const res = await fetch(`${API_BASE}${route}`, {
      method,
      headers: {
        accept: 'application/json',
        ...(token ? { authorization: `Bearer ${token}` } : {}),
        ...(body === undefined ? {} : { 'content-type': 'application/json' }),
      },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    const text = await res.text();
    const parsed = text ? safeJson(text) : null;
    if (res.ok) return parsed as T;
    if (res.status === 401) this.onUnauthorized();
    const problem =
      parsed && typeof parsed === 'object' && 'code' in parsed
        ? (parsed as Problem)
        : { type: 'about:blank', title: res.statusText, status: res.status, detail: text.slice(0, 500) || res.statusText, code: 'http_error' };
    throw new ApiError(problem);
  }

  get<T>(route: string, query: Record<string, string | number | undefined> = {}): Promise<T> {
    const params = new URLSearchParams();
    for (const [k, v] of Object.entries(query)) if (v !== undefined && v !== '') params.set(k, String(v));
    const qs = params.toString();
    return this.request<T>('GET', qs ? `${route}?${qs}` : route);
  }
}

function safeJson(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return null;
  }
}

/** Path segment encoding for names and ids put into routes. */
export const seg = (value: string): string => encodeURIComponent(value);
