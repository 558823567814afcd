import Ajv2020Import from 'ajv/dist/2020.js';
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import {
  isPowernodeError,
  MANIFEST_JSON_SCHEMA_COMMAND,
  MANIFEST_JSON_SCHEMA_PATH,
  ModuleManifestSchema,
  moduleManifestJsonSchema,
  parseRequires,
  renderModuleManifestJsonSchema,
} from '../index.js';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../../..');
const referenceSchema = JSON.parse(readFileSync(path.join(root, 'libs/contracts/test/fixtures/reference-manifest.schema.json'), 'utf8')) as object;

// ajv is the JSON Schema oracle: it runs the reference platform's schema and our generated one.
type AjvValidate = ((data: unknown) => boolean) & { errors?: unknown };
type AjvClass = new (options: object) => { compile(schema: object): AjvValidate };
const Ajv2020 = ((Ajv2020Import as unknown as { default?: AjvClass }).default ?? Ajv2020Import) as unknown as AjvClass;
const ajv = new Ajv2020({ strict: false, allErrors: true });
const validateReference = ajv.compile(referenceSchema);
const validateGenerated = new Ajv2020({ strict: false, allErrors: true }).compile(moduleManifestJsonSchema());

const base = { schema_version: 1, name: 'my-redis' };
const hex64 = 'a'.repeat(64);

interface SchemaCase {
  rule: string;
  manifest: unknown;
  /** The reference platform's JSON Schema verdict. */
  reference: boolean;
  /** Our zod verdict when it deliberately differs (dependencies.requires only). */
  ours?: boolean;
  /** The generated JSON Schema's verdict when it differs from ours (a semver range it cannot express). */
  generated?: boolean;
}

const with_ = (patch: Record<string, unknown>) => ({ ...base, ...patch });
const service = (patch: Record<string, unknown>) => with_({ services: [{ name: 'web', ...patch }] });

