// A stand-in for Fulcio and a Sigstore timestamp authority, speaking their HTTP APIs on loopback and
// issuing from a DevSigstore. Only for tests: the public Fulcio cannot be reached from here, and it
// trusts identity tokens without checking who signed them.
import { createPublicKey, verify, X509Certificate } from 'node:crypto';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { DevSigstore } from './dev-sigstore.js';

export interface FakeSigstoreServer {
  url: string;
  /** Paths requested, in order. */
  requests: string[];
  close(): Promise<void>;
}

/** Builds an unsigned JWT carrying the given claims (the fake Fulcio does not check token signatures). */
export function unsignedIdentityToken(claims: Record<string, unknown>): string {
  const part = (value: unknown): string => Buffer.from(JSON.stringify(value)).toString('base64url');
  return `${part({ alg: 'none', typ: 'JWT' })}.${part(claims)}.`;
}

async function body(req: IncomingMessage): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const chunk of req) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks).toString('utf8');
}

function reply(res: ServerResponse, status: number, payload: unknown, contentType = 'application/json'): void {
  res.writeHead(status, { 'content-type': contentType });
  res.end(Buffer.isBuffer(payload) || typeof payload === 'string' ? payload : JSON.stringify(payload));
}

function signingCert(dev: DevSigstore, request: Record<string, any>): { status: number; payload: unknown } {
  const token = String(request.credentials?.oidcIdentityToken ?? '');
  let claims: Record<string, unknown>;
  try {
    claims = JSON.parse(Buffer.from(token.split('.')[1] ?? '', 'base64url').toString('utf8')) as Record<string, unknown>;
  } catch {
    return { status: 401, payload: { code: 16, message: 'invalid identity token' } };
  }
  const subject = typeof claims.email === 'string' && claims.email_verified === true ? claims.email : claims.sub;
  if (typeof claims.iss !== 'string' || typeof subject !== 'string') return { status: 401, payload: { code: 16, message: 'token has no issuer or subject' } };
  const publicKey = createPublicKey(String(request.publicKeyRequest?.publicKey?.content ?? ''));
  const proof = Buffer.from(String(request.publicKeyRequest?.proofOfPossession ?? ''), 'base64');
  if (!verify('sha256', Buffer.from(subject), publicKey, proof)) return { status: 400, payload: { code: 3, message: 'proof of possession failed' } };
  const leaf = dev.issueSigningCertificate({ publicKey, identity: subject, issuer: claims.iss });
  const pems = [leaf, dev.caCertificate].map((der) => new X509Certificate(der).toString());
  return { status: 200, payload: { signedCertificateEmbeddedSct: { chain: { certificates: pems } } } };
}

/** A request handler for one extra path (e.g. @sigstore/mock's Rekor `createEntry`). */
export interface ExtraHandler {
  path: string;
  fn: (request: string) => Promise<{ statusCode: number; response: string | ArrayBufferView; contentType?: string }>;
}

/**
 * Starts the fake Fulcio (`/api/v2/signingCert`) and TSA (`/api/v1/timestamp`) on 127.0.0.1, plus any
 * extra handlers.
 */
export async function startFakeSigstore(dev: DevSigstore, extra: ExtraHandler[] = []): Promise<FakeSigstoreServer> {
  const requests: string[] = [];
  const server = createServer((req, res) => {
    requests.push(`${req.method} ${req.url}`);
    body(req)
      .then((text) => {
        const handler = extra.find((h) => req.method === 'POST' && req.url === h.path);
        if (handler !== undefined) {
          return handler
            .fn(text)
            .then((r) =>
              reply(
                res,
                r.statusCode,
                typeof r.response === 'string' ? r.response : Buffer.from(r.response.buffer, r.response.byteOffset, r.response.byteLength),
                r.contentType,
              ),
            );
        }
        const request = JSON.parse(text || '{}') as Record<string, any>;
        if (req.method === 'POST' && req.url === '/api/v2/signingCert') {
          const { status, payload } = signingCert(dev, request);
          return reply(res, status, payload);
        }
        if (req.method === 'POST' && req.url === '/api/v1/timestamp') {
          if (request.hashAlgorithm !== 'sha256') return reply(res, 400, { message: 'only sha256' });
          return reply(res, 201, dev.timestampDigest(Buffer.from(String(request.artifactHash), 'base64')), 'application/timestamp-reply');
        }
        return reply(res, 404, { message: 'not found' });
      })
      .catch((error: unknown) => reply(res, 400, { message: (error as Error).message }));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    requests,
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}
