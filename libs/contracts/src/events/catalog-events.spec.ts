import { catalogEventDefinitions, catalogEventSchemas, isCatalogEventType } from './catalog-events.js';
import { catalogStreams, contentDerivedId, moduleBuildReportedEventIdFor, moduleBuildReportIdFor, moduleVersionIdFor, templateIdFor } from './catalog-ids.js';
import { PROMOTION_TRANSITIONS, SEEDED_MODULE_CATEGORIES } from './catalog-vocabulary.js';

const digest = (c: string) => `sha256:${c.repeat(64)}`;
const built = {
  version_id: moduleVersionIdFor('m1', 'v0.1.0'),
  module_id: 'm1',
  module_name: 'my-redis',
  version_string: '0.1.0',
  tag: 'v0.1.0',
  oci_ref: '127.0.0.1:5000/acme/my-redis:v0.1.0',
  oci_digest: digest('a'),
  composefs_digest: digest('b'),
  fsverity_root_hash: digest('c'),
  cosign_verified: true,
  signer_identity: 'https://gitea.example.com/acme/my-redis/.gitea/workflows/build.yaml@refs/tags/v0.1.0',
  signer_issuer: 'https://gitea.example.com',
  sbom_summary: { format: 'CycloneDX', component_count: 3, spec_version: '1.6' },
  manifest: { schema_version: 1, name: 'my-redis' },
  built_at: '2026-05-01T10:00:00.000Z',
};

describe('catalog event definitions', () => {
  it('register every catalog event once, at schema version 1', () => {
    const types = catalogEventDefinitions.map((d) => d.type);
    expect(new Set(types).size).toBe(types.length);
    expect(types.sort()).toEqual(Object.keys(catalogEventSchemas).sort());
    expect(catalogEventDefinitions.every((d) => d.schema_version === 1)).toBe(true);
    expect(types).toEqual(expect.arrayContaining(['ModuleBuildReported', 'ModuleVersionBuilt', 'ModuleVersionRejected']));
  });

  it('accept a ModuleVersionBuilt as ingest writes it, keeping unknown SBOM summary fields', () => {
    const parsed = catalogEventSchemas.ModuleVersionBuilt.parse(built);
    expect(parsed.sbom_summary).toEqual(built.sbom_summary);
  });

  it.each([
    ['a digest that is not sha256:<64 hex>', { oci_digest: 'sha256:abc' }, 'oci_digest'],
    ['an upper-case digest', { fsverity_root_hash: `sha256:${'A'.repeat(64)}` }, 'fsverity_root_hash'],
    ['a timestamp without zone', { built_at: '2026-05-01 10:00' }, 'built_at'],
    ['a module name with capitals', { module_name: 'My-Redis' }, 'module_name'],
  ])('refuse a ModuleVersionBuilt with %s', (_name, override, path) => {
    const result = catalogEventSchemas.ModuleVersionBuilt.safeParse({ ...built, ...override });
    expect(result.success).toBe(false);
    expect(result.error!.issues.map((i) => i.path.join('.'))).toContain(path);
  });

  it('accept a ModuleBuildReported with exactly the hand-off fields', () => {
    const report = {
      module_id: 'm1',
      module_name: 'my-redis',
      tag: 'v0.1.0',
      artifact_ref: '127.0.0.1:5000/acme/my-redis:v0.1.0',
      delivery_id: 'd-1',
      repository_full_name: 'acme/modules/my-redis',
    };
    expect(catalogEventSchemas.ModuleBuildReported.parse(report)).toEqual(report);
    expect(catalogEventSchemas.ModuleBuildReported.safeParse({ ...report, repository_full_name: 'no-owner' }).success).toBe(false);
  });

  it('accept only the documented rejection codes', () => {
    const rejected = {
      version_id: 'v',
      module_id: 'm1',
      module_name: 'my-redis',
      tag: 'nightly',
      version_string: null,
      oci_ref: null,
      oci_digest: null,
      reason_code: 'not_semver',
      reason: 'tag nightly is not a semantic version',
      rejected_at: '2026-05-01T10:00:00Z',
    };
    expect(catalogEventSchemas.ModuleVersionRejected.safeParse(rejected).success).toBe(true);
    expect(catalogEventSchemas.ModuleVersionRejected.safeParse({ ...rejected, reason_code: 'flaky' }).success).toBe(false);
  });

  it('refuse a registered module whose secret is not an encrypted envelope', () => {
    const schema = catalogEventSchemas.ModuleRegistered;
    const shape = schema.shape.webhook_secret;
    expect(shape.safeParse('plain-secret').success).toBe(false);
    expect(shape.safeParse({ algorithm: 'aes-256-gcm', key_id: 'k', ciphertext: 'YQ==' }).success).toBe(true);
  });

  it('tell catalog event types from others', () => {
    expect(isCatalogEventType('ModuleVersionPromoted')).toBe(true);
    expect(isCatalogEventType('InstanceProvisioned')).toBe(false);
    expect(isCatalogEventType('toString')).toBe(false);
  });
});

