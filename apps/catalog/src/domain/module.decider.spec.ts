import { catalogEventSchemas } from '@powernode/contracts';
import { given } from '@powernode/testing';
import { stateFromEvents } from '@powernode/events';
import type { ModuleCommand } from './module.decider.js';
import { moduleDecider, type ModuleEvent } from './module.decider.js';
import { REDIS_ID, REDIS_MANIFEST_YAML, T0, T1, T2, encryptedSecret, moduleRegistered, registerCommand } from './catalog-fixtures.test-support.js';

const deleted: ModuleEvent = { type: 'ModuleDeleted', data: { module_id: REDIS_ID, name: 'my-redis', version_ids: [], versions_deleted: 0, deleted_at: T1 } };

describe('module decider: RegisterModule', () => {
  it('registers with defaults: display_name = name, empty spec, require_approval, not seeded', () => {
    const [event] = given(moduleDecider, []).when(registerCommand()).events();
    expect(event).toEqual({
      type: 'ModuleRegistered',
      data: {
        module_id: REDIS_ID,
        name: 'my-redis',
        display_name: 'my-redis',
        description: '',
        category: 'userland',
        variety: 'subscription',
        gitea_repo_full_name: 'acme/modules/my-redis-module',
        cosign_identity_regexp: registerCommand().cosign_identity_regexp,
        cosign_issuer_regexp: 'https://gitea\\.example\\.com',
        approval_policy: 'require_approval',
        spec: { mask: [], file_spec: [], package_spec: [], dependency_spec: [], protected_spec: [], requires: [], provides: [], priority: 0 },
        spec_seeded: false,
        manifest_yaml: null,
        webhook_secret: encryptedSecret,
        registered_at: T0,
      },
    });
    expect(catalogEventSchemas.ModuleRegistered.safeParse(event!.data).success).toBe(true);
  });

  it('seeds the spec, display name and description from manifest_yaml on first import', () => {
    const [event] = given(moduleDecider, [])
      .when(registerCommand({ manifest_yaml: REDIS_MANIFEST_YAML }))
      .events();
    expect(event).toMatchObject({
      type: 'ModuleRegistered',
      data: {
        display_name: 'Redis 7.4',
        description: 'Redis 7.4 with TLS + persistence',
        spec_seeded: true,
        manifest_yaml: REDIS_MANIFEST_YAML,
        spec: {
          mask: ['/etc/redis/sentinel.conf'],
          file_spec: ['/etc/redis/**', '/var/lib/redis/.gitkeep'],
          package_spec: ['redis-server', 'redis-tools'],
          protected_spec: ['/etc/redis/redis.conf'],
          requires: ['powernode/system-base@^1.0', 'powernode/security-hardening@^1.0'],
          provides: [],
          priority: 0,
        },
      },
    });
  });

  it('lets explicit display_name and description win over the manifest, and keeps an auto_approve override', () => {
    const [event] = given(moduleDecider, [])
      .when(registerCommand({ manifest_yaml: REDIS_MANIFEST_YAML, display_name: 'Redis', description: 'ours', approval_policy: 'auto_approve' }))
      .events();
    expect(event!.type === 'ModuleRegistered' && [event!.data.display_name, event!.data.description, event!.data.approval_policy]).toEqual([
      'Redis',
      'ours',
      'auto_approve',
    ]);
  });

  it('carries only the encrypted webhook secret', () => {
    const [event] = given(moduleDecider, []).when(registerCommand()).events();
    expect(event!.type === 'ModuleRegistered' && event!.data.webhook_secret).toEqual(encryptedSecret);
    expect(Object.keys(event!.data)).not.toContain('webhook_secret_plain');
  });

  it.each([
    ['an id already used', [moduleRegistered()], {}, 'already_exists', 'module_id_unique'],
    ['a name with capitals', [], { name: 'My-Redis' }, 'validation_failed', 'module_name_format'],
    ['a name ending in a hyphen', [], { name: 'redis-' }, 'validation_failed', 'module_name_format'],
    ['a category outside the seeded list', [], { category: 'databases' }, 'validation_failed', 'category_seeded'],
    ['an unknown variety', [], { variety: 'plugin' }, 'validation_failed', 'variety_known'],
    ['a repository without owner', [], { gitea_repo_full_name: 'my-redis-module' }, 'validation_failed', 'repository_format'],
    ['an identity pattern that does not compile', [], { cosign_identity_regexp: 'https://(gitea' }, 'validation_failed', 'trust_pattern_compiles'],
    ['an empty issuer pattern', [], { cosign_issuer_regexp: ' ' }, 'validation_failed', 'trust_pattern_required'],
    [
      'an identity pattern that escapes its anchors',
      [],
      { cosign_identity_regexp: 'https://gitea\\.example\\.com/acme/dev-signer)|(.*evil' },
      'validation_failed',
      'trust_pattern_compiles',
    ],
    ['an issuer pattern with a lookahead (not RE2)', [], { cosign_issuer_regexp: 'https://(?!evil).*' }, 'validation_failed', 'trust_pattern_compiles'],
    [
      'a webhook secret under 32 random bytes',
      [],
      { webhook_secret: { encrypted: encryptedSecret, entropy_bytes: 16 } },
      'validation_failed',
      'webhook_secret_entropy',
    ],
    ['an unknown approval policy', [], { approval_policy: 'notify_and_proceed' }, 'validation_failed', 'approval_policy_known'],
    [
      'a manifest whose name differs',
      [],
      { manifest_yaml: REDIS_MANIFEST_YAML.replace('name: my-redis', 'name: redis') },
      'validation_failed',
      'manifest_name_matches',
    ],
    [
      'a manifest with a bad glob',
      [],
      { manifest_yaml: REDIS_MANIFEST_YAML.replace('"/etc/redis/sentinel.conf"', '"/etc/[redis"') },
      'validation_failed',
      'glob_valid',
    ],
  ] as const)('refuses %s', (_name, history, overrides, code, rule) => {
    given(moduleDecider, [...history])
      .when(registerCommand(overrides))
      .thenRefuses({ code, rule });
  });

  it('refuses manifest_yaml that is not YAML (manifest_invalid)', () => {
    given(moduleDecider, [])
      .when(registerCommand({ manifest_yaml: 'name: [unclosed' }))
      .thenRefuses({ code: 'manifest_invalid', message: /not valid YAML/ });
  });

  it('refuses manifest_yaml nested too deep for the YAML reader (manifest_invalid naming the field and line, not a crash)', () => {
    const deep = `${REDIS_MANIFEST_YAML}build: ${'['.repeat(20_000)}${']'.repeat(20_000)}\n`;
    given(moduleDecider, [])
      .when(registerCommand({ manifest_yaml: deep }))
      .thenRefuses({ code: 'manifest_invalid', message: /^manifest_yaml line \d+: build\[0\].* more than 32 levels deep/ });
  });

  it('refuses a manifest that carries platform-only keys (manifest_invalid, naming the field)', () => {
    given(moduleDecider, [])
      .when(registerCommand({ manifest_yaml: `${REDIS_MANIFEST_YAML}category: userland\n` }))
      .thenRefuses({ code: 'manifest_invalid', message: /category/ });
  });
});

