import { foldEvents, type StoredEventLike } from '@powernode/events';
import { desiredModulesFor, type DesiredModule } from './desired-modules.js';
import { desiredStateProjection } from './desired-state.projection.js';
import { driftReport, instanceDriftReport } from './drift-report.js';
import { instancesProjection, instanceView } from './instances.projection.js';
import {
  assigned,
  composefsOf,
  digestOf,
  heartbeatReceived,
  historyTo,
  INSTANCE_ID,
  moduleRegistered,
  nodeCreated,
  promotedTo,
  templateCreated,
  T1,
  versionBuilt,
} from './provisioner-fixtures.test-support.js';

const want = (digest: string): DesiredModule => ({
  module_id: 'm',
  version_id: 'v',
  version_string: '1.0.0',
  promotion_state: 'live',
  composefs_digest: digest,
  oci_ref: 'r',
  oci_digest: digestOf('oci'),
  priority: 0,
  category: 'userland',
});
const [dA, dA2, dB, dC] = [digestOf('a'), digestOf('a2'), digestOf('b'), digestOf('c')];

/** The tutorial's history up to an instance whose agent reports my-redis 0.1.0 (live) running. */
function myRedisRunningLive(): StoredEventLike[] {
  return [
    templateCreated(),
    moduleRegistered('my-redis'),
    versionBuilt('my-redis', '0.1.0'),
    ...promotedTo('my-redis', '0.1.0', 'live'),
    assigned('my-redis'),
    nodeCreated(),
    ...historyTo('running'),
    heartbeatReceived(T1, { running_module_digests: { 'my-redis': composefsOf('my-redis', '0.1.0') } }),
  ];
}

describe('drift report', () => {
  it('reports no drift when every desired module runs at the desired digest', () => {
    expect(driftReport({ modules: { A: want(dA), B: want(dB) } }, { A: dA, B: dB })).toEqual({ drift: false, missing: {}, extra: {}, mismatched: {} });
  });

  it('reports missing, extra and mismatched modules (reference rule 39)', () => {
    expect(driftReport({ modules: { A: want(dA), B: want(dB) } }, { A: dA2, C: dC })).toEqual({
      drift: true,
      missing: { B: dB },
      extra: { C: dC },
      mismatched: { A: { want: dA, have: dA2 } },
    });
  });

  it('reports everything missing before the first heartbeat', () => {
    expect(driftReport({ modules: { A: want(dA) } }, {})).toEqual({ drift: true, missing: { A: dA }, extra: {}, mismatched: {} });
  });

  it('reports a running module that is no longer desired as extra', () => {
    expect(driftReport({ modules: {} }, { A: dA })).toEqual({ drift: true, missing: {}, extra: { A: dA }, mismatched: {} });
  });

  it('does not mistake inherited object keys for modules', () => {
    expect(driftReport({ modules: { constructor: want(dA) } }, {})).toEqual({ drift: true, missing: { constructor: dA }, extra: {}, mismatched: {} });
  });

  it("says drift when a desired module's unit failed inside the instance, listing it under services_failed", () => {
    const events = myRedisRunningLive();
    const desired = desiredModulesFor(foldEvents(desiredStateProjection, events), { instance_id: INSTANCE_ID });
    const view = instanceView(foldEvents(instancesProjection, events), INSTANCE_ID);
    const services = [
      { module: 'my-redis', name: 'redis-server.service', state: 'failed' as const, since: T1 },
      { module: 'my-redis', name: 'redis-sentinel.service', state: 'active' as const, since: T1 },
    ];
    expect(instanceDriftReport(desired, { ...view, services })).toMatchObject({
      drift: true,
      missing: {},
      mismatched: {},
      services_failed: [{ module: 'my-redis', name: 'redis-server.service', since: T1 }],
    });
  });

  it('says drift when the kernel refused a file of the instance, listing it under integrity', () => {
    const events = myRedisRunningLive();
    const desired = desiredModulesFor(foldEvents(desiredStateProjection, events), { instance_id: INSTANCE_ID });
    const view = instanceView(foldEvents(instancesProjection, events), INSTANCE_ID);
    const integrity = [{ path: '/etc/redis/redis.conf', module: 'my-redis', detected_at: T1 }];
    expect(instanceDriftReport(desired, { ...view, integrity })).toMatchObject({ drift: true, missing: {}, mismatched: {}, services_failed: [], integrity });
  });

  it('gives the tutorial its { drift: false } once my-redis runs at the live digest', () => {
    const events = myRedisRunningLive();
    const desired = desiredModulesFor(foldEvents(desiredStateProjection, events), { instance_id: INSTANCE_ID });
    const instance = instanceView(foldEvents(instancesProjection, events), INSTANCE_ID);
    expect(instanceDriftReport(desired, instance)).toEqual({
      drift: false,
      missing: {},
      extra: {},
      mismatched: {},
      instance_id: INSTANCE_ID,
      missing_count: 0,
      extra_count: 0,
      mismatched_count: 0,
      services_failed: [],
      integrity: [],
      last_heartbeat_at: T1,
      heartbeat_stale: false,
      unresolved: [],
    });
  });

  it('reports the old digest as mismatched after a newer version goes live', () => {
    const events: StoredEventLike[] = [...myRedisRunningLive(), versionBuilt('my-redis', '0.2.0'), ...promotedTo('my-redis', '0.2.0', 'live')];
    const desired = desiredModulesFor(foldEvents(desiredStateProjection, events), { instance_id: INSTANCE_ID });
    const report = instanceDriftReport(desired, instanceView(foldEvents(instancesProjection, events), INSTANCE_ID));
    expect(report).toMatchObject({
      drift: true,
      mismatched_count: 1,
      mismatched: { 'my-redis': { want: composefsOf('my-redis', '0.2.0'), have: composefsOf('my-redis', '0.1.0') } },
    });
  });
});
