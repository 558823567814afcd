import type { CatalogEvent } from '@powernode/contracts';
import { foldEvents } from '@powernode/events';
import { moduleCompositionProjection, type ModuleCompositionModel } from './module-composition.projection.js';
import { moduleDeleted, moduleIdOf, moduleRegistered, T1, versionBuilt, versionIdOf } from './provisioner-fixtures.test-support.js';

const fold = (events: CatalogEvent[]): ModuleCompositionModel => foldEvents(moduleCompositionProjection, events);

function withManifest(event: CatalogEvent, manifest: Record<string, unknown>): CatalogEvent {
  return { ...event, data: { ...(event.data as object), manifest } } as CatalogEvent;
}

function specSeeded(name: string, spec: { mask?: string[]; protected_spec?: string[]; provides?: string[] }): CatalogEvent {
  return {
    type: 'ModuleSpecSeeded',
    data: {
      module_id: moduleIdOf(name),
      name,
      spec: {
        mask: spec.mask ?? [],
        file_spec: [],
        package_spec: [],
        dependency_spec: [],
        protected_spec: spec.protected_spec ?? [],
        requires: [],
        provides: spec.provides ?? [],
        priority: 0,
      },
      source_version_id: null,
      seeded_at: T1,
    },
  };
}

describe('module composition projection', () => {
  it('takes the glob lists from the registration, a later seed and operator updates, in that order', () => {
    const state = fold([
      moduleRegistered('my-redis'),
      specSeeded('my-redis', { mask: ['/usr/share/doc/**'], protected_spec: ['/etc/redis/redis.conf'], provides: ['tcp:6379'] }),
      { type: 'ModuleUpdated', data: { module_id: moduleIdOf('my-redis'), name: 'my-redis', changes: { mask: ['/var/cache/**'] }, updated_at: T1 } },
    ]);
    expect(state.modules[moduleIdOf('my-redis')]).toEqual({
      module_id: moduleIdOf('my-redis'),
      name: 'my-redis',
      mask: ['/var/cache/**'],
      protected_spec: ['/etc/redis/redis.conf'],
      provides: ['tcp:6379'],
    });
  });

  it('keeps the init commands of each version’s manifest, null where a command is absent or blank', () => {
    const state = fold([
      moduleRegistered('my-redis'),
      withManifest(versionBuilt('my-redis', '0.1.0'), { init: { start: 'redis-server /etc/redis/redis.conf', stop: '  ', restart: 42 } }),
      versionBuilt('my-redis', '0.2.0'),
    ]);
    expect(state.init[versionIdOf('my-redis', '0.1.0')]).toEqual({ start: 'redis-server /etc/redis/redis.conf', stop: null, restart: null });
    expect(state.init[versionIdOf('my-redis', '0.2.0')]).toEqual({ start: null, stop: null, restart: null });
  });

  it('forgets a deleted module and its versions, and a rejected version', () => {
    const state = fold([
      moduleRegistered('my-redis'),
      versionBuilt('my-redis', '0.1.0'),
      versionBuilt('my-redis', '0.2.0'),
      {
        type: 'ModuleVersionRejected',
        data: {
          version_id: versionIdOf('my-redis', '0.2.0'),
          module_id: moduleIdOf('my-redis'),
          module_name: 'my-redis',
          tag: 'v0.2.0',
          version_string: '0.2.0',
          oci_ref: null,
          oci_digest: null,
          reason_code: 'signature_missing',
          reason: 'no signature',
          rejected_at: T1,
        },
      } as CatalogEvent,
    ]);
    expect(Object.keys(state.init)).toEqual([versionIdOf('my-redis', '0.1.0')]);
    const deleted = fold([moduleRegistered('my-redis'), versionBuilt('my-redis', '0.1.0'), moduleDeleted('my-redis', [versionIdOf('my-redis', '0.1.0')])]);
    expect(deleted).toEqual({ modules: {}, init: {} });
  });

  it('ignores spec events of modules it never saw registered', () => {
    expect(fold([specSeeded('ghost', { mask: ['/x'] })]).modules).toEqual({});
  });
});