const cases: SchemaCase[] = [
  // required fields and the top level
  { rule: 'the minimal manifest', manifest: base, reference: true },
  { rule: 'schema_version is required', manifest: { name: 'x' }, reference: false },
  { rule: 'name is required', manifest: { schema_version: 1 }, reference: false },
  { rule: 'schema_version must be 1', manifest: with_({ schema_version: 2 }), reference: false },
  { rule: 'schema_version must be the integer, not "1"', manifest: with_({ schema_version: '1' }), reference: false },
  { rule: 'the top level must be a mapping (list)', manifest: [base], reference: false },
  { rule: 'the top level must be a mapping (string)', manifest: 'name: x', reference: false },
  { rule: 'the top level must be a mapping (null)', manifest: null, reference: false },
  { rule: 'unknown top-level keys are refused', manifest: with_({ fil_spec: [] }), reference: false },
  { rule: 'category is not a manifest field', manifest: with_({ category: 'userland' }), reference: false },
  { rule: 'an identity: wrapper is not a manifest field', manifest: with_({ identity: { name: 'x' } }), reference: false },
  // name
  { rule: 'a one-letter name', manifest: with_({ name: 'a' }), reference: true },
  { rule: 'a 64-character name', manifest: with_({ name: `a${'b'.repeat(63)}` }), reference: true },
  { rule: 'a 65-character name', manifest: with_({ name: `a${'b'.repeat(64)}` }), reference: false },
  { rule: 'upper case in name', manifest: with_({ name: 'BadName' }), reference: false },
  { rule: 'name starting with a digit', manifest: with_({ name: '1redis' }), reference: false },
  { rule: 'name starting with a hyphen', manifest: with_({ name: '-redis' }), reference: false },
  { rule: 'name ending with a hyphen', manifest: with_({ name: 'redis-' }), reference: false },
  { rule: 'underscore in name', manifest: with_({ name: 'my_redis' }), reference: false },
  { rule: 'empty name', manifest: with_({ name: '' }), reference: false },
  { rule: 'numeric name', manifest: with_({ name: 5 }), reference: false },
  // descriptive strings
  { rule: 'display_name of 200 characters', manifest: with_({ display_name: 'x'.repeat(200) }), reference: true },
  { rule: 'display_name of 201 characters', manifest: with_({ display_name: 'x'.repeat(201) }), reference: false },
  { rule: 'display_name must be a string', manifest: with_({ display_name: 7 }), reference: false },
  { rule: 'display_name may not be null', manifest: with_({ display_name: null }), reference: false },
  { rule: 'description must be a string', manifest: with_({ description: ['x'] }), reference: false },
  { rule: 'license is a string', manifest: with_({ license: 'MIT' }), reference: true },
  // glob and package lists
  ...(['mask', 'file_spec', 'protected_spec', 'dependency_spec', 'package_spec'] as const).flatMap((field): SchemaCase[] => [
    { rule: `${field} is a list of strings`, manifest: with_({ [field]: ['/etc/**'] }), reference: true },
    { rule: `${field} may be empty`, manifest: with_({ [field]: [] }), reference: true },
    { rule: `${field} must be a list, not a string`, manifest: with_({ [field]: 'x' }), reference: false },
    { rule: `${field} entries must be strings`, manifest: with_({ [field]: [1] }), reference: false },
    { rule: `${field} may not be null`, manifest: with_({ [field]: null }), reference: false },
  ]),
  // dependencies
  { rule: 'empty dependencies', manifest: with_({ dependencies: {} }), reference: true },
  {
    rule: 'requires in the documented form',
    manifest: with_({ dependencies: { requires: ['powernode/system-base@^1.0'], provides: ['http.server', 'http.port:80'] } }),
    reference: true,
  },
  {
    rule: 'requires with a nested owner and a comparator set',
    manifest: with_({ dependencies: { requires: ['acme/modules/redis@>=1.2 <2 || 3.x'] } }),
    reference: true,
  },
  { rule: 'dependencies is closed', manifest: with_({ dependencies: { conflicts: [] } }), reference: false },
  { rule: 'requires must be a list', manifest: with_({ dependencies: { requires: 'powernode/system-base@^1.0' } }), reference: false },
  { rule: 'requires entries must be strings', manifest: with_({ dependencies: { requires: [1] } }), reference: false },
  { rule: 'provides entries must be strings', manifest: with_({ dependencies: { provides: [true] } }), reference: false },
  {
    rule: 'requires without owner and range (deliberately refused)',
    manifest: with_({ dependencies: { requires: ['system-base'] } }),
    reference: true,
    ours: false,
  },
  {
    rule: 'requires without a range (deliberately refused)',
    manifest: with_({ dependencies: { requires: ['powernode/system-base'] } }),
    reference: true,
    ours: false,
  },
  {
    rule: 'requires with an empty range (deliberately refused)',
    manifest: with_({ dependencies: { requires: ['powernode/system-base@'] } }),
    reference: true,
    ours: false,
  },
  {
    rule: 'requires with a range semver cannot read (deliberately refused)',
    manifest: with_({ dependencies: { requires: ['powernode/system-base@latest'] } }),
    reference: true,
    ours: false,
    generated: true,
  },
  // init
  { rule: 'init commands are strings', manifest: with_({ init: { start: 'systemctl start redis', stop: '', restart: '' } }), reference: true },
  { rule: 'init commands must be strings', manifest: with_({ init: { start: ['systemctl', 'start'] } }), reference: false },
  { rule: 'init is closed', manifest: with_({ init: { reload: 'x' } }), reference: false },
  { rule: 'init must be a mapping', manifest: with_({ init: 'systemctl start x' }), reference: false },
  // services
  { rule: 'a service with a name', manifest: service({}), reference: true },
  { rule: 'a service needs a name', manifest: with_({ services: [{ start_command: 'x' }] }), reference: false },
  { rule: 'a service name may start with a digit', manifest: service({ name: '0web' }), reference: true },
  { rule: 'a service name is lower case', manifest: service({ name: 'Web' }), reference: false },
  { rule: 'a service name may not start with a hyphen', manifest: service({ name: '-web' }), reference: false },
  { rule: 'services must be a list', manifest: with_({ services: { web: {} } }), reference: false },
  { rule: 'services are closed', manifest: service({ dependencies: [] }), reference: false },
  { rule: 'restart_policy on-failure', manifest: service({ restart_policy: 'on-failure' }), reference: true },
  { rule: 'restart_policy outside the enum', manifest: service({ restart_policy: 'sometimes' }), reference: false },
  { rule: 'env values of any YAML scalar type', manifest: service({ env: { A: 1, B: 'x', C: true, D: null } }), reference: true },
  { rule: 'env must be a mapping', manifest: service({ env: ['A=1'] }), reference: false },
  { rule: 'an exposed port', manifest: service({ exposed_ports: [{ port: 80, protocol: 'tcp', name: 'http' }] }), reference: true },
  { rule: 'port 65535', manifest: service({ exposed_ports: [{ port: 65535, protocol: 'sctp' }] }), reference: true },
  { rule: 'port 0', manifest: service({ exposed_ports: [{ port: 0, protocol: 'tcp' }] }), reference: false },
  { rule: 'port 65536', manifest: service({ exposed_ports: [{ port: 65536, protocol: 'tcp' }] }), reference: false },
  { rule: 'a fractional port', manifest: service({ exposed_ports: [{ port: 80.5, protocol: 'tcp' }] }), reference: false },
  { rule: 'a port as a string', manifest: service({ exposed_ports: [{ port: '80', protocol: 'tcp' }] }), reference: false },
  { rule: 'a port needs a protocol', manifest: service({ exposed_ports: [{ port: 80 }] }), reference: false },
  { rule: 'a protocol outside the enum', manifest: service({ exposed_ports: [{ port: 80, protocol: 'http' }] }), reference: false },
  { rule: 'exposed ports are closed', manifest: service({ exposed_ports: [{ port: 80, protocol: 'tcp', host: '0.0.0.0' }] }), reference: false },
  { rule: 'service capabilities', manifest: service({ capabilities: ['CAP_NET_BIND_SERVICE'] }), reference: true },
  { rule: 'service capabilities need the CAP_ prefix', manifest: service({ capabilities: ['NET_BIND_SERVICE'] }), reference: false },
  {
    rule: 'a TCP health check',
    manifest: service({ health: { endpoint: '127.0.0.1:6379', method: 'TCP', interval_seconds: 1, timeout_seconds: 1, initial_delay_seconds: 0 } }),
    reference: true,
  },
  { rule: 'a health method outside the enum', manifest: service({ health: { method: 'HEAD' } }), reference: false },
  { rule: 'health interval_seconds 0', manifest: service({ health: { interval_seconds: 0 } }), reference: false },
  { rule: 'health timeout_seconds -1', manifest: service({ health: { timeout_seconds: -1 } }), reference: false },
  { rule: 'health initial_delay_seconds -1', manifest: service({ health: { initial_delay_seconds: -1 } }), reference: false },
  { rule: 'health is closed', manifest: service({ health: { path: '/' } }), reference: false },
  { rule: 'metadata is any mapping', manifest: service({ metadata: { a: { b: [1] } } }), reference: true },
  { rule: 'metadata must be a mapping', manifest: service({ metadata: ['a'] }), reference: false },
  {
    rule: 'user and working_directory are strings',
    manifest: service({ user: 'redis', working_directory: '/var/lib/redis', stop_command: 'x' }),
    reference: true,
  },
  { rule: 'user must be a string', manifest: service({ user: 999 }), reference: false },
  // reboot_required
  { rule: 'reboot_required true', manifest: with_({ reboot_required: true }), reference: true },
  { rule: 'reboot_required "yes"', manifest: with_({ reboot_required: 'yes' }), reference: false },
  // security
  {
    rule: 'the template security block',
    manifest: with_({
      security: {
        capabilities: [],
        selinux_profile: null,
        apparmor_profile: null,
        seccomp_profile: null,
        egress_allow: [],
        privileged: false,
        user_namespace: true,
      },
    }),
    reference: true,
  },
  {
    rule: 'security profiles as strings',
    manifest: with_({ security: { selinux_profile: 'profile.te', apparmor_profile: 'a', seccomp_profile: 's.json' } }),
    reference: true,
  },
  { rule: 'a security profile as a number', manifest: with_({ security: { seccomp_profile: 5 } }), reference: false },
  { rule: 'security capabilities need the CAP_ prefix', manifest: with_({ security: { capabilities: ['NET_ADMIN'] } }), reference: false },
  { rule: 'security capabilities are upper case', manifest: with_({ security: { capabilities: ['cap_net_admin'] } }), reference: false },
  { rule: 'egress_allow entries are strings', manifest: with_({ security: { egress_allow: [123] } }), reference: false },
  { rule: 'privileged is a boolean', manifest: with_({ security: { privileged: 'no' } }), reference: false },
  { rule: 'security is closed', manifest: with_({ security: { seccomp: 'x' } }), reference: false },
  // skills
  { rule: 'skills with arbitrary entries', manifest: with_({ skills: [{ name: 'x' }, 'y', 3] }), reference: true },
  { rule: 'skills must be a list', manifest: with_({ skills: { a: 1 } }), reference: false },
  // build
  { rule: 'build digests may be null', manifest: with_({ build: { ubuntu_digest: null, apt_snapshot: null } }), reference: true },
  { rule: 'a pinned digest and snapshot', manifest: with_({ build: { ubuntu_digest: `sha256:${hex64}`, apt_snapshot: '20260415T000000Z' } }), reference: true },
  { rule: 'a short digest', manifest: with_({ build: { ubuntu_digest: 'sha256:abc' } }), reference: false },
  { rule: 'an upper-case digest', manifest: with_({ build: { ubuntu_digest: `sha256:${hex64.toUpperCase()}` } }), reference: false },
  { rule: 'a digest without the algorithm', manifest: with_({ build: { ubuntu_digest: hex64 } }), reference: false },
  { rule: 'a snapshot date in ISO form', manifest: with_({ build: { apt_snapshot: '2026-04-15T00:00:00Z' } }), reference: false },
  { rule: 'a numeric snapshot', manifest: with_({ build: { apt_snapshot: 20260415 } }), reference: false },
  {
    rule: 'firmware and k3s pins',
    manifest: with_({ build: { firmware_repo: 'https://github.com/raspberrypi/firmware', firmware_ref: '1.20240306', k3s_version: 'v1.30.0+k3s1' } }),
    reference: true,
  },
  { rule: 'k3s_version must be a string', manifest: with_({ build: { k3s_version: 1.3 } }), reference: false },
  { rule: 'build is closed', manifest: with_({ build: { base_image: 'ubuntu' } }), reference: false },
];

