import { rm } from 'node:fs/promises';
import {
  convergedOn,
  eventually,
  expectNoDuplicateEvents,
  heartbeatAfter,
  nodeOf,
  promoteThrough,
  publishProbe,
  registerProbe,
  runningInstance,
  startE2ePlatform,
  templateAndNode,
  type E2ePlatform,
  type ProbeModule,
} from './e2e-platform.test-support.js';

/*
 * Rollouts across the whole platform with the real agent: a newer version promoted to live reaches running
 * instances (drift true until it has), retiring it brings them back, and a node's channel decides whether it
 * takes a version that is only at staging.
 */

let e: E2ePlatform;
let probe: ProbeModule;

beforeAll(async () => {
  e = await startE2ePlatform();
  probe = await registerProbe(e, 'rollout');
}, 180_000);

afterAll(async () => {
  await e?.stop();
  if (probe) await rm(probe.work, { recursive: true, force: true });
}, 120_000);

describe('rolling a module version out and back', () => {
  it('moves instances to what their channel allows: staging first, live after promotion, back on retirement', async () => {
    const v1 = await publishProbe(e, probe, '1.0.0');
    await promoteThrough(e, v1.version.id, 'staging', 'blessed', 'live');
    const { templateId, nodeId: liveNode } = await templateAndNode(e, 'rollout', [probe.name], 'live');
    const stagingNode = await nodeOf(e, templateId, 'rollout-staging', 'staging');
    const onLive = await runningInstance(e, liveNode, probe.name, v1.version.composefs_digest!);
    const onStaging = await runningInstance(e, stagingNode, probe.name, v1.version.composefs_digest!);

    // 1.1.0 at staging: the staging node takes it, the live node does not.
    const v2 = await publishProbe(e, probe, '1.1.0');
    expect(v2.version.composefs_digest).not.toBe(v1.version.composefs_digest);
    await promoteThrough(e, v2.version.id, 'staging');
    await convergedOn(e, onStaging, probe.name, v2.version.composefs_digest!);
    const stagedAt = new Date().toISOString();
    const live = await heartbeatAfter(e, onLive, stagedAt);
    expect(live.running_module_digests).toEqual({ [probe.name]: v1.version.composefs_digest });
    expect(await e.drift(onLive)).toMatchObject({ drift: false, mismatched: {}, missing: {} });

    // 1.1.0 to live while its composefs description cannot be fetched: the live instance is told to move but
    // cannot yet, and the drift report says so for as long as it has not.
    e.gate.setMode({ kind: 'stall_blob', digest: v2.descriptionLayer, afterBytes: 1 });
    await promoteThrough(e, v2.version.id, 'blessed', 'live');
    await e.gate.stalled();
    const drifting = await eventually('the drift report of the live instance to name the new version', async () => {
      const report = await e.drift(onLive);
      return report.drift ? report : null;
    });
    expect(drifting).toMatchObject({
      drift: true,
      missing: {},
      extra: {},
      mismatched: { [probe.name]: { want: v2.version.composefs_digest, have: v1.version.composefs_digest } },
    });
    expect((await e.instance(onLive)).running_module_digests).toEqual({ [probe.name]: v1.version.composefs_digest });
    e.gate.setMode({ kind: 'open' });
    await convergedOn(e, onLive, probe.name, v2.version.composefs_digest!);
    expect((await e.drift(onStaging)).drift).toBe(false);

    // Retired: both go back to the newest version their channel still allows.
    await promoteThrough(e, v2.version.id, 'retired');
    await convergedOn(e, onLive, probe.name, v1.version.composefs_digest!);
    await convergedOn(e, onStaging, probe.name, v1.version.composefs_digest!);
    expect(await e.drift(onStaging)).toMatchObject({ drift: false, unresolved: [] });

    // What each instance reported, in order, is the path it took — and nothing was recorded twice.
    for (const [id, path] of [
      [onLive, [v1, v2, v1]],
      [onStaging, [v1, v2, v1]],
    ] as const) {
      const events = await e.events(`instance-${id}`);
      expectNoDuplicateEvents(events);
      const reported = events
        .filter((ev) => ev.type === 'InstanceHeartbeatReceived')
        .map((ev) => ev.data.running_module_digests[probe.name])
        .filter((d) => d !== undefined);
      const distinct = reported.filter((d, i) => i === 0 || d !== reported[i - 1]);
      expect(distinct).toEqual(path.map((v) => v.version.composefs_digest));
    }
  }, 240_000);
});
