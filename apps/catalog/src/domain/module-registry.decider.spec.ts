import { given } from '@powernode/testing';
import { stateFromEvents } from '@powernode/events';
import { moduleRegistryDecider, moduleIdHoldingName, type ModuleRegistryEvent } from './module-registry.decider.js';
import { T0, T1 } from './catalog-fixtures.test-support.js';

const claimed = (module_id: string, name: string, repo: string): ModuleRegistryEvent => ({
  type: 'ModuleIdentityClaimed',
  data: { module_id, name, gitea_repo_full_name: repo, claimed_at: T0 },
});
const released = (module_id: string, name: string, repo: string): ModuleRegistryEvent => ({
  type: 'ModuleIdentityReleased',
  data: { module_id, name, gitea_repo_full_name: repo, released_at: T1 },
});
const claim = (module_id: string, name: string, gitea_repo_full_name: string) => ({
  type: 'ClaimModuleIdentity' as const,
  module_id,
  name,
  gitea_repo_full_name,
  now: T0,
});

describe('module registry decider', () => {
  it('claims a free name and repository', () => {
    given(moduleRegistryDecider, [])
      .when(claim('m1', 'my-redis', 'acme/redis'))
      .then([claimed('m1', 'my-redis', 'acme/redis')]);
  });

  it('refuses a name another module holds (already_exists)', () => {
    given(moduleRegistryDecider, [claimed('m1', 'my-redis', 'acme/redis')])
      .when(claim('m2', 'my-redis', 'acme/other'))
      .thenRefuses({ code: 'already_exists', rule: 'module_name_unique', message: /a module named "my-redis" already exists/ });
  });

  it('refuses a repository another module holds, whatever its letter case', () => {
    given(moduleRegistryDecider, [claimed('m1', 'my-redis', 'Acme/Redis')])
      .when(claim('m2', 'other', 'acme/redis'))
      .thenRefuses({ code: 'already_exists', rule: 'repository_unique' });
  });

  it('treats a retried claim by the same module as done', () => {
    given(moduleRegistryDecider, [claimed('m1', 'my-redis', 'acme/redis')])
      .when(claim('m1', 'my-redis', 'acme/redis'))
      .then([]);
  });

  it('refuses a module id that already holds another name', () => {
    given(moduleRegistryDecider, [claimed('m1', 'my-redis', 'acme/redis')])
      .when(claim('m1', 'other', 'acme/other'))
      .thenRefuses({ code: 'already_exists', rule: 'module_id_unique' });
  });

  it('lets a released name be registered again by a new module', () => {
    const history = [claimed('m1', 'my-redis', 'acme/redis'), released('m1', 'my-redis', 'acme/redis')];
    given(moduleRegistryDecider, history)
      .when(claim('m2', 'my-redis', 'acme/redis'))
      .then([claimed('m2', 'my-redis', 'acme/redis')]);
    expect(moduleIdHoldingName(stateFromEvents(moduleRegistryDecider, history), 'my-redis')).toBeNull();
  });

  it('releases what a module holds', () => {
    given(moduleRegistryDecider, [claimed('m1', 'my-redis', 'acme/redis')])
      .when({ type: 'ReleaseModuleIdentity', module_id: 'm1', now: T1 })
      .then([released('m1', 'my-redis', 'acme/redis')]);
  });

  it('treats releasing an identity not held as done', () => {
    given(moduleRegistryDecider, []).when({ type: 'ReleaseModuleIdentity', module_id: 'm9', now: T1 }).then([]);
  });

  it('folds a long registry stream (one claim per module) into exactly the identities still held, the same way every time', () => {
    const history: ModuleRegistryEvent[] = [];
    for (let i = 0; i < 2000; i++) history.push(claimed(`m${i}`, `mod-${i}`, `acme/Mod-${i}`));
    for (let i = 0; i < 2000; i += 2) history.push(released(`m${i}`, `mod-${i}`, `acme/Mod-${i}`));
    const state = stateFromEvents(moduleRegistryDecider, history);
    expect(stateFromEvents(moduleRegistryDecider, history)).toEqual(state);
    expect(Object.keys(state.names)).toHaveLength(1000);
    expect(moduleIdHoldingName(state, 'mod-1')).toBe('m1');
    expect(moduleIdHoldingName(state, 'mod-2')).toBeNull();
    expect(state.repositories['acme/mod-1999']).toBe('m1999');
    expect(state.holders['m0']).toBeUndefined();
    expect(moduleRegistryDecider.initialState()).toEqual({ names: {}, repositories: {}, holders: {} });
    given(moduleRegistryDecider, history)
      .when(claim('m-new', 'mod-2', 'acme/mod-2'))
      .then([claimed('m-new', 'mod-2', 'acme/mod-2')]);
    given(moduleRegistryDecider, history)
      .when(claim('m-new', 'mod-3', 'acme/other'))
      .thenRefuses({ code: 'already_exists', rule: 'module_name_unique' });
  });
});