describe('ModuleManifestSchema against the reference platform schema', () => {
  test.each(cases)('$rule', ({ manifest, reference, ours, generated }) => {
    const expectedOurs = ours ?? reference;
    const expectedGenerated = generated ?? expectedOurs;
    expect({
      reference: validateReference(manifest),
      ours: ModuleManifestSchema.safeParse(manifest).success,
      generated: validateGenerated(manifest),
    }).toEqual({ reference, ours: expectedOurs, generated: expectedGenerated });
  });

  test('every property of the reference schema exists in ours, at every level, and ours adds only build.distribution', () => {
    const generated = moduleManifestJsonSchema();
    const propertyPaths = (schema: unknown, prefix = ''): string[] => {
      if (schema === null || typeof schema !== 'object') return [];
      const node = schema as { properties?: Record<string, unknown>; items?: unknown };
      const own = Object.entries(node.properties ?? {}).flatMap(([key, child]) => [`${prefix}${key}`, ...propertyPaths(child, `${prefix}${key}.`)]);
      return [...own, ...propertyPaths(node.items, `${prefix}[].`)];
    };
    const ours = propertyPaths(generated);
    const reference = propertyPaths(referenceSchema);
    expect(reference.filter((p) => !ours.includes(p))).toEqual([]);
    // What this platform adds to the reference schema, each on purpose: build.distribution picks the Debian suite packages come from.
    expect(ours.filter((p) => !reference.includes(p)).sort()).toEqual(['build.distribution']);
  });
});

