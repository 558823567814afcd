import { randomBytes } from 'node:crypto';
import { cp, mkdir, readFile, rm, writeFile } from 'node:fs/promises';
import path from 'node:path';
/* eslint-disable @nx/enforce-module-boundaries -- the demo's own steps are what these tests drive and check */
import { MY_REDIS } from '../../../../scripts/demo/example-modules.js';
import { publishModule, waitForVersion } from '../../../../scripts/demo/steps.js';
/* eslint-enable @nx/enforce-module-boundaries */
import {
  promoteThrough,
  registerProbe,
  runningInstance,
  startE2ePlatform,
  templateAndNode,
  type E2ePlatform,
  type ProbeModule,
} from './e2e-platform.test-support.js';

/*
 * The tutorial's "ssh in and check" step on the local driver with the real agent: a module shipping the
 * tutorial's redis.conf is published, ingested, promoted and run; `instances exec` then reads the file inside
 * the instance's composed root, and the instance's stream records that the command ran.
 */

let e: E2ePlatform;
let probe: ProbeModule;

beforeAll(async () => {
  e = await startE2ePlatform();
  probe = await registerProbe(e, 'exec');
}, 180_000);

afterAll(async () => {
  await e?.stop();
  if (probe) await rm(probe.work, { recursive: true, force: true });
}, 120_000);

describe('instances exec on a local instance', () => {
  it('reads the redis.conf the module shipped from inside the running instance and records the command', async () => {
    const dir = path.join(probe.work, 'module');
    await mkdir(dir, { recursive: true });
    await cp(path.join(MY_REDIS.dir, 'rootfs'), path.join(dir, 'rootfs'), { recursive: true });
    await writeFile(
      path.join(dir, 'manifest.yaml'),
      `schema_version: 1\nname: ${probe.name}\ndisplay_name: "Exec probe"\ndescription: "Ships the tutorial's redis.conf"\nlicense: "MIT"\nfile_spec:\n  - "/etc/redis/**"\n  - "/var/lib/redis/**"\n`,
    );
    await publishModule(e.ctx, { dir, repo: probe.repo, tag: 'v1.0.0', webhookSecret: probe.webhookSecret });
    const version = await waitForVersion(e.ctx, probe.name, '1.0.0');
    await promoteThrough(e, version.id, 'staging', 'blessed', 'live');
    const { nodeId } = await templateAndNode(e, `exec-${randomBytes(2).toString('hex')}`, [probe.name]);
    const instanceId = await runningInstance(e, nodeId, probe.name, version.composefs_digest!);

    const answer = await e.rest('POST', `/instances/${instanceId}/exec`, { argv: ['/bin/cat', '/etc/redis/redis.conf'] });
    expect(answer.status).toBe(200);
    expect(answer.body).toMatchObject({ exit_code: 0, stderr: '', timed_out: false, truncated: false });
    expect(answer.body.stdout).toBe(await readFile(path.join(MY_REDIS.dir, 'rootfs/etc/redis/redis.conf'), 'utf8'));

    const events = await e.events(`instance-${instanceId}`);
    const executed = events.filter((ev) => ev.type === 'InstanceCommandExecuted');
    expect(executed).toHaveLength(1);
    expect(executed[0]!.data).toMatchObject({ instance_id: instanceId, argv: ['/bin/cat', '/etc/redis/redis.conf'], exit_code: 0, timed_out: false });
    expect(JSON.stringify(executed[0]!.data)).not.toContain('bind ');
  }, 240_000);
});
