import { API_OPERATIONS, type ApiInputs, type ApiOperationId } from './api-operations.generated.js';
import type { ApiResults, Problem } from './api-types.js';

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

  /**
   * Calls an operation by its operationId with its typed input (from the OpenAPI document): path parameters
   * go into the path, the rest into the query (GET, DELETE) or the JSON body.
   */
  call<K extends ApiOperationId>(operation: K, input: ApiInputs[K]): Promise<K extends keyof ApiResults ? ApiResults[K] : unknown> {
    const { method, path, path_params } = API_OPERATIONS[operation];
    const rest: Record<string, unknown> = { ...(input as Record<string, unknown>) };
    let route: string = path;
    for (const name of path_params) {
      route = route.replace(`{${name}}`, seg(String(rest[name])));
      delete rest[name];
    }
    if (method === 'GET' || method === 'DELETE') {
      const query = Object.fromEntries(Object.entries(rest).map(([k, v]) => [k, v === undefined ? undefined : String(v)]));
      const params = new URLSearchParams(Object.entries(query).filter((e): e is [string, string] => e[1] !== undefined && e[1] !== ''));
      const qs = params.toString();
      return this.request(method, qs ? `${route}?${qs}` : route);
    }
    return this.request(method, route, rest);
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