describe('module decider: SeedModuleSpec', () => {
  const manifest = {
    schema_version: 1,
    name: 'my-redis',
    mask: ['/tmp/**'],
    dependencies: { requires: ['powernode/system-base@^1.0'], provides: ['kv.redis'] },
  };

  it('seeds a record that was registered without a manifest', () => {
    given(moduleDecider, [moduleRegistered()])
      .when({ type: 'SeedModuleSpec', manifest, source_version_id: 'v1', now: T1 })
      .then([
        {
          type: 'ModuleSpecSeeded',
          data: {
            module_id: REDIS_ID,
            name: 'my-redis',
            spec: {
              mask: ['/tmp/**'],
              file_spec: [],
              package_spec: [],
              dependency_spec: [],
              protected_spec: [],
              requires: ['powernode/system-base@^1.0'],
              provides: ['kv.redis'],
              priority: 0,
            },
            source_version_id: 'v1',
            seeded_at: T1,
          },
        },
      ]);
  });

  it('does nothing once the record was seeded: the platform record is authoritative', () => {
    given(moduleDecider, [moduleRegistered({ spec_seeded: true })])
      .when({ type: 'SeedModuleSpec', manifest, source_version_id: 'v2', now: T1 })
      .then([]);
  });

  it('does nothing after an operator edited a spec field', () => {
    const edited: ModuleEvent = { type: 'ModuleUpdated', data: { module_id: REDIS_ID, name: 'my-redis', changes: { mask: ['/x'] }, updated_at: T1 } };
    given(moduleDecider, [moduleRegistered(), edited]).when({ type: 'SeedModuleSpec', manifest, source_version_id: 'v2', now: T2 }).then([]);
  });

  it('still seeds after an edit that touched no spec field', () => {
    const renamed: ModuleEvent = { type: 'ModuleUpdated', data: { module_id: REDIS_ID, name: 'my-redis', changes: { display_name: 'Redis' }, updated_at: T1 } };
    expect(
      given(moduleDecider, [moduleRegistered(), renamed]).when({ type: 'SeedModuleSpec', manifest, source_version_id: 'v2', now: T2 }).events(),
    ).toHaveLength(1);
  });

  it('refuses an invalid manifest (manifest_invalid) and one naming another module', () => {
    given(moduleDecider, [moduleRegistered()])
      .when({ type: 'SeedModuleSpec', manifest: { name: 'my-redis' }, source_version_id: null, now: T1 })
      .thenRefuses({ code: 'manifest_invalid' });
    given(moduleDecider, [moduleRegistered()])
      .when({ type: 'SeedModuleSpec', manifest: { ...manifest, name: 'other' }, source_version_id: null, now: T1 })
      .thenRefuses({ code: 'validation_failed', rule: 'manifest_name_matches' });
  });
});