describe('parseRequires', () => {
  test.each([
    ['powernode/system-base@^1.0', { owner: 'powernode', module: 'system-base', range: '^1.0' }],
    ['powernode/powernode-base-ruby@~1.2.3', { owner: 'powernode', module: 'powernode-base-ruby', range: '~1.2.3' }],
    ['acme/modules/my-redis@*', { owner: 'acme/modules', module: 'my-redis', range: '*' }],
    ['Acme.Corp/redis@>=1.2 <2 || 3.x', { owner: 'Acme.Corp', module: 'redis', range: '>=1.2 <2 || 3.x' }],
  ])('splits %s', (entry, expected) => {
    expect(parseRequires(entry)).toEqual(expected);
  });

  test.each([
    ['system-base@^1.0', /has no owner/],
    ['powernode/system-base', /has no "@<range>"; write "@\*"/],
    ['powernode/System-Base@^1', /"System-Base" is not a module name/],
    ['powernode/system-base@latest', /"latest" is not a semver range/],
    ['powernode/system-base@ ^1', /must be <owner>\/<module>@<version range>/],
    ['powernode/system-base@^1 ', /must be <owner>\/<module>@<version range>/],
    ['/system-base@^1', /must be <owner>\/<module>@<version range>/],
  ])('refuses %j with manifest_invalid', (entry, reason) => {
    let caught: unknown;
    try {
      parseRequires(entry);
    } catch (error) {
      caught = error;
    }
    expect(isPowernodeError(caught) && caught.code).toBe('manifest_invalid');
    expect((caught as Error).message).toMatch(reason);
  });
});

