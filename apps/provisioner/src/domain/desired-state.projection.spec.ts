import type { CatalogEvent } from '@powernode/contracts';
import { refusalOf } from '@powernode/testing';
import { foldEvents, type StoredEventLike } from '@powernode/events';
import { desiredModulesFor, type DesiredModules } from './desired-modules.js';
import { desiredStateProjection } from './desired-state.projection.js';
import {
  assigned,
  BASE_TEMPLATE_ID,
  channelChanged,
  composefsOf,
  INSTANCE_ID,
  moduleDeleted,
  moduleIdOf,
  moduleRegistered,
  NODE_ID,
  nodeCreated,
  promotedTo,
  provisionRequested,
  templateCreated,
  unassigned,
  versionBuilt,
  versionIdOf,
  T2,
} from './provisioner-fixtures.test-support.js';

/** The tutorial's catalog: my-redis 0.1.0 (requires system-base) and system-base 1.0.0, both live, my-redis assigned to base. */
function tutorialCatalog(): StoredEventLike[] {
  return [
    templateCreated('base'),
    moduleRegistered('system-base', { category: 'system-base', priority: 10 }),
    versionBuilt('system-base', '1.0.0'),
    ...promotedTo('system-base', '1.0.0', 'live'),
    moduleRegistered('my-redis', { requires: ['powernode/system-base@^1.0'], priority: 50 }),
    versionBuilt('my-redis', '0.1.0', { requires: ['powernode/system-base@^1.0'] }),
    ...promotedTo('my-redis', '0.1.0', 'live'),
    assigned('my-redis'),
  ];
}

function desired(events: StoredEventLike[], target: { node_id: string } | { instance_id: string } = { node_id: NODE_ID }): DesiredModules {
  return desiredModulesFor(foldEvents(desiredStateProjection, events), target);
}

const digestsOf = (d: DesiredModules): Record<string, string> => Object.fromEntries(Object.entries(d.modules).map(([name, m]) => [name, m.composefs_digest]));

