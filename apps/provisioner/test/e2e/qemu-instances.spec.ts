import { spawnSync } from 'node:child_process';
import { open, readFile } from 'node:fs/promises';
import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
/* eslint-disable @nx/enforce-module-boundaries -- the demo's own steps are what these tests drive and check */
import { MY_REDIS } from '../../../../scripts/demo/example-modules.js';
import { PlatformClient } from '../../../../scripts/demo/platform-client.js';
import { ensurePrerequisites } from '../../../../scripts/demo/prerequisites.js';
import { ensureModule, promoteVersion, publishNextVersion, waitUntil } from '../../../../scripts/demo/steps.js';
/* eslint-enable @nx/enforce-module-boundaries */
import { startE2ePlatform, type E2ePlatform } from './e2e-platform.test-support.js';

/*
 * Instances as QEMU virtual machines (TCG here: no usable KVM), booting a Debian kernel and systemd on the
 * instance's verified layers with the composefs-style verity=require root. Needs root, qemu-system-x86,
 * mmdebstrap, busybox-static, erofs-utils, attr, gcc (the initramfs's fs-verity enabler) and the Debian
 * mirror (the guest kernel is downloaded on first use). One VM at a time: TCG boots take the cores.
 */

const canBootVms =
  process.getuid?.() === 0 &&
  spawnSync('qemu-system-x86_64', ['--version']).status === 0 &&
  spawnSync('mmdebstrap', ['--version']).status === 0 &&
  spawnSync('mkfs.erofs', ['--help']).status !== null;
const describeVms = canBootVms ? describe : describe.skip;

let e: E2ePlatform;

async function exec(instanceId: string, argv: string[], timeoutMs = 60_000): Promise<{ status: number; body: any }> {
  return e.rest('POST', `/instances/${instanceId}/exec`, { argv, timeout_ms: timeoutMs });
}

async function ping(instanceId: string): Promise<string> {
  const answer = await exec(instanceId, ['redis-cli', 'ping']);
  return answer.status === 200 ? String(answer.body.stdout).trim() : `HTTP ${answer.status}`;
}

/** The QEMU processes of an instance (their -name carries the instance id). */
function qemuProcessesOf(instanceId: string): number[] {
  const pids: number[] = [];
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const argv = readFileSync(`/proc/${entry}/cmdline`, 'utf8').split('\0');
      if (argv[0]?.endsWith('qemu-system-x86_64') && argv.includes(`pn-${instanceId}`)) pids.push(Number(entry));
    } catch {
      // gone meanwhile
    }
  }
  return pids;
}

function residentMiB(pid: number): number {
  const kb = Number(/VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1] ?? 0);
  return Math.round(kb / 1024);
}

/** The byte offset of the first data block of `file` inside the ext4 image (debugfs `bmap`). */
function dataOffsetInImage(image: string, file: string): number {
  const block = spawnSync('debugfs', ['-R', `bmap ${file} 0`, image], { encoding: 'utf8' });
  const number = Number(block.stdout.trim());
  if (!Number.isInteger(number) || number <= 0) throw new Error(`debugfs found no block of ${file} in ${image}: ${block.stderr}`);
  return number * 4096;
}

