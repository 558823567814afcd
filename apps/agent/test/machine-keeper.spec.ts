import { lstat, mkdir, mkdtemp, readFile, readlink, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { pino } from 'pino';
import type { AgentDesiredState, AgentHeartbeat } from '@powernode/contracts';
import { parseAgentConfig } from '../src/agent-config.js';
import type { GatewayClient } from '../src/gateway-client.js';
import { writeStoredCredential } from '../src/instance-credential.js';
import { MachineKeeper } from '../src/machine-keeper.js';
import { KeeperClient, StageRefused, linkDirOf, readBootedRecord, LINK_INSIDE } from '../src/machine-link.js';
import type { BootOptions, MachineBind } from '../src/nspawn-machine.js';
import { RegistryClients } from '../src/registry-clients.js';

/*
 * The keeper of a machine instance against a machine that only records what it is asked (booting systemd is
 * the nspawn e2e suite's): the first generation composed and booted, the agent's stage/boot/release requests
 * over the real unix socket with their refusals, a dead machine booted again, and a root changed on the host
 * never booted. Composing stacks an overlay, so this needs root.
 */

const asRoot = process.getuid?.() === 0;
const describeAsRoot = asRoot ? describe : describe.skip;

const INSTANCE = 'keeper-test-instance';

interface RecordedBoot {
  root: string;
  binds: readonly MachineBind[];
}

class RecordingMachine {
  boots: RecordedBoot[] = [];
  up = false;
  powerOffs = 0;
  async adopt(): Promise<boolean> {
    return false;
  }
  async running(): Promise<boolean> {
    return this.up;
  }
  async boot(root: string, options: BootOptions = {}): Promise<void> {
    await options.beforeSpawn?.({ host_interface: 'pn-test', host_address: '10.213.0.1', address: '10.213.0.2', prefix_length: 30 });
    this.boots.push({ root, binds: options.binds ?? [] });
    this.up = true;
  }
  async powerOff(): Promise<void> {
    this.powerOffs += 1;
    this.up = false;
  }
}

async function until<T>(what: string, probe: () => Promise<T | null | false> | T | null | false, timeoutMs = 20_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await probe();
    if (value !== null && value !== false) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

describeAsRoot('machine keeper', () => {
  let dir: string;
  let sandbox: string;
  let keeper: MachineKeeper;
  const machine = new RecordingMachine();
  let wanted = 'g1';
  const heartbeats: AgentHeartbeat[] = [];

  beforeAll(async () => {
    dir = await mkdtemp(path.join(os.tmpdir(), 'pn-keeper-'));
    sandbox = path.join(dir, 'sandbox');
    const config = parseAgentConfig({
      POWERNODE_INSTANCE_ID: INSTANCE,
      POWERNODE_SANDBOX_DIR: sandbox,
      POWERNODE_AGENT_CACHE_DIR: path.join(dir, 'cache'),
      POWERNODE_GATEWAY_URL: 'http://127.0.0.1:2',
      POWERNODE_OCI_REGISTRY: '127.0.0.1:2',
      POWERNODE_AGENT_RETRY_INITIAL_MS: '50',
      POWERNODE_AGENT_RETRY_MAX_MS: '100',
    });
    // Enrolled before: the keeper uses the persisted credential, where the agent inside will read it too.
    await mkdir(path.join(linkDirOf(sandbox), 'data'), { recursive: true });
    await writeStoredCredential(path.join(linkDirOf(sandbox), 'data'), {
      instance_id: INSTANCE,
      credential: 'c'.repeat(32),
      heartbeat_interval_ms: 1_000,
      enrolled_at: new Date().toISOString(),
    });
    const gateway = {
      desired: async (): Promise<AgentDesiredState> => ({ instance_id: INSTANCE, generation: wanted, modules: [], unresolved: [] }),
      heartbeat: async (_credential: string, heartbeat: AgentHeartbeat) => {
        heartbeats.push(heartbeat);
        return { ok: true as const, desired_generation: wanted };
      },
    } as unknown as GatewayClient;
    keeper = new MachineKeeper({ config, logger: pino({ level: 'silent' }), gateway, registries: new RegistryClients({ insecure: [], retries: 0 }), machine });
    await keeper.start();
  }, 60_000);

  afterAll(async () => {
    await keeper?.stop();
    await rm(dir, { recursive: true, force: true });
  });

  it('composes and boots the first generation with the agent unit, its link and its runtime bound in', async () => {
    const first = await until('the first boot', () => machine.boots[0] ?? null);
    const booted = await readBootedRecord(linkDirOf(sandbox));
    expect(booted).toMatchObject({ address: '10.213.0.2', composition: { generation: 'g1', root_dir: first.root } });
    expect(await readlink(path.join(sandbox, 'current'))).toBe(first.root);
    // The unit is part of the composed root (and of its hash).
    const unit = await readFile(path.join(sandbox, first.root, 'top/etc/systemd/system/powernode-agent.service'), 'utf8');
    expect(unit).toContain('ExecStart=/opt/powernode/node');
    expect(first.binds).toContainEqual({ host: linkDirOf(sandbox), inside: LINK_INSIDE, readOnly: false });
    expect(first.binds.filter((bind) => bind.inside !== LINK_INSIDE).every((bind) => bind.readOnly)).toBe(true);
    // Nothing of the host but the runtime and the link: not the whole checkout.
    expect(first.binds.map((bind) => bind.inside).sort()).toEqual(
      [
        '/opt/powernode/app/apps/agent',
        '/opt/powernode/app/libs',
        '/opt/powernode/app/node_modules',
        '/opt/powernode/app/package.json',
        '/opt/powernode/node',
        LINK_INSIDE,
      ].sort(),
    );
    const env = await readFile(path.join(linkDirOf(sandbox), 'agent.env'), 'utf8');
    expect(env).toContain('POWERNODE_AGENT_MACHINE="inside"');
    expect(env).toContain(`POWERNODE_GATEWAY_SOCKET="${LINK_INSIDE}/gateway.sock"`);
    expect(env).not.toContain('ENROLMENT_TOKEN');
  });

  it("serves the agent's requests: stages only the generation the platform wants, boots only a root it composed, releases old roots", async () => {
    const client = new KeeperClient(linkDirOf(sandbox), 60_000);
    const refused = await client.stage('g0').catch((error: unknown) => error);
    expect(refused).toBeInstanceOf(StageRefused);
    expect((refused as StageRefused).message).toContain('now wants generation g1, not g0');

    wanted = 'g2';
    const staged = await client.stage('g2');
    expect(staged).toMatchObject({ generation: 'g2', root_dir: 'roots/g2', modules: [] });
    await expect(client.boot('roots/not-composed')).rejects.toThrow(/HTTP 404/);
    await expect(client.boot('../../etc')).rejects.toThrow(/HTTP 400/);
    await client.boot(staged.root_dir);
    await until('the boot on g2', () => machine.boots.length === 2);
    expect(machine.boots[1]!.root).toBe('roots/g2');
    expect(await readlink(path.join(sandbox, 'current'))).toBe('roots/g2');
    expect((await readBootedRecord(linkDirOf(sandbox)))?.composition.generation).toBe('g2');

    await client.release(machine.boots[0]!.root);
    await expect(lstat(path.join(sandbox, machine.boots[0]!.root))).rejects.toThrow(/ENOENT/);
    // The booted root is never removed.
    await client.release('roots/g2');
    expect((await lstat(path.join(sandbox, 'roots/g2'))).isDirectory()).toBe(true);
  });

  it('boots a dead machine again on its root, but never a root changed on the host since it was composed', async () => {
    machine.up = false;
    await until('the machine booted again', () => machine.boots.length === 3);
    expect(machine.boots[2]!.root).toBe('roots/g2');

    await writeFile(path.join(sandbox, 'roots/g2/top/etc/systemd/system/powernode-agent.service'), '[Service]\nExecStart=/bin/sh -c "tampered"\n');
    machine.up = false;
    const report = await until(
      'a heartbeat naming the changed root',
      () => heartbeats.find((h) => h.errors.some((e) => e.message.includes('changed since it was composed'))) ?? null,
    );
    expect(report.running_module_digests).toEqual({});
    expect(machine.boots).toHaveLength(3);
  });
});