describe('desired state', () => {
  it('desires the template closure with the live versions, dependencies first (tutorial step 9)', () => {
    const d = desired([...tutorialCatalog(), nodeCreated(), provisionRequested()], { instance_id: INSTANCE_ID });
    expect(Object.keys(d.modules)).toEqual(['system-base', 'my-redis']);
    expect(d.modules['my-redis']).toEqual({
      module_id: moduleIdOf('my-redis'),
      version_id: versionIdOf('my-redis', '0.1.0'),
      version_string: '0.1.0',
      promotion_state: 'live',
      composefs_digest: composefsOf('my-redis', '0.1.0'),
      oci_ref: '127.0.0.1:5000/acme/my-redis:v0.1.0',
      oci_digest: (versionBuilt('my-redis', '0.1.0').data as { oci_digest: string }).oci_digest,
      priority: 50,
      category: 'userland',
    });
    expect(d.modules['system-base']).toMatchObject({ priority: 10, category: 'system-base', version_string: '1.0.0' });
    expect(d).toMatchObject({ node_id: NODE_ID, node_template_id: BASE_TEMPLATE_ID, channel: 'live', unresolved: [] });
  });

  it('changes the desired digest when a newer version is promoted to live', () => {
    const before = [...tutorialCatalog(), nodeCreated(), versionBuilt('my-redis', '0.2.0', { requires: ['powernode/system-base@^1.0'] })];
    expect(desired(before).modules['my-redis']?.composefs_digest).toBe(composefsOf('my-redis', '0.1.0'));
    const after = [...before, ...promotedTo('my-redis', '0.2.0', 'live')];
    expect(desired(after).modules['my-redis']).toMatchObject({ version_string: '0.2.0', composefs_digest: composefsOf('my-redis', '0.2.0') });
  });

  it('moves back to the previous live version when the newer one is retired', () => {
    const events = [
      ...tutorialCatalog(),
      nodeCreated(),
      versionBuilt('my-redis', '0.2.0'),
      ...promotedTo('my-redis', '0.2.0', 'live'),
      ...promotedTo('my-redis', '0.2.0', 'retired', 'live'),
    ];
    expect(desired(events).modules['my-redis']).toMatchObject({ version_string: '0.1.0', composefs_digest: composefsOf('my-redis', '0.1.0') });
  });

  it('gives a staging-channel node a staging version that a live node does not get', () => {
    const catalog = [...tutorialCatalog(), versionBuilt('my-redis', '0.2.0'), ...promotedTo('my-redis', '0.2.0', 'staging')];
    const live = desired([...catalog, nodeCreated({ channel: 'live' })]);
    const staging = desired([...catalog, nodeCreated({ channel: 'staging' })]);
    expect(live.modules['my-redis']?.version_string).toBe('0.1.0');
    expect(staging.modules['my-redis']?.version_string).toBe('0.2.0');
  });

  it('gives a blessed-channel node blessed and live versions but not staging ones', () => {
    const catalog = [
      ...tutorialCatalog(),
      versionBuilt('my-redis', '0.2.0'),
      ...promotedTo('my-redis', '0.2.0', 'blessed'),
      versionBuilt('my-redis', '0.3.0'),
      ...promotedTo('my-redis', '0.3.0', 'staging'),
    ];
    expect(desired([...catalog, nodeCreated({ channel: 'blessed' })]).modules['my-redis']?.version_string).toBe('0.2.0');
  });

  it('follows a node moved to another channel', () => {
    const catalog = [...tutorialCatalog(), versionBuilt('my-redis', '0.2.0'), ...promotedTo('my-redis', '0.2.0', 'staging'), nodeCreated()];
    expect(desired(catalog).modules['my-redis']?.version_string).toBe('0.1.0');
    const moved = desired([...catalog, channelChanged('live', 'staging')]);
    expect(moved.channel).toBe('staging');
    expect(moved.modules['my-redis']?.version_string).toBe('0.2.0');
  });

  it('never chooses an unverified version, even a higher one marked live', () => {
    const events = [
      ...tutorialCatalog(),
      versionBuilt('my-redis', '9.0.0', { verified: false }),
      ...promotedTo('my-redis', '9.0.0', 'live'),
      nodeCreated({ channel: 'staging' }),
    ];
    expect(desired(events).modules['my-redis']?.version_string).toBe('0.1.0');
  });

  it('drops a live version whose signature fails re-verification, and takes it back when it passes again', () => {
    const built = versionBuilt('my-redis', '0.2.0').data as { oci_digest: string };
    const reverified = (verified: boolean, ociDigest = built.oci_digest): CatalogEvent => ({
      type: 'ModuleVersionReverified',
      data: {
        version_id: versionIdOf('my-redis', '0.2.0'),
        module_id: moduleIdOf('my-redis'),
        module_name: 'my-redis',
        version_string: '0.2.0',
        oci_digest: ociDigest,
        cosign_verified: verified,
        signer_identity: null,
        signer_issuer: null,
        cosign_identity_regexp: '.*',
        cosign_issuer_regexp: '.*',
        requested_by: 'operator',
        reverified_at: T2,
      },
    });
    const catalog = [...tutorialCatalog(), versionBuilt('my-redis', '0.2.0'), ...promotedTo('my-redis', '0.2.0', 'live'), nodeCreated()];
    expect(desired([...catalog, reverified(false)]).modules['my-redis']?.version_string).toBe('0.1.0');
    expect(desired([...catalog, reverified(false), reverified(true)]).modules['my-redis']?.version_string).toBe('0.2.0');
    // A verdict about another manifest is not a verdict about this version.
    expect(desired([...catalog, reverified(false, composefsOf('other', '1'))]).modules['my-redis']?.version_string).toBe('0.2.0');
  });

  it('never chooses a built (unpromoted) version, even on a staging node', () => {
    const events = [...tutorialCatalog(), versionBuilt('my-redis', '0.2.0'), nodeCreated({ channel: 'staging' })];
    expect(desired(events).modules['my-redis']?.version_string).toBe('0.1.0');
  });

  it('reports a module whose only versions are unverified as unresolved and does not desire it', () => {
    const events = [
      templateCreated(),
      moduleRegistered('my-redis'),
      versionBuilt('my-redis', '0.1.0', { verified: false }),
      assigned('my-redis'),
      nodeCreated({ channel: 'staging' }),
    ];
    const d = desired(events);
    expect(d.modules).toEqual({});
    expect(d.unresolved).toEqual([
      expect.objectContaining({
        reason: 'no_eligible_version',
        module: 'my-redis',
        required_by: null,
        channel: 'staging',
        candidates: [{ version: '0.1.0', promotion_state: 'built', cosign_verified: false }],
      }),
    ]);
  });

  it('desires a newly assigned module at the next computation, and drops it when unassigned', () => {
    const catalog = [
      templateCreated(),
      moduleRegistered('my-redis'),
      versionBuilt('my-redis', '0.1.0'),
      ...promotedTo('my-redis', '0.1.0', 'live'),
      nodeCreated(),
    ];
    expect(desired(catalog).modules).toEqual({});
    expect(Object.keys(desired([...catalog, assigned('my-redis')]).modules)).toEqual(['my-redis']);
    expect(desired([...catalog, assigned('my-redis'), unassigned('my-redis')]).modules).toEqual({});
  });

  it('pulls in dependencies that are not assigned to the template (transitively)', () => {
    const events = [
      templateCreated(),
      moduleRegistered('system-base'),
      versionBuilt('system-base', '1.2.0'),
      ...promotedTo('system-base', '1.2.0', 'live'),
      moduleRegistered('security-hardening', { requires: ['powernode/system-base@^1.0'] }),
      versionBuilt('security-hardening', '1.0.0'),
      ...promotedTo('security-hardening', '1.0.0', 'live'),
      moduleRegistered('my-redis', { requires: ['powernode/security-hardening@^1.0'] }),
      versionBuilt('my-redis', '0.1.0'),
      ...promotedTo('my-redis', '0.1.0', 'live'),
      assigned('my-redis'),
      nodeCreated(),
    ];
    expect(Object.keys(desired(events).modules)).toEqual(['system-base', 'security-hardening', 'my-redis']);
  });

  it('chooses the highest eligible version inside the range a dependent requires', () => {
    const events = [
      ...tutorialCatalog(),
      versionBuilt('system-base', '2.0.0'),
      ...promotedTo('system-base', '2.0.0', 'live'),
      versionBuilt('system-base', '1.4.0'),
      ...promotedTo('system-base', '1.4.0', 'live'),
      nodeCreated(),
    ];
    expect(desired(events).modules['system-base']?.version_string).toBe('1.4.0');
  });

  it('lets deleted modules vanish from the desired state', () => {
    const catalog = [
      templateCreated(),
      moduleRegistered('my-redis'),
      versionBuilt('my-redis', '0.1.0'),
      ...promotedTo('my-redis', '0.1.0', 'live'),
      assigned('my-redis'),
      nodeCreated(),
    ];
    expect(Object.keys(desired(catalog).modules)).toEqual(['my-redis']);
    const d = desired([...catalog, moduleDeleted('my-redis', [versionIdOf('my-redis', '0.1.0')])]);
    expect(d.modules).toEqual({});
    expect(d.unresolved).toEqual([]);
  });

  it('does not bring back versions of a deleted module when the name is registered again', () => {
    const events = [
      templateCreated(),
      moduleRegistered('my-redis'),
      versionBuilt('my-redis', '0.1.0'),
      ...promotedTo('my-redis', '0.1.0', 'live'),
      moduleDeleted('my-redis'),
      moduleRegistered('my-redis', { generation: 2 }),
      assigned('my-redis', 'base', 2),
      nodeCreated(),
    ];
    const d = desired(events);
    expect(d.modules).toEqual({});
    expect(d.unresolved).toEqual([expect.objectContaining({ reason: 'no_version_in_range', module: 'my-redis', available: [] })]);
  });

  it('reports a dependency the catalog does not have as module_missing', () => {
    const events = [
      templateCreated(),
      moduleRegistered('my-redis', { requires: ['powernode/system-base@^1.0'] }),
      versionBuilt('my-redis', '0.1.0'),
      ...promotedTo('my-redis', '0.1.0', 'live'),
      assigned('my-redis'),
      nodeCreated(),
    ];
    const d = desired(events);
    expect(Object.keys(d.modules)).toEqual(['my-redis']);
    expect(d.unresolved).toEqual([expect.objectContaining({ reason: 'module_missing', module: 'system-base', required_by: 'my-redis', range: '^1.0' })]);
  });

  it('reports a dependency only promoted to staging as not eligible for a live node', () => {
    const events = [
      templateCreated(),
      moduleRegistered('system-base'),
      versionBuilt('system-base', '1.0.0'),
      ...promotedTo('system-base', '1.0.0', 'staging'),
      moduleRegistered('my-redis', { requires: ['powernode/system-base@^1.0'] }),
      versionBuilt('my-redis', '0.1.0'),
      ...promotedTo('my-redis', '0.1.0', 'live'),
      assigned('my-redis'),
      nodeCreated(),
    ];
    const d = desired(events);
    expect(d.modules['system-base']).toBeUndefined();
    expect(d.unresolved).toEqual([
      expect.objectContaining({
        reason: 'no_eligible_version',
        module: 'system-base',
        required_by: 'my-redis',
        channel: 'live',
        candidates: [{ version: '1.0.0', promotion_state: 'staging', cosign_verified: true }],
      }),
    ]);
  });

  it('reports ranges no single version satisfies together as range_conflict', () => {
    const events = [
      templateCreated(),
      moduleRegistered('system-base'),
      versionBuilt('system-base', '1.0.0'),
      ...promotedTo('system-base', '1.0.0', 'live'),
      versionBuilt('system-base', '2.0.0'),
      ...promotedTo('system-base', '2.0.0', 'live'),
      moduleRegistered('a-mod', { requires: ['powernode/system-base@^1.0'] }),
      versionBuilt('a-mod', '1.0.0'),
      ...promotedTo('a-mod', '1.0.0', 'live'),
      moduleRegistered('b-mod', { requires: ['powernode/system-base@^2.0'] }),
      versionBuilt('b-mod', '1.0.0'),
      ...promotedTo('b-mod', '1.0.0', 'live'),
      assigned('a-mod'),
      assigned('b-mod'),
      nodeCreated(),
    ];
    const d = desired(events);
    expect(d.modules['system-base']).toBeUndefined();
    expect(d.unresolved).toEqual([expect.objectContaining({ reason: 'range_conflict', module: 'system-base' })]);
  });

  it('reports a dependency cycle with its path', () => {
    const events = [
      templateCreated(),
      moduleRegistered('a-mod', { requires: ['powernode/b-mod@*'] }),
      versionBuilt('a-mod', '1.0.0'),
      ...promotedTo('a-mod', '1.0.0', 'live'),
      moduleRegistered('b-mod', { requires: ['powernode/a-mod@*'] }),
      versionBuilt('b-mod', '1.0.0'),
      ...promotedTo('b-mod', '1.0.0', 'live'),
      assigned('a-mod'),
      nodeCreated(),
    ];
    expect(desired(events).unresolved).toEqual([expect.objectContaining({ reason: 'dependency_cycle', path: ['a-mod', 'b-mod', 'a-mod'] })]);
  });

  it('flags a chosen version whose own manifest requires something the node will not run', () => {
    const events = [
      templateCreated(),
      moduleRegistered('my-redis'),
      versionBuilt('my-redis', '0.2.0', { requires: ['powernode/security-hardening@^1.0'] }),
      ...promotedTo('my-redis', '0.2.0', 'live'),
      assigned('my-redis'),
      nodeCreated(),
    ];
    const d = desired(events);
    expect(d.modules['my-redis']?.version_string).toBe('0.2.0');
    expect(d.unresolved).toEqual([
      expect.objectContaining({
        reason: 'version_requirement_unmet',
        module: 'my-redis',
        version_string: '0.2.0',
        requirement: 'powernode/security-hardening@^1.0',
        have: null,
      }),
    ]);
  });

  it('reports a node whose template is not in the catalog', () => {
    const d = desired([nodeCreated({ template: 'ghost' })]);
    expect(d.modules).toEqual({});
    expect(d.unresolved).toEqual([expect.objectContaining({ reason: 'template_missing' })]);
  });

  it('ignores a rejected build', () => {
    const rejected: CatalogEvent = {
      type: 'ModuleVersionRejected',
      data: {
        version_id: versionIdOf('my-redis', '0.2.0'),
        module_id: moduleIdOf('my-redis'),
        module_name: 'my-redis',
        tag: 'v0.2.0',
        version_string: '0.2.0',
        oci_ref: null,
        oci_digest: null,
        reason_code: 'fsverity_mismatch',
        reason: 'fs-verity digest mismatch',
        rejected_at: T2,
      },
    };
    const events = [...tutorialCatalog(), versionBuilt('my-redis', '0.2.0'), ...promotedTo('my-redis', '0.2.0', 'live'), rejected, nodeCreated()];
    expect(desired(events).modules['my-redis']?.version_string).toBe('0.1.0');
  });

  it('keeps promotions when a build is redelivered', () => {
    const events = [...tutorialCatalog(), versionBuilt('my-redis', '0.1.0'), nodeCreated()];
    expect(desired(events).modules['my-redis']).toMatchObject({ version_string: '0.1.0', promotion_state: 'live' });
  });

  it('takes priority, category and requires changes of the module record', () => {
    const update: CatalogEvent = {
      type: 'ModuleUpdated',
      data: { module_id: moduleIdOf('my-redis'), name: 'my-redis', changes: { priority: 70, category: 'container-runtimes', requires: [] }, updated_at: T2 },
    };
    const d = desired([...tutorialCatalog(), update, nodeCreated()]);
    expect(Object.keys(d.modules)).toEqual(['my-redis']);
    expect(d.modules['my-redis']).toMatchObject({ priority: 70, category: 'container-runtimes' });
    // The version's own manifest still says it needs system-base: that is surfaced, not hidden.
    expect(d.unresolved).toEqual([expect.objectContaining({ reason: 'version_requirement_unmet', requirement: 'powernode/system-base@^1.0' })]);
  });

  it('skips events of other contexts', () => {
    const events: StoredEventLike[] = [...tutorialCatalog(), { type: 'TokenCreated', data: { token_id: 't' } }, nodeCreated()];
    expect(digestsOf(desired(events))).toEqual({ 'system-base': composefsOf('system-base', '1.0.0'), 'my-redis': composefsOf('my-redis', '0.1.0') });
  });

  it('refuses an unknown node or instance with not_found', () => {
    const state = foldEvents(desiredStateProjection, tutorialCatalog());
    expect(refusalOf(() => desiredModulesFor(state, { node_id: 'nope' }))).toMatchObject({ code: 'not_found', details: { rule: 'node_must_exist' } });
    expect(refusalOf(() => desiredModulesFor(state, { instance_id: 'nope' }))).toMatchObject({ code: 'not_found', details: { rule: 'instance_must_exist' } });
  });
});