describeVms('instances as QEMU machines (TCG)', () => {
  beforeAll(async () => {
    e = await startE2ePlatform({ hypervisor: 'qemu' });
  }, 180_000);

  afterAll(async () => {
    await e?.stop();
  }, 180_000);

  it('provisions my-redis in a VM (PONG through instances exec), boots a killed QEMU again, and refuses a tampered file with integrity_violation', async () => {
    const approverToken = (await e.client.call<{ token: string }>('system_create_token', { role: 'approver', name: 'qemu-approver' })).token;
    const approver = { client: new PlatformClient(e.target.url, approverToken), label: 'approver' };
    await ensurePrerequisites(e.ctx, approver);
    const { webhook_secret } = await ensureModule(e.ctx, MY_REDIS);
    const first = await publishNextVersion(e.ctx, MY_REDIS, webhook_secret);
    for (const to of ['staging', 'blessed', 'live']) await promoteVersion(e.ctx, first.version.id, to, approver);
    const { templates } = await e.client.call<{ templates: Array<{ id: string; name: string }> }>('system_list_templates', {});
    const base = templates.find((t) => t.name === 'base')!;
    await e.client.call('system_assign_module_to_template', { template_id: base.id, module_name: MY_REDIS.name });
    const { node } = await e.client.call<{ node: { id: string } }>('system_create_node', { hostname: 'redis-vm-1', node_template_id: base.id });
    const { instance } = await e.client.call<{ instance: { id: string } }>('system_provision_instance', { node_id: node.id });
    await waitUntil('PONG from the VM', async () => (await ping(instance.id)) === 'PONG', 900_000, 1_000);
    expect((await e.instance(instance.id)).driver).toBe('qemu');
    const view = await waitUntil(
      'the VM to report its services',
      async () => {
        const seen = await e.instance(instance.id);
        return seen.services?.some((s: { state: string }) => s.state === 'active') === true ? seen : null;
      },
      120_000,
      1_000,
    );
    expect(view.services).toContainEqual(expect.objectContaining({ module: 'my-redis', name: 'redis-server.service', state: 'active' }));
    // The agent runs inside the VM, on the guest kernel, on the verity-checked root.
    const inside = await exec(instance.id, ['sh', '-c', 'uname -r; systemctl is-active powernode-agent.service; grep " / " /proc/mounts']);
    expect(inside.body.stdout).toMatch(/^6\.12\./);
    expect(inside.body.stdout).toContain('active');
    expect(inside.body.stdout).toMatch(/overlay \/ overlay .*metacopy=on.*verity=require/);
    const [qemu] = qemuProcessesOf(instance.id);
    expect(qemu).toEqual(expect.any(Number));
    console.log(`QEMU RSS with redis running: ${residentMiB(qemu!)} MiB`);

    // The serial console is kept on the host.
    const sandbox = path.join(e.target.dataDir, 'instances', instance.id, 'sandbox');
    expect(await readFile(path.join(sandbox, 'machine', 'console.log'), 'utf8')).toContain('powernode-init: root composed');

    // QEMU dies: its keeper boots the VM again and redis answers again.
    process.kill(qemu!, 'SIGKILL');
    await waitUntil('PONG after QEMU was killed', async () => (await ping(instance.id)) === 'PONG', 600_000, 1_000);
    expect(qemuProcessesOf(instance.id)).toHaveLength(1);
    expect(qemuProcessesOf(instance.id)[0]).not.toBe(qemu);

    // A byte of the object behind /etc/redis/redis.conf changed on the host, in the store the VM reads: the
    // guest refuses the file, and the instance reports the violation by path.
    // The booted generation's index, as the keeper hands it to the agent inside (the link).
    const indexText = await waitUntil(
      "the booted generation's integrity index",
      async () => readFile(path.join(sandbox, 'link', 'integrity-index.json'), 'utf8').catch(() => null),
      60_000,
    );
    const index = JSON.parse(indexText) as Record<string, Array<{ path: string; store: string }>>;
    const [digest, uses] = Object.entries(index).find(([, paths]) => paths.some((p) => p.path === '/etc/redis/redis.conf'))!;
    const hex = digest.replace(/^sha256:/, '');
    // The object lives in the store of the layer that ships the file, shared by every VM of the host.
    const image = uses.find((u) => u.path === '/etc/redis/redis.conf')!.store;
    const offset = dataOffsetInImage(image, `/objects/${hex.slice(0, 2)}/${hex.slice(2)}`);
    const handle = await open(image, 'r+');
    try {
      const byte = Buffer.alloc(1);
      await handle.read(byte, 0, 1, offset + 10);
      byte[0] = byte[0]! ^ 0xff;
      await handle.write(byte, 0, 1, offset + 10);
      await handle.sync();
    } finally {
      await handle.close();
    }
    // Pages the guest already holds were verified when they were read: drop them so the read goes to the disk.
    await exec(instance.id, ['sh', '-c', 'sync; echo 3 > /proc/sys/vm/drop_caches']);
    const refused = await exec(instance.id, ['cat', '/etc/redis/redis.conf']);
    expect(refused.body.exit_code).not.toBe(0);
    expect(refused.body.stderr).toMatch(/Input\/output error/);
    const reported = await waitUntil(
      'the instance to report the integrity violation',
      async () => {
        const seen = await e.instance(instance.id);
        return (seen.errors as Array<{ message: string }>).some((err) => err.message.includes('integrity_violation')) ? seen : null;
      },
      300_000,
      1_000,
    );
    expect(reported.errors).toContainEqual(expect.objectContaining({ module: 'my-redis', message: expect.stringContaining('/etc/redis/redis.conf') }));
    const drift = await waitUntil(
      'the drift report to list the file',
      async () => {
        const report = await e.drift(instance.id);
        return report.integrity?.length > 0 ? report : null;
      },
      60_000,
      1_000,
    );
    expect(drift).toMatchObject({ drift: true, integrity: [expect.objectContaining({ path: '/etc/redis/redis.conf', module: 'my-redis' })] });
    // The module whose file was altered is not kept running.
    await waitUntil(
      'redis-server to be stopped',
      async () => String((await exec(instance.id, ['systemctl', 'is-active', 'redis-server'])).body.stdout).trim() !== 'active',
      60_000,
      1_000,
    );

    await e.client.call('system_terminate_instance', { id: instance.id });
    await waitUntil('the VM to be gone', async () => qemuProcessesOf(instance.id).length === 0, 120_000, 1_000);
  }, 2_400_000);
});
