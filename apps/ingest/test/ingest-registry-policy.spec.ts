import { randomUUID } from 'node:crypto';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { ModuleVersionRejectedData } from '@powernode/contracts';
import type { EventEnvelope } from '@powernode/events';
import { OCI_MANIFEST_MEDIA_TYPE } from '@powernode/oci';
import { parseConfig, type Logger } from '@powernode/runtime';
import type { SigstoreTrust } from '@powernode/sigstore';
import type { CatalogCommands, ModuleTrustPolicy } from '../src/catalog-commands.js';
import { allowedRegistries, ingestConfigShape } from '../src/ingest-config.js';
import { ModuleBuildIngest } from '../src/module-build-ingest.js';
import { RegistryClients } from '../src/registry-clients.js';

/*
 * Which hosts a build report can make ingest talk to (server-side request forgery), and what of a registry's
 * answer ends up in a stored rejection: the real ingest handler and registry clients, scripted registries on
 * loopback, and a catalog that only records what it is handed.
 */

interface ScriptedServer {
  host: string;
  port: number;
  seen: string[];
  stop(): Promise<void>;
}

const servers: ScriptedServer[] = [];

async function serve(answer: (req: IncomingMessage, res: ServerResponse) => void): Promise<ScriptedServer> {
  const seen: string[] = [];
  const server: Server = createServer((req, res) => {
    seen.push(`${req.method} ${req.url}`);
    answer(req, res);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as AddressInfo).port;
  const started = { host: `127.0.0.1:${port}`, port, seen, stop: () => new Promise<void>((resolve) => server.close(() => resolve())) };
  servers.push(started);
  return started;
}

afterEach(async () => {
  await Promise.all(servers.splice(0).map((s) => s.stop()));
});

const MODULE_ID = '01900000-0000-7000-8000-000000000001';
const DIGEST = `sha256:${'a'.repeat(64)}`;
const SECRET = 'AKIAIOSFODNN7EXAMPLE aws_secret_access_key=wJalrXUtnFEMI';

const silent = { info: () => undefined, warn: () => undefined, error: () => undefined, debug: () => undefined } as unknown as Logger;

/**
 * Runs ingest's handler on one build report, with `OCI_REGISTRY` (and any further settings) as given, and
 * returns what it asked the catalog to record as rejected.
 */
async function ingestReport(env: Record<string, string>, artifact_ref: string): Promise<ModuleVersionRejectedData[]> {
  const config = parseConfig(ingestConfigShape, env);
  const rejections: ModuleVersionRejectedData[] = [];
  const catalog = {
    trustPolicy: async () => ({ module_id: MODULE_ID, module_name: 'demo', gitea_repo_full_name: 'acme/demo' }) as unknown as ModuleTrustPolicy,
    recordRejection: async (data: ModuleVersionRejectedData) => {
      rejections.push(data);
      return { version: {} };
    },
    recordBuild: async () => {
      throw new Error('nothing here may be recorded as built');
    },
  } as unknown as CatalogCommands;
  const registries = new RegistryClients({
    defaultRegistry: config.OCI_REGISTRY,
    insecure: config.OCI_INSECURE_REGISTRIES,
    allowed: allowedRegistries(config),
    retries: 0,
  });
  const ingest = new ModuleBuildIngest({
    catalog,
    registries,
    trust: {} as SigstoreTrust,
    defaultRegistry: config.OCI_REGISTRY,
    maxDeliver: 1,
    logger: silent,
  });
  const event = {
    id: randomUUID(),
    correlation_id: randomUUID(),
    type: 'ModuleBuildReported',
    data: { module_id: MODULE_ID, module_name: 'demo', tag: 'v1.0.0', artifact_ref, delivery_id: randomUUID(), repository_full_name: 'acme/demo' },
  } as unknown as EventEnvelope;
  await ingest.handleBuildReported(event, { attempt: 1, subject: 'powernode.events.module.ModuleBuildReported', stream_sequence: 1 });
  return rejections;
}

/** A registry that knows the tag (HEAD) and answers everything else with `answer`. */
const registryWith = (answer: (req: IncomingMessage, res: ServerResponse) => void) =>
  serve((req, res) => {
    if (req.method === 'HEAD' && req.url === '/v2/acme/demo/manifests/v1.0.0') {
      return void res.writeHead(200, { 'docker-content-digest': DIGEST, 'content-type': OCI_MANIFEST_MEDIA_TYPE, 'content-length': '100' }).end();
    }
    answer(req, res);
  });

describe('the registries ingest may contact', () => {
  it('are OCI_REGISTRY alone unless INGEST_ALLOWED_REGISTRIES says otherwise', () => {
    expect(allowedRegistries(parseConfig(ingestConfigShape, { OCI_REGISTRY: 'registry.example.com' }))).toEqual(['registry.example.com']);
    expect(
      allowedRegistries(parseConfig(ingestConfigShape, { OCI_REGISTRY: 'registry.example.com', INGEST_ALLOWED_REGISTRIES: 'a.example, b.example:5000' })),
    ).toEqual(['a.example', 'b.example:5000']);
  });

  it('a report naming another host, even on loopback, is rejected without a request to it', async () => {
    const registry = await registryWith((_req, res) => res.writeHead(404).end());
    const internal = await serve((_req, res) => res.writeHead(200).end('{}'));

    const [rejection] = await ingestReport({ OCI_REGISTRY: registry.host }, `${internal.host}/acme/demo:v1.0.0`);
    expect(rejection).toMatchObject({
      reason_code: 'registry_unreachable',
      reason: expect.stringContaining(`registry ${internal.host} is not one ingest may pull from`),
    });
    expect(internal.seen).toEqual([]);
    expect(registry.seen).toEqual([]);
  });

  it('a redirect from the allowed registry to another host is not followed: rejected, and that host sees nothing', async () => {
    const internal = await serve((_req, res) => res.writeHead(200).end('{}'));
    const registry = await registryWith((_req, res) => res.writeHead(307, { location: `http://localhost:${internal.port}/computeMetadata/v1/` }).end());

    const [rejection] = await ingestReport({ OCI_REGISTRY: registry.host }, `${registry.host}/acme/demo:v1.0.0`);
    expect(rejection).toMatchObject({
      reason_code: 'registry_unreachable',
      reason: expect.stringMatching(new RegExp(`localhost:${internal.port} \\(redirect\\), which is not allowed`)),
    });
    expect(internal.seen).toEqual([]);
  });

  it('a token service on a host that is not allowed is never asked', async () => {
    const tokens = await serve((_req, res) => res.writeHead(200, { 'content-type': 'application/json' }).end('{"token":"t"}'));
    const registry = await registryWith((_req, res) =>
      res.writeHead(401, { 'www-authenticate': `Bearer realm="http://localhost:${tokens.port}/token"` }).end(),
    );

    const [rejection] = await ingestReport({ OCI_REGISTRY: registry.host }, `${registry.host}/acme/demo:v1.0.0`);
    expect(rejection).toMatchObject({ reason_code: 'registry_unreachable', reason: expect.stringContaining('(token realm), which is not allowed') });
    expect(tokens.seen).toEqual([]);
  });
});

describe('what of a registry answer is stored in a rejection', () => {
  it.each([
    [
      'a distribution error body',
      { 'content-type': 'application/json' },
      JSON.stringify({ errors: [{ code: 'MANIFEST_INVALID', message: SECRET, detail: { leaked: SECRET } }] }),
      /registry answered 400 \(MANIFEST_INVALID\)/,
    ],
    ['an HTML page', { 'content-type': 'text/html' }, `<html><body>${SECRET}</body></html>`, /registry answered 400$/],
  ])('%s: its status and error codes, never its text', async (_what, headers, body, expected) => {
    const registry = await registryWith((_req, res) => res.writeHead(400, headers).end(body));

    const rejections = await ingestReport({ OCI_REGISTRY: registry.host }, `${registry.host}/acme/demo:v1.0.0`);
    expect(rejections).toHaveLength(1);
    expect(rejections[0]!.reason).toMatch(expected);
    expect(JSON.stringify(rejections)).not.toMatch(/AKIA|wJalr|aws_secret/);
  });
});