describe('the committed JSON Schema', () => {
  const committedPath = path.join(root, MANIFEST_JSON_SCHEMA_PATH);

  test(`is up to date (regenerate with: ${MANIFEST_JSON_SCHEMA_COMMAND})`, () => {
    const committed = readFileSync(committedPath, 'utf8');
    if (committed !== renderModuleManifestJsonSchema()) {
      throw new Error(`${MANIFEST_JSON_SCHEMA_PATH} is stale: the zod manifest schema changed. Regenerate it with: ${MANIFEST_JSON_SCHEMA_COMMAND}`);
    }
    expect(JSON.parse(committed)).toEqual(moduleManifestJsonSchema());
  });

  test('is draft 2020-12, closed at the top level and keeps the reference $id', () => {
    const schema = JSON.parse(readFileSync(committedPath, 'utf8')) as Record<string, unknown>;
    expect(schema).toMatchObject({
      $schema: 'https://json-schema.org/draft/2020-12/schema',
      $id: 'https://powernode.org/schemas/module-manifest.v1.json',
      additionalProperties: false,
      required: ['schema_version', 'name'],
    });
  });

  test('the generator script agrees (--check exits 0 on the committed file)', () => {
    const out = execFileSync(
      process.execPath,
      [path.join(root, 'node_modules/tsx/dist/cli.mjs'), path.join(root, 'libs/contracts/scripts/generate-manifest-schema.ts'), '--check'],
      {
        cwd: root,
        encoding: 'utf8',
      },
    );
    expect(out).toContain('is up to date');
  });
});