describe('module decider: UpdateModule', () => {
  it('records only the fields that change', () => {
    given(moduleDecider, [moduleRegistered()])
      .when({ type: 'UpdateModule', changes: { display_name: 'my-redis', description: 'KV store', priority: 20, approval_policy: 'auto_approve' }, now: T1 })
      .then([
        {
          type: 'ModuleUpdated',
          data: { module_id: REDIS_ID, name: 'my-redis', changes: { description: 'KV store', priority: 20, approval_policy: 'auto_approve' }, updated_at: T1 },
        },
      ]);
  });

  it('is a no-op when nothing changes', () => {
    given(moduleDecider, [moduleRegistered()])
      .when({ type: 'UpdateModule', changes: { category: 'userland', mask: [] }, now: T1 })
      .then([]);
  });

  it('folds changes into the record and marks the spec authoritative', () => {
    const state = stateFromEvents(moduleDecider, [
      moduleRegistered(),
      {
        type: 'ModuleUpdated',
        data: { module_id: REDIS_ID, name: 'my-redis', changes: { category: 'network-overlay', protected_spec: ['/etc/redis/redis.conf'] }, updated_at: T1 },
      },
    ]);
    expect(state.status === 'active' && [state.module.category, state.module.spec.protected_spec, state.module.spec_seeded, state.module.updated_at]).toEqual([
      'network-overlay',
      ['/etc/redis/redis.conf'],
      true,
      T1,
    ]);
  });

  it.each([
    ['a requires entry without a range', { requires: ['powernode/system-base'] }, 'requires_format'],
    ['a requires entry with a bad range', { requires: ['powernode/system-base@one'] }, 'requires_format'],
    ['a module requiring itself', { requires: ['acme/my-redis@^1'] }, 'no_self_dependency'],
    ['a glob rsync cannot read', { file_spec: ['/etc/[redis'] }, 'glob_valid'],
    ['a category outside the seeded list', { category: 'databases' }, 'module_changes_valid'],
    ['a priority outside 0–999', { priority: 1000 }, 'module_changes_valid'],
    ['a field that is not editable', { name: 'other' } as Record<string, unknown>, 'module_changes_valid'],
  ])('refuses %s', (_name, changes, rule) => {
    given(moduleDecider, [moduleRegistered()]).when({ type: 'UpdateModule', changes, now: T1 }).thenRefuses({ code: 'validation_failed', rule });
  });
});

