import type { CatalogEvent } from '@powernode/contracts';
import { foldEvents, type StoredEventLike } from '@powernode/events';
import { agentDesiredState, desiredGeneration } from './agent-desired-state.js';
import { desiredModulesFor, type DesiredModules } from './desired-modules.js';
import { desiredStateProjection } from './desired-state.projection.js';
import { moduleCompositionProjection } from './module-composition.projection.js';
import {
  assigned,
  composefsOf,
  INSTANCE_ID,
  moduleIdOf,
  moduleRegistered,
  nodeCreated,
  promotedTo,
  provisionRequested,
  T1,
  templateCreated,
  versionBuilt,
  versionIdOf,
} from './provisioner-fixtures.test-support.js';

function specUpdated(name: string, changes: Record<string, unknown>): CatalogEvent {
  return { type: 'ModuleUpdated', data: { module_id: moduleIdOf(name), name, changes, updated_at: T1 } } as CatalogEvent;
}

function initOf(event: CatalogEvent, init: Record<string, string>): CatalogEvent {
  return { ...event, data: { ...(event.data as object), manifest: { schema_version: 1, init } } } as unknown as CatalogEvent;
}

/** system-base (protects /etc/base.conf) and my-redis (masks /var/cache/**), both live and assigned to base. */
function catalog(): StoredEventLike[] {
  return [
    templateCreated('base'),
    moduleRegistered('system-base', { category: 'system-base', priority: 10 }),
    specUpdated('system-base', { protected_spec: ['/etc/base.conf'], mask: ['/usr/share/doc/**'] }),
    initOf(versionBuilt('system-base', '1.0.0'), { start: 'base-init --start' }),
    ...promotedTo('system-base', '1.0.0', 'live'),
    moduleRegistered('my-redis', { priority: 50 }),
    specUpdated('my-redis', { mask: ['/var/cache/**'] }),
    initOf(versionBuilt('my-redis', '0.1.0'), { start: 'redis-server', stop: 'redis-cli shutdown' }),
    ...promotedTo('my-redis', '0.1.0', 'live'),
    assigned('my-redis'),
    assigned('system-base'),
    nodeCreated(),
    provisionRequested(),
  ];
}

function agentView(events: StoredEventLike[]) {
  const desired: DesiredModules = desiredModulesFor(foldEvents(desiredStateProjection, events), { instance_id: INSTANCE_ID });
  return agentDesiredState(INSTANCE_ID, desired, foldEvents(moduleCompositionProjection, events));
}

describe('the desired state an agent receives', () => {
  it('lists the modules bottom layer first with their layer priority, version, digests and init commands', () => {
    const state = agentView(catalog());
    expect(state.instance_id).toBe(INSTANCE_ID);
    expect(state.modules.map((m) => [m.module_name, m.priority])).toEqual([
      ['system-base', 1010],
      ['my-redis', 5050],
    ]);
    expect(state.modules[1]).toMatchObject({
      version_id: versionIdOf('my-redis', '0.1.0'),
      version_string: '0.1.0',
      composefs_digest: composefsOf('my-redis', '0.1.0'),
      init: { start: 'redis-server', stop: 'redis-cli shutdown', restart: null },
    });
    expect(state.unresolved).toEqual([]);
  });

  it('gives each module its effective mask: own mask, neighbours’ protected paths, higher layers’ masks', () => {
    const [base, redis] = agentView(catalog()).modules;
    expect(base!.effective_mask).toEqual(['/usr/share/doc/**', '/var/cache/**']);
    expect(redis!.effective_mask).toEqual(['/etc/base.conf', '/var/cache/**']);
  });

  it('keeps the generation while nothing desired changes, and changes it with a new version, a new mask or new init commands', () => {
    const before = agentView(catalog()).generation;
    expect(before).toMatch(/^sha256:[0-9a-f]{64}$/);
    expect(agentView(catalog()).generation).toBe(before);
    expect(agentView([...catalog(), versionBuilt('my-redis', '0.2.0'), ...promotedTo('my-redis', '0.2.0', 'live')]).generation).not.toBe(before);
    expect(agentView([...catalog(), specUpdated('system-base', { mask: [] })]).generation).not.toBe(before);
    const modules = agentView(catalog()).modules;
    expect(desiredGeneration([{ ...modules[0]!, init: { start: 'other', stop: null, restart: null } }, modules[1]!])).not.toBe(before);
    // A version that is not promoted far enough changes nothing.
    expect(agentView([...catalog(), versionBuilt('my-redis', '0.3.0'), ...promotedTo('my-redis', '0.3.0', 'staging')]).generation).toBe(before);
  });

  it('passes on why an assigned module has nothing to run, by module name and reason code', () => {
    const state = agentView([...catalog(), moduleRegistered('unpromoted'), versionBuilt('unpromoted', '1.0.0'), assigned('unpromoted')]);
    expect(state.modules.map((m) => m.module_name)).not.toContain('unpromoted');
    expect(state.unresolved).toEqual([expect.objectContaining({ module_name: 'unpromoted', code: 'no_eligible_version' })]);
  });

  it('reports two modules that provide the same capability as a provides_conflict', () => {
    const state = agentView([...catalog(), specUpdated('system-base', { provides: ['tcp:6379'] }), specUpdated('my-redis', { provides: ['tcp:6379'] })]);
    expect(state.unresolved).toEqual([expect.objectContaining({ module_name: 'my-redis', code: 'provides_conflict' })]);
  });
});
