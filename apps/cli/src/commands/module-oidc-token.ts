import { PowernodeError } from '@powernode/contracts';

/** The audience Fulcio expects in identity tokens. */
export const SIGSTORE_AUDIENCE = 'sigstore';

/** Where a CI job can ask for an OIDC identity token (GitHub Actions and Gitea Actions use the same protocol). */
export interface CiTokenEndpoint {
  url: string;
  bearer: string;
}

/** The CI token endpoint from `ACTIONS_ID_TOKEN_REQUEST_URL` and `ACTIONS_ID_TOKEN_REQUEST_TOKEN`, if both are set. */
export function ciTokenEndpoint(env: NodeJS.ProcessEnv): CiTokenEndpoint | undefined {
  const url = env['ACTIONS_ID_TOKEN_REQUEST_URL'];
  const bearer = env['ACTIONS_ID_TOKEN_REQUEST_TOKEN'];
  if (url === undefined || url === '' || bearer === undefined || bearer === '') return undefined;
  return { url, bearer };
}

/** The request URL with `audience=<audience>` added (the endpoint URL usually carries a query already). */
export function tokenRequestUrl(endpoint: string, audience: string): string {
  const url = new URL(endpoint);
  url.searchParams.set('audience', audience);
  return url.toString();
}

/**
 * Asks the CI job's token endpoint for an OIDC identity token with audience `sigstore`, as cosign does in
 * GitHub Actions: `GET <url>&audience=sigstore` with the request token as bearer, answer `{"value": <jwt>}`.
 * Needs `permissions: id-token: write` in the workflow.
 */
export async function fetchCiIdentityToken(endpoint: CiTokenEndpoint, options: { fetch?: typeof fetch; timeoutMs?: number } = {}): Promise<string> {
  const doFetch = options.fetch ?? fetch;
  let response: Response;
  try {
    response = await doFetch(tokenRequestUrl(endpoint.url, SIGSTORE_AUDIENCE), {
      headers: { authorization: `bearer ${endpoint.bearer}`, accept: 'application/json' },
      signal: AbortSignal.timeout(options.timeoutMs ?? 30_000),
    });
  } catch (cause) {
    throw new PowernodeError(
      'signing_failed',
      `cannot reach the CI identity token endpoint (ACTIONS_ID_TOKEN_REQUEST_URL): ${(cause as Error).message}; retry the job`,
      { cause },
    );
  }
  const text = await response.text();
  if (!response.ok) {
    throw new PowernodeError(
      'signing_failed',
      `the CI identity token endpoint answered ${response.status}: ${text.slice(0, 300)}; check that the workflow has "permissions: id-token: write"`,
      { retryable: response.status >= 500, details: { status: response.status } },
    );
  }
  let value: unknown;
  try {
    value = (JSON.parse(text) as { value?: unknown }).value;
  } catch (cause) {
    throw new PowernodeError('signing_failed', `the CI identity token endpoint answered something that is not JSON: ${text.slice(0, 100)}`, { cause });
  }
  if (typeof value !== 'string' || value.split('.').length !== 3) {
    throw new PowernodeError('signing_failed', 'the CI identity token endpoint answered without a JWT in "value"', { details: { status: response.status } });
  }
  return value;
}
