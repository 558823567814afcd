import { spawnSync } from 'node:child_process';
import { connect } from 'node:net';
import { cp, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
/* eslint-disable @nx/enforce-module-boundaries -- the demo's own steps are what these tests drive and check */
import { MY_REDIS } from '../../../../scripts/demo/example-modules.js';
import { PlatformClient } from '../../../../scripts/demo/platform-client.js';
import { ensurePrerequisites } from '../../../../scripts/demo/prerequisites.js';
import { ensureModule, promoteVersion, publishNextVersion, waitUntil } from '../../../../scripts/demo/steps.js';
/* eslint-enable @nx/enforce-module-boundaries */
import { agentProcessesOf } from '../provisioner-platform.js';
import { runDemoScript, startE2ePlatform, type E2ePlatform } from './e2e-platform.test-support.js';

/*
 * Instances as machines: the platform on the nspawn driver, modules built with their Debian packages, and
 * the tutorial's last step checked on the instance itself. Needs root, systemd-nspawn and mmdebstrap (CI
 * installs them); the base build is cached between runs.
 */

const canBootMachines =
  process.getuid?.() === 0 && spawnSync('systemd-nspawn', ['--version']).status === 0 && spawnSync('mmdebstrap', ['--version']).status === 0;
const describeMachines = canBootMachines ? describe : describe.skip;

let e: E2ePlatform;

/**
 * Processes of an instance's machine: its nspawn (which carries the machine name) and every process inside it
 * (whose root mount is the overlay with the instance's upper dir) — a PID 1 orphaned by a killed nspawn too.
 */
function machineProcessesOf(instanceId: string): number[] {
  const marker = `pn-${instanceId.toLowerCase()}`;
  const pids: number[] = [];
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const cmdline = readFileSync(`/proc/${entry}/cmdline`, 'utf8').split('\0').join(' ');
      const rootMount = readFileSync(`/proc/${entry}/mountinfo`, 'utf8')
        .split('\n')
        .find((line) => line.split(' ')[4] === '/');
      if (cmdline.includes(`--machine=${marker.slice(0, 64)}`) || rootMount?.includes(`/instances/${instanceId}/`) === true) pids.push(Number(entry));
    } catch {
      // gone meanwhile
    }
  }
  return pids;
}

/** The instance's machine PID 1s (processes of it that are PID 1 of their own pid namespace). */
function machineInitsOf(instanceId: string): number[] {
  return machineProcessesOf(instanceId).filter((pid) => {
    try {
      return /^NSpid:\s+\d+\s+1$/m.test(readFileSync(`/proc/${pid}/status`, 'utf8'));
    } catch {
      return false;
    }
  });
}

async function exec(instanceId: string, argv: string[]): Promise<{ status: number; body: any }> {
  return e.rest('POST', `/instances/${instanceId}/exec`, { argv, timeout_ms: 30_000 });
}

async function ping(instanceId: string): Promise<string> {
  const answer = await exec(instanceId, ['redis-cli', 'ping']);
  return answer.status === 200 ? String(answer.body.stdout).trim() : `HTTP ${answer.status}`;
}

/** The first line redis answers to PING over TCP from the host: `+PONG`, or `-DENIED …` from protected mode. */
function redisReplyFromHost(address: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const socket = connect({ host: address, port: 6379, timeout: 5_000 });
    let received = '';
    socket.once('connect', () => socket.write('PING\r\n'));
    socket.on('data', (chunk) => {
      received += chunk.toString('utf8');
      if (received.includes('\r\n')) {
        socket.destroy();
        resolve(received.split('\r\n')[0]!);
      }
    });
    socket.once('timeout', () => socket.destroy(new Error(`no answer from ${address}:6379 within 5 s`)));
    socket.once('error', reject);
  });
}