describe('module decider: trust policy and webhook secret', () => {
  it('updates the trust policy', () => {
    given(moduleDecider, [moduleRegistered()])
      .when({ type: 'UpdateTrustPolicy', cosign_identity_regexp: 'https://gitea\\.example\\.com/acme/.*', cosign_issuer_regexp: 'https://issuer', now: T1 })
      .then([
        {
          type: 'ModuleTrustPolicyUpdated',
          data: {
            module_id: REDIS_ID,
            name: 'my-redis',
            cosign_identity_regexp: 'https://gitea\\.example\\.com/acme/.*',
            cosign_issuer_regexp: 'https://issuer',
            updated_at: T1,
          },
        },
      ]);
  });

  it('treats an unchanged trust policy as a no-op', () => {
    const { cosign_identity_regexp, cosign_issuer_regexp } = moduleRegistered().data;
    given(moduleDecider, [moduleRegistered()]).when({ type: 'UpdateTrustPolicy', cosign_identity_regexp, cosign_issuer_regexp, now: T1 }).then([]);
  });

  it('refuses a trust pattern that does not compile', () => {
    given(moduleDecider, [moduleRegistered()])
      .when({ type: 'UpdateTrustPolicy', cosign_identity_regexp: '*', cosign_issuer_regexp: 'x', now: T1 })
      .thenRefuses({ code: 'validation_failed', rule: 'trust_pattern_compiles', message: /cosign_identity_regexp/ });
  });

  it('refuses a trust pattern with a backreference, naming the field and what RE2 does not support', () => {
    given(moduleDecider, [moduleRegistered()])
      .when({ type: 'UpdateTrustPolicy', cosign_identity_regexp: 'https://gitea\\.example\\.com/.*', cosign_issuer_regexp: '(https)://\\1', now: T1 })
      .thenRefuses({
        code: 'validation_failed',
        rule: 'trust_pattern_compiles',
        message: /^cosign_issuer_regexp is not a valid RE2 regular expression.*backreferences/,
      });
  });

  it('accepts a pattern that would backtrack catastrophically on V8: ingest matches it in linear time', () => {
    const [event] = given(moduleDecider, [moduleRegistered()])
      .when({ type: 'UpdateTrustPolicy', cosign_identity_regexp: '(.*.*)*X', cosign_issuer_regexp: 'https://gitea\\.example\\.com', now: T1 })
      .events();
    expect(event?.type).toBe('ModuleTrustPolicyUpdated');
  });

  it('rotates the webhook secret, recording only its ciphertext', () => {
    const rotated = { algorithm: 'aes-256-gcm', key_id: 'k1', ciphertext: 'bmV3' };
    given(moduleDecider, [moduleRegistered()])
      .when({ type: 'RotateWebhookSecret', webhook_secret: { encrypted: rotated, entropy_bytes: 32 }, now: T1 })
      .then([{ type: 'ModuleWebhookSecretRotated', data: { module_id: REDIS_ID, name: 'my-redis', webhook_secret: rotated, rotated_at: T1 } }]);
  });

  it('refuses a rotated secret under 32 random bytes', () => {
    given(moduleDecider, [moduleRegistered()])
      .when({ type: 'RotateWebhookSecret', webhook_secret: { encrypted: encryptedSecret, entropy_bytes: 31 }, now: T1 })
      .thenRefuses({ code: 'validation_failed', rule: 'webhook_secret_entropy' });
  });
});

describe('module decider: DeleteModule', () => {
  it('refuses while assigned, naming the templates (module_assigned)', () => {
    given(moduleDecider, [moduleRegistered()])
      .when({ type: 'DeleteModule', assigned_templates: ['hardened', 'base'], version_ids: [], now: T1 })
      .thenRefuses({ code: 'module_assigned', rule: 'delete_requires_unassigned', message: /template\(s\) base, hardened/ });
  });

  it('deletes an unassigned module with its versions, counting them', () => {
    given(moduleDecider, [moduleRegistered()])
      .when({ type: 'DeleteModule', assigned_templates: [], version_ids: ['v1', 'v2', 'v1'], now: T1 })
      .then([{ type: 'ModuleDeleted', data: { module_id: REDIS_ID, name: 'my-redis', version_ids: ['v1', 'v2'], versions_deleted: 2, deleted_at: T1 } }]);
  });

  it.each([
    ['UpdateModule', { type: 'UpdateModule', changes: { description: 'x' }, now: T2 }],
    ['UpdateTrustPolicy', { type: 'UpdateTrustPolicy', cosign_identity_regexp: 'a', cosign_issuer_regexp: 'b', now: T2 }],
    ['RotateWebhookSecret', { type: 'RotateWebhookSecret', webhook_secret: { encrypted: encryptedSecret, entropy_bytes: 32 }, now: T2 }],
    ['DeleteModule', { type: 'DeleteModule', assigned_templates: [], version_ids: [], now: T2 }],
    ['SeedModuleSpec', { type: 'SeedModuleSpec', manifest: {}, source_version_id: null, now: T2 }],
  ] satisfies [string, ModuleCommand][])('refuses %s on a deleted module (not_found)', (_name, command) => {
    given(moduleDecider, [moduleRegistered(), deleted])
      .when(command)
      .thenRefuses({ code: 'not_found', rule: 'module_exists', message: /was deleted/ });
  });

  it('refuses commands on a module never registered (not_found)', () => {
    given(moduleDecider, []).when({ type: 'UpdateModule', changes: {}, now: T1 }).thenRefuses({ code: 'not_found', rule: 'module_exists' });
  });

  it('refuses to register a new module on a deleted module’s stream (fresh id per registration)', () => {
    given(moduleDecider, [moduleRegistered(), deleted]).when(registerCommand()).thenRefuses({ code: 'already_exists', rule: 'module_id_unique' });
  });
});
