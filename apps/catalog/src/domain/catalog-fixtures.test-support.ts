import { moduleVersionIdFor, templateIdFor, type CatalogEventOf, type ModuleVersionBuiltData, type ModuleVersionRejectedData } from '@powernode/contracts';
import type { ModuleCommand } from './module.decider.js';

export const T0 = '2026-05-01T10:00:00.000Z';
export const T1 = '2026-05-01T11:00:00.000Z';
export const T2 = '2026-05-01T12:00:00.000Z';

export const REDIS_ID = '0195f0a0-0000-7000-8000-000000000001';
export const BASE_ID = '0195f0a0-0000-7000-8000-000000000002';

export const encryptedSecret = { algorithm: 'aes-256-gcm', key_id: 'k1', ciphertext: 'c2VhbGVkLXNlY3JldA==' };

/** The tutorial's my-redis manifest (step 2). */
export const REDIS_MANIFEST_YAML = `schema_version: 1
name: my-redis
display_name: "Redis 7.4"
description: "Redis 7.4 with TLS + persistence"
license: "BSD-3-Clause"
package_spec:
  - redis-server
  - redis-tools
file_spec:
  - "/etc/redis/**"
  - "/var/lib/redis/.gitkeep"
mask:
  - "/etc/redis/sentinel.conf"
protected_spec:
  - "/etc/redis/redis.conf"
dependencies:
  requires:
    - "powernode/system-base@^1.0"
    - "powernode/security-hardening@^1.0"
  provides: []
init:
  start: "systemctl start redis-server"
  stop:  "systemctl stop redis-server"
  restart: "systemctl restart redis-server"
reboot_required: false
`;

export function registerCommand(
  overrides: Partial<Extract<ModuleCommand, { type: 'RegisterModule' }>> = {},
): Extract<ModuleCommand, { type: 'RegisterModule' }> {
  return {
    type: 'RegisterModule',
    module_id: REDIS_ID,
    name: 'my-redis',
    category: 'userland',
    variety: 'subscription',
    gitea_repo_full_name: 'acme/modules/my-redis-module',
    cosign_identity_regexp: 'https://gitea\\.example\\.com/acme/modules/my-redis-module/\\.gitea/workflows/build\\.yaml@refs/tags/v.*',
    cosign_issuer_regexp: 'https://gitea\\.example\\.com',
    webhook_secret: { encrypted: encryptedSecret, entropy_bytes: 32 },
    now: T0,
    ...overrides,
  };
}

export function moduleRegistered(overrides: Partial<CatalogEventOf<'ModuleRegistered'>['data']> = {}): CatalogEventOf<'ModuleRegistered'> {
  return {
    type: 'ModuleRegistered',
    data: {
      module_id: REDIS_ID,
      name: 'my-redis',
      display_name: 'my-redis',
      description: '',
      category: 'userland',
      variety: 'subscription',
      gitea_repo_full_name: 'acme/modules/my-redis-module',
      cosign_identity_regexp: 'https://gitea\\.example\\.com/.*',
      cosign_issuer_regexp: 'https://gitea\\.example\\.com',
      approval_policy: 'require_approval',
      spec: { mask: [], file_spec: [], package_spec: [], dependency_spec: [], protected_spec: [], requires: [], provides: [], priority: 0 },
      spec_seeded: false,
      manifest_yaml: null,
      webhook_secret: encryptedSecret,
      registered_at: T0,
      ...overrides,
    },
  };
}

export const digestOf = (char: string): string => `sha256:${char.repeat(64)}`;

/** A ModuleVersionBuilt payload for `tag` of a module. */
export function builtData(overrides: Partial<ModuleVersionBuiltData> & { tag?: string } = {}): ModuleVersionBuiltData {
  const moduleId = overrides.module_id ?? REDIS_ID;
  const moduleName = overrides.module_name ?? 'my-redis';
  const tag = overrides.tag ?? 'v0.1.0';
  return {
    version_id: moduleVersionIdFor(moduleId, tag),
    module_id: moduleId,
    module_name: moduleName,
    version_string: tag.replace(/^v/, ''),
    tag,
    oci_ref: `127.0.0.1:5000/acme/${moduleName}:${tag}`,
    oci_digest: digestOf('a'),
    composefs_digest: digestOf('b'),
    fsverity_root_hash: digestOf('c'),
    cosign_verified: true,
    signer_identity: 'https://gitea.example.com/acme/modules/my-redis-module/.gitea/workflows/build.yaml@refs/tags/v0.1.0',
    signer_issuer: 'https://gitea.example.com',
    sbom_summary: { format: 'CycloneDX', component_count: 12 },
    manifest: { schema_version: 1, name: moduleName, dependencies: { requires: ['powernode/system-base@^1.0'], provides: [] } },
    built_at: T0,
    ...overrides,
  };
}

export function rejectedData(overrides: Partial<ModuleVersionRejectedData> & { tag?: string } = {}): ModuleVersionRejectedData {
  const moduleId = overrides.module_id ?? REDIS_ID;
  const tag = overrides.tag ?? 'v0.1.0';
  return {
    version_id: moduleVersionIdFor(moduleId, tag),
    module_id: moduleId,
    module_name: 'my-redis',
    tag,
    version_string: tag.replace(/^v/, ''),
    oci_ref: `127.0.0.1:5000/acme/my-redis:${tag}`,
    oci_digest: digestOf('d'),
    reason_code: 'digest_mismatch',
    reason: 'layer sha256:… does not match its descriptor',
    rejected_at: T0,
    ...overrides,
  };
}

export const BASE_TEMPLATE_ID = templateIdFor('base');
