import { execFile } from 'node:child_process';
import { createPrivateKey, randomBytes, sign, timingSafeEqual, X509Certificate, type KeyObject } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import { promisify } from 'node:util';

const execFileAsync = promisify(execFile);

/** One call the token service answered. */
export interface TokenRequestRecord {
  scopes: string[];
  /** True when the caller presented the right basic credentials. */
  authenticated: boolean;
  /** HTTP status the service answered with. */
  status: number;
}

/**
 * A Docker token service (the `auth.token` protocol of CNCF distribution): issues ES256 JWTs carrying the
 * certificate in `x5c`, so a registry configured with that certificate as its root bundle trusts them.
 * Anonymous callers get tokens without access; authenticated callers get every action they ask for.
 */
export interface RegistryTokenService {
  realm: string;
  service: string;
  issuer: string;
  /** PEM certificate the registry must trust (`rootcertbundle`). */
  certificatePath: string;
  credentials: { username: string; password: string };
  requests: TokenRequestRecord[];
  stop(): Promise<void>;
}

function base64url(value: Buffer | string): string {
  return Buffer.from(value).toString('base64url');
}

function jwt(claims: Record<string, unknown>, key: KeyObject, certificateDer: Buffer): string {
  const header = base64url(JSON.stringify({ typ: 'JWT', alg: 'ES256', x5c: [certificateDer.toString('base64')] }));
  const payload = base64url(JSON.stringify(claims));
  const signature = sign('sha256', Buffer.from(`${header}.${payload}`), { key, dsaEncoding: 'ieee-p1363' });
  return `${header}.${payload}.${base64url(signature)}`;
}

/** `repository:owner/repo:pull,push` → the access claim distribution checks. */
function accessOf(scope: string): { type: string; name: string; actions: string[] } | undefined {
  const lastColon = scope.lastIndexOf(':');
  const firstColon = scope.indexOf(':');
  if (firstColon < 0 || lastColon <= firstColon) return undefined;
  return { type: scope.slice(0, firstColon), name: scope.slice(firstColon + 1, lastColon), actions: scope.slice(lastColon + 1).split(',') };
}

function safeEqual(a: string, b: string): boolean {
  const left = Buffer.from(a);
  const right = Buffer.from(b);
  return left.length === right.length && timingSafeEqual(left, right);
}

/** Starts the token service on a free loopback port; its key and certificate are created in `workDir`. */
export async function startRegistryTokenService(workDir: string): Promise<RegistryTokenService> {
  const keyPath = path.join(workDir, 'token-key.pem');
  const certificatePath = path.join(workDir, 'token-cert.pem');
  try {
    await execFileAsync('openssl', [
      'req',
      '-x509',
      '-newkey',
      'ec',
      '-pkeyopt',
      'ec_paramgen_curve:prime256v1',
      '-nodes',
      '-keyout',
      keyPath,
      '-out',
      certificatePath,
      '-days',
      '2',
      '-subj',
      '/CN=powernode-test-token-issuer',
    ]);
  } catch (cause) {
    throw new Error('openssl is needed to create the token service certificate', { cause });
  }
  const key = createPrivateKey(await readFile(keyPath));
  const certificateDer = new X509Certificate(await readFile(certificatePath)).raw;
  const service = 'powernode-test-registry';
  const issuer = 'powernode-test-token-issuer';
  const credentials = { username: `user-${randomBytes(3).toString('hex')}`, password: randomBytes(12).toString('base64url') };
  const requests: TokenRequestRecord[] = [];

  const server: Server = createServer((req, res) => {
    const url = new URL(req.url ?? '/', 'http://token');
    const scopes = url.searchParams
      .getAll('scope')
      .flatMap((scope) => scope.split(' '))
      .filter((scope) => scope !== '');
    const header = req.headers.authorization ?? '';
    let authenticated = false;
    if (header.startsWith('Basic ')) {
      const decoded = Buffer.from(header.slice(6), 'base64').toString('utf8');
      const colon = decoded.indexOf(':');
      authenticated = safeEqual(decoded.slice(0, colon), credentials.username) && safeEqual(decoded.slice(colon + 1), credentials.password);
      if (!authenticated) {
        requests.push({ scopes, authenticated, status: 401 });
        res.writeHead(401, { 'content-type': 'application/json' }).end(JSON.stringify({ details: 'wrong username or password' }));
        return;
      }
    }
    const now = Math.floor(Date.now() / 1000);
    const access = authenticated ? scopes.map(accessOf).filter((entry) => entry !== undefined) : [];
    const token = jwt(
      {
        iss: issuer,
        sub: authenticated ? credentials.username : '',
        aud: service,
        iat: now,
        nbf: now - 5,
        exp: now + 300,
        jti: randomBytes(8).toString('hex'),
        access,
      },
      key,
      certificateDer,
    );
    requests.push({ scopes, authenticated, status: 200 });
    res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ token, access_token: token, expires_in: 300 }));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    realm: `http://127.0.0.1:${port}/token`,
    service,
    issuer,
    certificatePath,
    credentials,
    requests,
    stop: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