describe('desired state folds in place', () => {
  const log = (): StoredEventLike[] => [
    ...tutorialCatalog(),
    templateCreated('edge'),
    assigned('system-base', 'edge'),
    nodeCreated(),
    provisionRequested(),
    channelChanged('live', 'blessed'),
    versionBuilt('my-redis', '0.2.0', { requires: ['powernode/system-base@^1.0'] }),
    ...promotedTo('my-redis', '0.2.0', 'blessed'),
    unassigned('system-base', 'edge'),
  ];

  it('gives deep-equal states when the same events are folded twice from fresh initial states', () => {
    const events = log();
    const eventsBefore = structuredClone(events);
    const initial = structuredClone(desiredStateProjection.initialState());
    const first = foldEvents(desiredStateProjection, events);
    const second = foldEvents(desiredStateProjection, events);
    expect(second).not.toBe(first);
    expect(second).toEqual(first);
    expect(JSON.parse(JSON.stringify(first))).toEqual(first);
    expect(foldEvents(desiredStateProjection, events.slice(9), JSON.parse(JSON.stringify(foldEvents(desiredStateProjection, events.slice(0, 9)))))).toEqual(
      first,
    );
    expect(events).toEqual(eventsBefore);
    expect(desiredStateProjection.initialState()).toEqual(initial);
    // What was assigned and then unassigned leaves nothing behind in the index.
    expect(first.template_ids_by_module).toEqual({ 'my-redis': { [BASE_TEMPLATE_ID]: true } });
  });

  it('does not change a desired set it returned when later events are folded', () => {
    const state = foldEvents(desiredStateProjection, [...tutorialCatalog(), nodeCreated()]);
    const before = desiredModulesFor(state, { node_id: NODE_ID });
    const snapshot = structuredClone(before);
    foldEvents(
      desiredStateProjection,
      [
        versionBuilt('my-redis', '0.2.0', { requires: ['powernode/system-base@^1.0'] }),
        ...promotedTo('my-redis', '0.2.0', 'live'),
        channelChanged('live', 'staging'),
        unassigned('my-redis'),
      ],
      state,
    );
    expect(before).toEqual(snapshot);
    expect(desiredModulesFor(state, { node_id: NODE_ID })).toMatchObject({ channel: 'staging', modules: {} });
  });

  it('takes a deleted module out of every template that lists it, and only those', () => {
    const state = foldEvents(desiredStateProjection, [
      ...tutorialCatalog(),
      templateCreated('edge'),
      templateCreated('bare'),
      assigned('system-base', 'edge'),
      assigned('my-redis', 'edge'),
      moduleDeleted('my-redis', [versionIdOf('my-redis', '0.1.0')]),
    ]);
    expect(Object.values(state.templates).map((t) => [t.name, t.modules])).toEqual([
      ['base', []],
      ['edge', ['system-base']],
      ['bare', []],
    ]);
    expect(Object.keys(state.template_ids_by_module)).toEqual(['system-base']);
    expect(state.versions[moduleIdOf('my-redis')]).toBeUndefined();
  });
});