describe('catalog vocabulary', () => {
  it('keeps the seeded category order and the CONTRACT §2 transitions', () => {
    expect(SEEDED_MODULE_CATEGORIES).toEqual(['system-base', 'network-overlay', 'container-runtimes', 'security-hardening', 'userland']);
    expect(PROMOTION_TRANSITIONS.retired).toEqual([]);
    expect(PROMOTION_TRANSITIONS.staging).toEqual(['blessed', 'built', 'retired']);
  });
});

describe('catalog ids', () => {
  it('derive a stable UUID-shaped id from content', () => {
    const id = contentDerivedId('a', 'b');
    expect(id).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-8[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
    expect(contentDerivedId('a', 'b')).toBe(id);
    expect(contentDerivedId('ab', '')).not.toBe(id);
  });

  it('name one version per module and tag, with or without the leading v', () => {
    expect(moduleVersionIdFor('m1', 'v1.2.3')).toBe(moduleVersionIdFor('m1', '1.2.3'));
    expect(moduleVersionIdFor('m1', 'v1.2.3')).not.toBe(moduleVersionIdFor('m2', 'v1.2.3'));
    expect(moduleVersionIdFor('m1', 'v1.2.3')).not.toBe(moduleVersionIdFor('m1', 'v1.2.4'));
    expect(moduleVersionIdFor('m1', 'vnext')).not.toBe(moduleVersionIdFor('m1', 'next'));
  });

  it('derive template ids from names and name the streams', () => {
    expect(templateIdFor('base')).toBe(templateIdFor('base'));
    expect(templateIdFor('base')).not.toBe(templateIdFor('hardened'));
    expect(catalogStreams.moduleVersion('x')).toBe('module-version-x');
    expect(catalogStreams.promotionApproval('a')).toBe('promotion-approval-a');
  });

  it('put one build report per module and signed body on a stream of the module category, and name a delivery per module', () => {
    const body = 'a'.repeat(64);
    expect(moduleBuildReportIdFor('m1', body)).toBe(moduleBuildReportIdFor('m1', body));
    expect(moduleBuildReportIdFor('m1', body)).not.toBe(moduleBuildReportIdFor('m1', 'b'.repeat(64)));
    expect(moduleBuildReportIdFor('m1', body)).not.toBe(moduleBuildReportIdFor('m2', body));
    expect(moduleBuildReportedEventIdFor('m1', 'd-1')).toBe(moduleBuildReportedEventIdFor('m1', 'd-1'));
    expect(moduleBuildReportedEventIdFor('m1', 'd-1')).not.toBe(moduleBuildReportedEventIdFor('m2', 'd-1'));
    expect(moduleBuildReportedEventIdFor('m1', 'd-1')).not.toBe(moduleBuildReportedEventIdFor('m1', 'd-2'));
    expect(catalogStreams.moduleBuildReport('r')).toBe('module-build-r');
    expect(catalogStreams.moduleBuildReport('r').split('-')[0]).toBe('module');
  });
});
