import { createServer, type IncomingHttpHeaders, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { MODULE_ANNOTATIONS } from '@powernode/artifact';
import { isPowernodeError, PowernodeError, type ModuleManifest } from '@powernode/contracts';
import { parseConfig } from '@powernode/runtime';
import { PUBLIC_GOOD_TRUSTED_ROOT_PATH } from '@powernode/sigstore';
import { htpasswdSkipReason, startRegistry } from '@powernode/testing';
import type { ImageManifest } from '@powernode/oci';
import { classifyArtifactFailure } from '../src/artifact-failure.js';
import { artifactReferenceFor } from '../src/artifact-reference.js';
import { ingestConfigShape } from '../src/ingest-config.js';
import { isLoopbackRegistry, RegistryClients } from '../src/registry-clients.js';
import { summarizeSbom } from '../src/sbom-summary.js';
import { loadIngestTrust } from '../src/trust-material.js';
import { assertArtifactMatchesReport, rejectedVersion, versionIdentityOf } from '../src/version-records.js';

const errorOf = (run: () => unknown): PowernodeError => {
  try {
    run();
  } catch (error) {
    if (isPowernodeError(error)) return error;
    throw error;
  }
  throw new Error('expected a PowernodeError');
};

describe('where a build report says the artifact is', () => {
  const report = { artifact_ref: '', repository_full_name: 'Acme/Modules/My-Redis', tag: 'v0.1.0' };

  it('uses the reported reference as given', () => {
    expect(artifactReferenceFor({ ...report, artifact_ref: 'registry.example.com/acme/my-redis:v0.1.0' }, '127.0.0.1:5000')).toEqual({
      registry: 'registry.example.com',
      repository: 'acme/my-redis',
      tag: 'v0.1.0',
    });
  });

  it('falls back to <OCI_REGISTRY>/<repository, lowercased>:<tag> when none was reported', () => {
    expect(artifactReferenceFor(report, '127.0.0.1:5000')).toEqual({ registry: '127.0.0.1:5000', repository: 'acme/modules/my-redis', tag: 'v0.1.0' });
  });

  it('adds the tag to a reference naming neither tag nor digest, and keeps a pinned digest', () => {
    expect(artifactReferenceFor({ ...report, artifact_ref: '127.0.0.1:5000/acme/x' }, '127.0.0.1:5000')).toMatchObject({ tag: 'v0.1.0' });
    const digest = `sha256:${'a'.repeat(64)}`;
    expect(artifactReferenceFor({ ...report, artifact_ref: `127.0.0.1:5000/acme/x@${digest}` }, '127.0.0.1:5000')).toEqual({
      registry: '127.0.0.1:5000',
      repository: 'acme/x',
      digest,
    });
  });

  it('refuses a reference that cannot be pulled with manifest_invalid', () => {
    expect(errorOf(() => artifactReferenceFor({ ...report, artifact_ref: '127.0.0.1:5000/Acme/UPPER:v1' }, '127.0.0.1:5000')).code).toBe('manifest_invalid');
    expect(errorOf(() => artifactReferenceFor({ ...report, artifact_ref: '127.0.0.1:5000/acme/x:bad tag' }, '127.0.0.1:5000')).code).toBe('manifest_invalid');
  });
});

describe('what an artifact failure means for the build', () => {
  it.each([
    ['digest_mismatch', true, { kind: 'reject', reason_code: 'digest_mismatch' }],
    ['fsverity_mismatch', false, { kind: 'reject', reason_code: 'fsverity_mismatch' }],
    ['manifest_invalid', false, { kind: 'reject', reason_code: 'manifest_invalid' }],
    ['validation_failed', false, { kind: 'reject', reason_code: 'manifest_invalid' }],
    ['payload_too_large', false, { kind: 'reject', reason_code: 'manifest_invalid' }],
    ['registry_error', false, { kind: 'reject', reason_code: 'manifest_invalid' }],
    ['registry_error', true, { kind: 'unavailable', final_code: 'registry_unreachable' }],
    ['registry_unreachable', true, { kind: 'unavailable', final_code: 'registry_unreachable' }],
    ['registry_not_allowed', false, { kind: 'reject', reason_code: 'registry_unreachable' }],
    ['rate_limited', true, { kind: 'unavailable', final_code: 'registry_unreachable' }],
    ['unauthenticated', false, { kind: 'unavailable', final_code: 'registry_unreachable' }],
    ['not_found', false, { kind: 'unavailable', final_code: 'manifest_invalid' }],
    ['store_unavailable', true, { kind: 'unexpected' }],
  ] as const)('%s (retryable %s) → %j', (code, retryable, expected) => {
    expect(classifyArtifactFailure(new PowernodeError(code, 'boom', { retryable }))).toMatchObject(expected);
  });

  it('leaves errors that are not PowernodeErrors to the consumer', () => {
    expect(classifyArtifactFailure(new Error('EIO'))).toEqual({ kind: 'unexpected' });
  });
});

describe('SBOM summary', () => {
  it('counts components, packages and files of a CycloneDX document', () => {
    const sbom = {
      bomFormat: 'CycloneDX',
      specVersion: '1.6',
      components: [{ type: 'library' }, { type: 'application' }, { type: 'file' }, { type: 'file' }, { type: 'file' }],
    };
    expect(summarizeSbom(sbom)).toEqual({ format: 'CycloneDX', spec_version: '1.6', component_count: 5, package_count: 2, file_count: 3 });
  });

  it('is null for anything that is not CycloneDX, and zero for a document without components', () => {
    expect(summarizeSbom({ spdxVersion: 'SPDX-2.3' })).toBeNull();
    expect(summarizeSbom(null)).toBeNull();
    expect(summarizeSbom([1, 2])).toBeNull();
    expect(summarizeSbom({ bomFormat: 'CycloneDX' })).toEqual({ format: 'CycloneDX', spec_version: null, component_count: 0, package_count: 0, file_count: 0 });
  });
});

describe('the pulled artifact must be the reported module and version', () => {
  const artifact = (name: string, version?: string) => ({
    config: { name } as ModuleManifest,
    manifest: { annotations: version === undefined ? {} : { [MODULE_ANNOTATIONS.version]: version } } as unknown as ImageManifest,
  });

  it('accepts a matching name and version, with or without a leading v, and an artifact without a version annotation', () => {
    expect(() => assertArtifactMatchesReport(artifact('demo', '1.2.3'), { module_name: 'demo', version_string: '1.2.3' })).not.toThrow();
    expect(() => assertArtifactMatchesReport(artifact('demo', 'v1.2.3'), { module_name: 'demo', version_string: '1.2.3' })).not.toThrow();
    expect(() => assertArtifactMatchesReport(artifact('demo'), { module_name: 'demo', version_string: '1.2.3' })).not.toThrow();
  });

  it('refuses another module name and another version with manifest_invalid', () => {
    expect(errorOf(() => assertArtifactMatchesReport(artifact('other'), { module_name: 'demo', version_string: '1.2.3' }))).toMatchObject({
      code: 'manifest_invalid',
      details: { field: 'manifest.name' },
    });
    expect(errorOf(() => assertArtifactMatchesReport(artifact('demo', '1.0.0'), { module_name: 'demo', version_string: '2.0.0' }))).toMatchObject({
      code: 'manifest_invalid',
      details: { field: MODULE_ANNOTATIONS.version },
    });
    expect(errorOf(() => assertArtifactMatchesReport(artifact('demo', 'garbage'), { module_name: 'demo', version_string: '2.0.0' })).code).toBe(
      'manifest_invalid',
    );
  });

  it('bounds the reason recorded with a rejection', () => {
    const identity = versionIdentityOf({ module_id: 'm-1', tag: 'v1.0.0' }, 'demo');
    const data = rejectedVersion(identity, {
      version_string: '1.0.0',
      oci_ref: null,
      oci_digest: null,
      reason_code: 'manifest_invalid',
      reason: 'x'.repeat(10_000),
      at: new Date(0),
    });
    expect(data.reason.length).toBe(2000);
    expect(data).toMatchObject({ version_id: identity.version_id, module_name: 'demo', tag: 'v1.0.0', rejected_at: '1970-01-01T00:00:00.000Z' });
  });
});

describe('ingest configuration', () => {
  it('has defaults for everything', () => {
    expect(parseConfig(ingestConfigShape, {})).toMatchObject({
      POWERNODE_DEV_SIGNING: true,
      INGEST_MAX_DELIVER: 5,
      INGEST_ACK_WAIT_MS: 30_000,
      INGEST_DURABLE: 'ingest',
      OCI_INSECURE_REGISTRIES: [],
      INGEST_ALLOWED_REGISTRIES: [],
      OCI_REGISTRY: '127.0.0.1:5000',
    });
  });

  it('reads lists and switches', () => {
    expect(parseConfig(ingestConfigShape, { POWERNODE_DEV_SIGNING: 'false', INGEST_ALLOWED_REGISTRIES: 'registry.example.com, 127.0.0.1:5000' })).toMatchObject(
      {
        POWERNODE_DEV_SIGNING: false,
        INGEST_ALLOWED_REGISTRIES: ['registry.example.com', '127.0.0.1:5000'],
      },
    );
  });

  it.each([
    ['INGEST_MAX_DELIVER', '0'],
    ['INGEST_ACK_WAIT_MS', 'soon'],
    ['POWERNODE_DEV_SIGNING', 'maybe'],
    ['INGEST_ALLOWED_REGISTRIES', 'https://registry.example.com/'],
    ['INGEST_DURABLE', 'has spaces'],
  ])('refuses %s=%s naming the variable', (name, value) => {
    const error = errorOf(() => parseConfig(ingestConfigShape, { [name]: value }));
    expect(error.code).toBe('config_invalid');
    expect(error.message).toContain(`${name}:`);
  });
});

describe('trust material', () => {
  let dir: string;
  beforeAll(async () => {
    dir = await mkdtemp(path.join(tmpdir(), 'pn-ingest-trust-'));
  });
  afterAll(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it('trusts the shipped public-good root and the dev Sigstore by default', async () => {
    const { trust, sources } = await loadIngestTrust({ trustedRoots: undefined, devSigning: true, dataDir: dir });
    expect(sources).toEqual(['public-good (shipped)', `dev (${path.join(dir, 'dev-sigstore', 'trusted_root.json')})`]);
    expect(trust.roots.map((r) => r.name)).toEqual(['public-good', 'dev']);
  });

  it('trusts only the configured roots when dev signing is off', async () => {
    const { trust } = await loadIngestTrust({ trustedRoots: ` ${PUBLIC_GOOD_TRUSTED_ROOT_PATH} `, devSigning: false, dataDir: dir });
    expect(trust.roots.map((r) => r.name)).toEqual(['public-good']);
  });

  it('refuses to start with a trusted root that does not exist', async () => {
    const error = await loadIngestTrust({ trustedRoots: path.join(dir, 'missing.json'), devSigning: false, dataDir: dir }).catch((e: unknown) => e);
    expect(isPowernodeError(error) && error.code).toBe('not_found');
  });
});

describe('registry clients', () => {
  it('treats loopback registries as plain HTTP', () => {
    expect(['127.0.0.1:5000', 'localhost:5000', '[::1]:5000', '127.1.2.3'].map(isLoopbackRegistry)).toEqual([true, true, true, true]);
    expect(['registry.example.com', '10.0.0.1:5000', '127.0.0.1.example.com'].map(isLoopbackRegistry)).toEqual([false, false, false]);
  });

  it('refuses a registry outside INGEST_ALLOWED_REGISTRIES', () => {
    const clients = new RegistryClients({ defaultRegistry: '127.0.0.1:5000', insecure: [], allowed: ['127.0.0.1:5000'], retries: 0 });
    expect(clients.clientFor('127.0.0.1:5000').registry).toBe('127.0.0.1:5000');
    expect(errorOf(() => clients.clientFor('evil.example.com'))).toMatchObject({ code: 'registry_not_allowed', details: { registry: 'evil.example.com' } });
  });

  it('compares registries by host and port, default ports and letter case included', () => {
    const clients = new RegistryClients({ defaultRegistry: 'registry.example.com', insecure: [], allowed: ['Registry.Example.com:443'], retries: 0 });
    expect(clients.clientFor('registry.example.com').registry).toBe('registry.example.com');
    expect(errorOf(() => clients.clientFor('registry.example.com:5000'))).toMatchObject({ code: 'registry_not_allowed' });
  });

  it('refuses to start with an empty allowlist (there is no "any registry")', () => {
    expect(errorOf(() => new RegistryClients({ defaultRegistry: '127.0.0.1:5000', insecure: [], allowed: [], retries: 0 }))).toMatchObject({
      code: 'config_invalid',
    });
  });

  const htpasswdMissing = htpasswdSkipReason();
  (htpasswdMissing === undefined ? it : it.skip)(
    `sends credentials to OCI_REGISTRY only, never to a registry a build report names${htpasswdMissing === undefined ? '' : ` (skipped: ${htpasswdMissing})`}`,
    async () => {
      const registry = await startRegistry({ auth: 'htpasswd' });
      const seen: IncomingHttpHeaders[] = [];
      const other: Server = createServer((req, res) => {
        seen.push(req.headers);
        res.writeHead(401, { 'www-authenticate': 'Basic realm="other"', 'content-type': 'application/json' });
        res.end('{"errors":[{"code":"UNAUTHORIZED"}]}');
      });
      await new Promise<void>((resolve) => other.listen(0, '127.0.0.1', resolve));
      const otherHost = `127.0.0.1:${(other.address() as AddressInfo).port}`;
      try {
        const clients = new RegistryClients({
          defaultRegistry: registry.host,
          auth: registry.credentials!,
          insecure: [],
          allowed: [registry.host, otherHost],
          retries: 0,
        });
        await expect(clients.clientFor(registry.host).ping()).resolves.toBeUndefined();
        const refused = await clients
          .clientFor(otherHost)
          .ping()
          .catch((e: unknown) => e);
        expect(isPowernodeError(refused) && refused.code).toBe('unauthenticated');
        expect(seen.length).toBeGreaterThan(0);
        expect(seen.every((h) => h.authorization === undefined)).toBe(true);
      } finally {
        await new Promise<void>((resolve) => other.close(() => resolve()));
        await registry.stop();
      }
    },
  );
});