describeMachines('instances as machines (nspawn)', () => {
  beforeAll(async () => {
    e = await startE2ePlatform({ hypervisor: 'nspawn' });
  }, 180_000);

  afterAll(async () => {
    await e?.stop();
  }, 180_000);

  it('npm run demo ends on the instance: systemctl is-active redis-server prints active and redis-cli ping prints PONG', async () => {
    const run = await runDemoScript(e);
    expect({ code: run.code, failure: run.stderr.match(/demo failed: .*/)?.[0] ?? null }).toEqual({ code: 0, failure: null });
    const onInstance = run.steps.filter((s) => s.step === 'on the instance' && s.command !== undefined);
    // powernode instances exec <id> -- <argv…>
    expect(onInstance.map((s) => [s.command!.slice(5).join(' '), s.result.exit_code, s.result.stdout])).toEqual([
      ['systemctl is-active redis-server', 0, 'active'],
      ['redis-cli ping', 0, 'PONG'],
    ]);
    const instanceId = onInstance[0]!.command![3]!;
    // The demo terminated its instance: nothing of the machine is left.
    expect((await e.instance(instanceId)).status).toBe('terminated');
    await waitUntil(
      'the terminated machine to be gone',
      async () => machineProcessesOf(instanceId).length === 0 && agentProcessesOf(instanceId).length === 0,
      30_000,
    );
    expect(existsSync(path.join(e.target.dataDir, 'instances', instanceId))).toBe(false);
    const refused = await exec(instanceId, ['redis-cli', 'ping']);
    expect(refused.status).toBe(409);
    expect(refused.body.code).toBe('instance_terminated');
  }, 900_000);

  it('upgrades in place, comes back after its machine is killed, rolls back a generation whose service fails, and reports a service failing on first boot', async () => {
    const approverToken = (await e.client.call<{ token: string }>('system_create_token', { role: 'approver', name: 'machine-approver' })).token;
    const approver = { client: new PlatformClient(e.target.url, approverToken), label: 'approver' };
    await ensurePrerequisites(e.ctx, approver);
    const { webhook_secret } = await ensureModule(e.ctx, MY_REDIS);
    const first = await publishNextVersion(e.ctx, MY_REDIS, webhook_secret);
    for (const to of ['staging', 'blessed', 'live']) await promoteVersion(e.ctx, first.version.id, to, approver);
    const { templates } = await e.client.call<{ templates: Array<{ id: string; name: string }> }>('system_list_templates', {});
    const base = templates.find((t) => t.name === 'base')!;
    await e.client.call('system_assign_module_to_template', { template_id: base.id, module_name: MY_REDIS.name });
    const { node } = await e.client.call<{ node: { id: string } }>('system_create_node', { hostname: 'redis-machine-1', node_template_id: base.id });
    const { instance } = await e.client.call<{ instance: { id: string } }>('system_provision_instance', { node_id: node.id });
    await waitUntil('PONG from the instance', async () => (await ping(instance.id)) === 'PONG', 300_000, 500);
    // The unit states arrive with the heartbeat after the modules were started.
    const view = await waitUntil(
      'the instance to report its services',
      async () => {
        const seen = await e.instance(instance.id);
        return seen.services?.length > 0 ? seen : null;
      },
      30_000,
    );
    expect(view.services).toContainEqual(
      expect.objectContaining({ module: 'my-redis', name: 'redis-server.service', state: 'active', since: expect.any(String) }),
    );
    // The instance's agent is a service of the machine itself (the host process is only its keeper): it is
    // what reported those services, through the machine's link to the host.
    const agentUnit = await exec(instance.id, ['systemctl', 'show', '-p', 'ActiveState,MainPID', 'powernode-agent.service']);
    expect(agentUnit.body.stdout).toContain('ActiveState=active');
    const agentPidInside = Number(/MainPID=(\d+)/.exec(agentUnit.body.stdout)?.[1]);
    expect(agentPidInside).toBeGreaterThan(1);
    expect((await exec(instance.id, ['cat', `/proc/${agentPidInside}/cmdline`])).body.stdout).toContain('/opt/powernode/app/apps/agent/dist/main.js');
    // The machine has its own address, which the host reaches: redis answers there (protected mode refuses
    // commands from outside the machine, but it is redis that answers).
    expect(view.address).toMatch(/^10\.213\.\d+\.\d+$/);
    expect(await redisReplyFromHost(view.address)).toMatch(/^(\+PONG|-DENIED)/);

    // SIGKILL of the machine: its keeper boots it again and redis answers again.
    const killed = machineProcessesOf(instance.id).find((pid) => readFileSync(`/proc/${pid}/cmdline`, 'utf8').startsWith('systemd-nspawn'));
    expect(killed).toEqual(expect.any(Number));
    process.kill(killed!, 'SIGKILL');
    await waitUntil('PONG after the machine was killed', async () => (await ping(instance.id)) === 'PONG', 120_000, 500);
    // The killed machine's own PID 1 (which outlives its nspawn) was ended: one machine runs, not two.
    expect(machineInitsOf(instance.id)).toHaveLength(1);
    // Rebooted, the machine keeps its address.
    await waitUntil('the address after the reboot', async () => (await e.instance(instance.id)).address === view.address, 30_000, 250);
    expect(await redisReplyFromHost(view.address)).toMatch(/^(\+PONG|-DENIED)/);

    // v0.2: a changed config file reaches the instance, and redis still answers.
    const changed = await mkdtemp(path.join(os.tmpdir(), 'pn-redis-v2-'));
    try {
      await cp(MY_REDIS.dir, changed, { recursive: true });
      const conf = path.join(changed, 'rootfs/etc/redis/redis.conf');
      await writeFile(conf, `${await readFile(conf, 'utf8')}\n# powernode upgrade marker v0.2\n`);
      const second = await publishNextVersion(e.ctx, MY_REDIS, webhook_secret, changed);
      for (const to of ['staging', 'blessed', 'live']) await promoteVersion(e.ctx, second.version.id, to, approver);
      await waitUntil(
        'the instance to run the new version',
        async () => (await e.instance(instance.id)).running_module_digests['my-redis'] === second.version.composefs_digest,
        300_000,
        500,
      );
      const conf2 = await exec(instance.id, ['cat', '/etc/redis/redis.conf']);
      expect(conf2.body.stdout).toContain('# powernode upgrade marker v0.2');
      await waitUntil('PONG after the upgrade', async () => (await ping(instance.id)) === 'PONG', 60_000, 500);
    } finally {
      await rm(changed, { recursive: true, force: true });
    }

    // A service that cannot start: failed, and the drift report says so.
    const broken = await mkdtemp(path.join(os.tmpdir(), 'pn-broken-'));
    try {
      await writeFile(
        path.join(broken, 'manifest.yaml'),
        [
          'schema_version: 1',
          'name: broken-service',
          'dependencies:',
          '  requires: ["powernode/system-base@^1.0"]',
          'services:',
          '  - name: broken-service',
          '    start_command: "/bin/false"',
          '    restart_policy: never',
          'init:',
          '  start: "systemctl start broken-service"',
          '',
        ].join('\n'),
      );
      const module: typeof MY_REDIS = {
        name: 'broken-service',
        dir: broken,
        category: 'userland',
        repo: 'demo/modules/broken-service',
        series: '1.0',
        approval_policy: 'auto_approve',
      };
      const registered = await ensureModule(e.ctx, module);
      const published = await publishNextVersion(e.ctx, module, registered.webhook_secret);
      for (const to of ['staging', 'blessed', 'live']) await promoteVersion(e.ctx, published.version.id, to, approver);
      await e.client.call('system_assign_module_to_template', { template_id: base.id, module_name: 'broken-service' });
      // The generation that adds it does not come up, so the machine goes back to the previous root: redis
      // keeps answering, and the report says what is missing and why.
      const drift = await waitUntil(
        'the drift report to name the module that did not come up',
        async () => {
          const report = (await e.drift(instance.id)) as any;
          return report.missing?.['broken-service'] !== undefined && (await e.instance(instance.id)).errors.length > 0 ? report : null;
        },
        300_000,
        500,
      );
      expect(drift).toMatchObject({ drift: true });
      const errors = (await e.instance(instance.id)).errors as Array<{ module: string | null; message: string }>;
      expect(errors).toContainEqual(
        expect.objectContaining({ module: 'broken-service', message: expect.stringMatching(/rolled back .*broken-service\.service failed/) }),
      );
      expect(await ping(instance.id)).toBe('PONG');
      await e.client.call('system_unassign_module_from_template', { template_id: base.id, module_name: 'broken-service' });

      // On a first provision there is no earlier root to go back to: the unit stays failed and drift says so.
      const { template: alone } = await e.client.call<{ template: { id: string } }>('system_create_template', { name: 'broken-first' });
      await e.client.call('system_assign_module_to_template', { template_id: alone.id, module_name: 'broken-service' });
      const { node: brokenNode } = await e.client.call<{ node: { id: string } }>('system_create_node', {
        hostname: 'broken-machine-1',
        node_template_id: alone.id,
      });
      const { instance: brokenInstance } = await e.client.call<{ instance: { id: string } }>('system_provision_instance', { node_id: brokenNode.id });
      const failedReport = await waitUntil(
        'the drift report of a first provision to list the failed unit',
        async () => {
          const report = (await e.drift(brokenInstance.id)) as any;
          return report.services_failed?.length > 0 ? report : null;
        },
        300_000,
        500,
      );
      expect(failedReport).toMatchObject({
        drift: true,
        services_failed: [expect.objectContaining({ module: 'broken-service', name: 'broken-service.service' })],
      });
      expect((await e.instance(brokenInstance.id)).services).toContainEqual(
        expect.objectContaining({ module: 'broken-service', name: 'broken-service.service', state: 'failed' }),
      );
      await e.client.call('system_terminate_instance', { id: brokenInstance.id });
      await waitUntil('the failed machine to be gone', async () => machineProcessesOf(brokenInstance.id).length === 0, 60_000);
    } finally {
      await rm(broken, { recursive: true, force: true });
    }

    // Terminate: the machine powers off and nothing of it is left.
    await e.client.call('system_terminate_instance', { id: instance.id });
    await waitUntil('the machine to be gone', async () => machineProcessesOf(instance.id).length === 0 && agentProcessesOf(instance.id).length === 0, 60_000);
    await e.client.call('system_unassign_module_from_template', { template_id: base.id, module_name: MY_REDIS.name });
  }, 1_500_000);
});
