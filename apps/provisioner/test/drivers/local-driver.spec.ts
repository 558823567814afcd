import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, readFileSync, statSync, unlinkSync } from 'node:fs';
import { rm, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { waitUntil } from '@powernode/testing';
import { LocalDriver } from '../../src/drivers/local-driver.js';
import { readProcessIdentity } from '@powernode/host-machine';
import { collectedExec, contractSpec, describeDriverContract, rejectionCode } from './driver-contract.js';
import { localDriverFixture, readHeartbeat, STAND_IN_AGENT, type LocalDriverFixture } from './local-driver-fixture.js';

describeDriverContract('local', () => localDriverFixture());

describe('local driver', () => {
  let fixture: LocalDriverFixture;
  const sandboxOf = (instanceId: string): string => path.join(fixture.driver.instanceDir(instanceId), 'sandbox');

  afterEach(async () => {
    await fixture.cleanup();
  });

  it('gives the agent its identity, sandbox and platform addresses, and none of the provisioner’s secrets', async () => {
    fixture = await localDriverFixture();
    const previous = process.env['POWERNODE_ADMIN_TOKEN'];
    process.env['POWERNODE_ADMIN_TOKEN'] = 'admin-secret-that-must-not-leak';
    try {
      const spec = contractSpec();
      await fixture.driver.create(spec);
      await fixture.driver.start(spec.instance_id);
      await fixture.waitUntilUp(spec.instance_id);
      const seen = JSON.parse(readFileSync(path.join(sandboxOf(spec.instance_id), 'env.json'), 'utf8')) as { env: Record<string, string> };
      expect(seen.env).toEqual({
        POWERNODE_INSTANCE_ID: spec.instance_id,
        POWERNODE_HOSTNAME: spec.hostname,
        POWERNODE_ENROLMENT_TOKEN: spec.enrolment_token,
        POWERNODE_SANDBOX_DIR: sandboxOf(spec.instance_id),
        POWERNODE_AGENT_DATA_DIR: path.join(sandboxOf(spec.instance_id), 'data'),
        POWERNODE_GATEWAY_URL: spec.gateway_url,
        POWERNODE_NATS_URL: spec.nats_url,
        POWERNODE_OCI_REGISTRY: spec.oci_registry,
      });
    } finally {
      if (previous === undefined) delete process.env['POWERNODE_ADMIN_TOKEN'];
      else process.env['POWERNODE_ADMIN_TOKEN'] = previous;
    }
  });

  it('keeps instance state private: directory 0700, spec file (with the token) 0600', async () => {
    fixture = await localDriverFixture();
    const spec = contractSpec({ data_dir: '/var/lib/agent-elsewhere' });
    const handle = await fixture.driver.create(spec);
    expect(handle.location).toBe(path.join(fixture.dataDir, 'instances', spec.instance_id));
    expect(statSync(handle.location).mode & 0o777).toBe(0o700);
    expect(statSync(path.join(handle.location, 'sandbox')).mode & 0o777).toBe(0o700);
    expect(statSync(path.join(handle.location, 'instance.json')).mode & 0o777).toBe(0o600);
  });

  it('passes a spec data_dir on to the agent', async () => {
    fixture = await localDriverFixture();
    const spec = contractSpec({ data_dir: path.join(fixture.dataDir, 'agent-data') });
    await fixture.driver.create(spec);
    await fixture.driver.start(spec.instance_id);
    await fixture.waitUntilUp(spec.instance_id);
    const seen = JSON.parse(readFileSync(path.join(sandboxOf(spec.instance_id), 'env.json'), 'utf8')) as { env: Record<string, string> };
    expect(seen.env['POWERNODE_AGENT_DATA_DIR']).toBe(spec.data_dir);
  });

  it('passes the shared artifact cache dir on to every agent when the driver has one', async () => {
    fixture = await localDriverFixture({ cacheDir: 'relative-cache' });
    const spec = contractSpec();
    await fixture.driver.create(spec);
    await fixture.driver.start(spec.instance_id);
    await fixture.waitUntilUp(spec.instance_id);
    const seen = JSON.parse(readFileSync(path.join(sandboxOf(spec.instance_id), 'env.json'), 'utf8')) as { env: Record<string, string> };
    expect(seen.env['POWERNODE_AGENT_CACHE_DIR']).toBe(path.resolve('relative-cache'));
  });

  it('adopts an agent whose pid was never recorded (its driver died right after spawning it) instead of starting a second one', async () => {
    fixture = await localDriverFixture();
    const spec = contractSpec();
    await fixture.driver.create(spec);
    await fixture.driver.start(spec.instance_id);
    await fixture.waitUntilUp(spec.instance_id);
    const pid = (await fixture.driver.agentPid(spec.instance_id))!;
    await fixture.driver.close();
    await rm(path.join(fixture.driver.instanceDir(spec.instance_id), 'agent.pid'));
    const next = fixture.newDriver();
    expect(await next.adopt(spec.instance_id)).toEqual({ outcome: 'adopted', instance_id: spec.instance_id });
    expect(await next.agentPid(spec.instance_id)).toBe(pid);
    await next.stop(spec.instance_id);
    expect(await readProcessIdentity(pid)).toBeNull();
    expect(await next.status(spec.instance_id)).toBe('stopped');
  });

  it('sends SIGTERM first and SIGKILLs an agent that ignores it once the grace period is over', async () => {
    fixture = await localDriverFixture({ agentCommand: [process.execPath, STAND_IN_AGENT, '--ignore-sigterm'], stopGraceMs: 300 });
    const spec = contractSpec();
    await fixture.driver.create(spec);
    await fixture.driver.start(spec.instance_id);
    await fixture.waitUntilUp(spec.instance_id);
    const pid = (await fixture.driver.agentPid(spec.instance_id))!;
    await fixture.driver.stop(spec.instance_id);
    expect(await fixture.driver.status(spec.instance_id)).toBe('stopped');
    expect(await readProcessIdentity(pid)).toBeNull();
    expect(readFileSync(path.join(sandboxOf(spec.instance_id), 'signals'), 'utf8')).toContain(`SIGTERM ${pid}`);
    expect(fixture.events).toContainEqual({ type: 'agent_killed', instance_id: spec.instance_id, pid, reason: 'stop_grace_expired' });
  });

  it('lets an agent that honours SIGTERM exit on its own', async () => {
    fixture = await localDriverFixture();
    const spec = contractSpec();
    await fixture.driver.create(spec);
    await fixture.driver.start(spec.instance_id);
    await fixture.waitUntilUp(spec.instance_id);
    const pid = (await fixture.driver.agentPid(spec.instance_id))!;
    await fixture.driver.stop(spec.instance_id);
    expect(readFileSync(path.join(sandboxOf(spec.instance_id), 'signals'), 'utf8')).toContain(`SIGTERM ${pid}`);
    expect(fixture.events.some((e) => e.type === 'agent_killed')).toBe(false);
  });

  it('restarts an agent that crashes while it is supervised', async () => {
    fixture = await localDriverFixture();
    const spec = contractSpec();
    await fixture.driver.create(spec);
    await fixture.driver.start(spec.instance_id);
    await fixture.waitUntilUp(spec.instance_id);
    const first = (await fixture.driver.agentPid(spec.instance_id))!;
    process.kill(first, 'SIGKILL');
    await waitUntil('a new agent', async () => {
      const pid = await fixture.driver.agentPid(spec.instance_id);
      return pid !== null && pid !== first;
    });
    await fixture.waitUntilUp(spec.instance_id);
    expect(fixture.events).toContainEqual(expect.objectContaining({ type: 'agent_exited', instance_id: spec.instance_id, pid: first, signal: 'SIGKILL' }));
    expect(fixture.events).toContainEqual(expect.objectContaining({ type: 'agent_restart_scheduled', instance_id: spec.instance_id, attempt: 1 }));
  });

  it('restarts an adopted agent that crashes after the provisioner restarted', async () => {
    fixture = await localDriverFixture();
    const spec = contractSpec();
    await fixture.driver.create(spec);
    await fixture.driver.start(spec.instance_id);
    await fixture.waitUntilUp(spec.instance_id);
    const first = (await fixture.driver.agentPid(spec.instance_id))!;
    await fixture.driver.close();
    const restarted = fixture.newDriver();
    expect((await restarted.adopt(spec.instance_id)).outcome).toBe('adopted');
    process.kill(first, 'SIGKILL');
    await waitUntil('the adopted agent to be replaced', async () => {
      const pid = await restarted.agentPid(spec.instance_id);
      return pid !== null && pid !== first;
    });
    expect(await restarted.status(spec.instance_id)).toBe('running');
  });

  it('does not restart an agent that was stopped on purpose', async () => {
    fixture = await localDriverFixture();
    const spec = contractSpec();
    await fixture.driver.create(spec);
    await fixture.driver.start(spec.instance_id);
    await fixture.waitUntilUp(spec.instance_id);
    await fixture.driver.stop(spec.instance_id);
    // A later start is the only thing that brings it back: the status stays stopped across a restart too.
    expect(fixture.events.some((e) => e.type === 'agent_restart_scheduled')).toBe(false);
    expect(await fixture.newDriver().status(spec.instance_id)).toBe('stopped');
  });

  describe('a pid file that names another process (pid reuse)', () => {
    let foreign: ChildProcess;

    beforeEach(() => {
      foreign = spawn(process.execPath, ['-e', 'setInterval(() => {}, 1000)'], { stdio: 'ignore' });
    });

    afterEach(() => {
      foreign.kill('SIGKILL');
    });

    it('is neither adopted nor signalled; the instance gets a fresh agent of its own', async () => {
      fixture = await localDriverFixture();
      const spec = contractSpec();
      await fixture.driver.create(spec);
      await fixture.driver.start(spec.instance_id);
      await fixture.waitUntilUp(spec.instance_id);
      await fixture.driver.close();
      await fixture.crash(spec.instance_id);
      await waitUntil('the foreign process to start', async () => (await readProcessIdentity(foreign.pid!)) !== null);
      const foreignIdentity = (await readProcessIdentity(foreign.pid!))!;
      // The recorded pid now belongs to another process with another start time.
      const pidFile = path.join(fixture.driver.instanceDir(spec.instance_id), 'agent.pid');
      const recorded = JSON.parse(readFileSync(pidFile, 'utf8')) as Record<string, unknown>;
      await writeFile(pidFile, JSON.stringify({ ...recorded, pid: foreign.pid, start_ticks: String(Number(foreignIdentity.start_ticks) - 1) }));

      const restarted = fixture.newDriver();
      expect(await restarted.status(spec.instance_id)).toBe('stopped');
      expect(await restarted.adopt(spec.instance_id)).toEqual({ outcome: 'restarted', instance_id: spec.instance_id });
      const own = await restarted.agentPid(spec.instance_id);
      expect(own).not.toBe(foreign.pid);
      await restarted.stop(spec.instance_id);
      expect(await readProcessIdentity(foreign.pid!)).toEqual(foreignIdentity);
    });
  });

  it('treats a torn pid file as no agent', async () => {
    fixture = await localDriverFixture();
    const spec = contractSpec();
    await fixture.driver.create(spec);
    await writeFile(path.join(fixture.driver.instanceDir(spec.instance_id), 'agent.pid'), '{"pid": 12');
    expect(await fixture.driver.status(spec.instance_id)).toBe('stopped');
  });

  it('refuses to start when the agent command does not exist (config_invalid)', async () => {
    fixture = await localDriverFixture({ agentCommand: ['/nonexistent/powernode-agent'] });
    const spec = contractSpec();
    await fixture.driver.create(spec);
    expect(await rejectionCode(() => fixture.driver.start(spec.instance_id))).toBe('config_invalid');
    expect(await fixture.driver.status(spec.instance_id)).toBe('stopped');
  });

  it('starts one agent when start is called several times at once', async () => {
    fixture = await localDriverFixture();
    const spec = contractSpec();
    await fixture.driver.create(spec);
    await Promise.all([fixture.driver.start(spec.instance_id), fixture.driver.start(spec.instance_id), fixture.driver.start(spec.instance_id)]);
    await fixture.waitUntilUp(spec.instance_id);
    expect(fixture.events.filter((e) => e.type === 'agent_started')).toHaveLength(1);
  });

  it('removes the sandbox with everything the agent wrote on destroy', async () => {
    fixture = await localDriverFixture();
    const spec = contractSpec();
    const handle = await fixture.driver.create(spec);
    await fixture.driver.start(spec.instance_id);
    await fixture.waitUntilUp(spec.instance_id);
    const pid = (await fixture.driver.agentPid(spec.instance_id))!;
    expect(readHeartbeat(sandboxOf(spec.instance_id))?.pid).toBe(pid);
    await fixture.driver.destroy(spec.instance_id);
    expect(existsSync(handle.location)).toBe(false);
    expect(await readProcessIdentity(pid)).toBeNull();
  });

  it('leaves agents running when it is closed', async () => {
    fixture = await localDriverFixture();
    const spec = contractSpec();
    await fixture.driver.create(spec);
    await fixture.driver.start(spec.instance_id);
    await fixture.waitUntilUp(spec.instance_id);
    const pid = await fixture.driver.agentPid(spec.instance_id);
    await fixture.driver.close();
    const heartbeat = readHeartbeat(sandboxOf(spec.instance_id))!;
    await waitUntil('another heartbeat after close', () => (readHeartbeat(sandboxOf(spec.instance_id))?.beats ?? 0) > heartbeat.beats);
    expect(await fixture.newDriver().agentPid(spec.instance_id)).toBe(pid);
  });

  it('refuses an agent command with no program', () => {
    expect(() => new LocalDriver({ dataDir: '/tmp/unused', agentCommand: [] })).toThrow(/needs an agent command/);
  });
});

describe('local driver exec', () => {
  let fixture: LocalDriverFixture;

  beforeAll(async () => {
    fixture = await localDriverFixture();
  });

  afterAll(async () => {
    await fixture.cleanup();
  });

  const running = async (): Promise<string> => {
    const spec = contractSpec();
    await fixture.driver.create(spec);
    await fixture.driver.start(spec.instance_id);
    await fixture.waitUntilUp(spec.instance_id);
    return spec.instance_id;
  };

  it("runs on the agent's composed root, read-only, with the host's userland but nothing else of the host", async () => {
    const id = await running();
    expect(await collectedExec(fixture.driver, id, ['/bin/cat', '/etc/stand-in-release'])).toMatchObject({ exit_code: 0, stdout: `stand-in root of ${id}\n` });
    const script =
      'test ! -e /etc/os-release && test ! -e /home && test -x /usr/bin/env; echo host=$?; touch /etc/x 2>/dev/null; echo write=$?; touch /tmp/x; echo tmp=$?; hostname; env | sort';
    const outcome = await collectedExec(fixture.driver, id, ['/bin/sh', '-c', script]);
    expect(outcome.stdout.split('\n').slice(0, 4)).toEqual(['host=0', 'write=1', 'tmp=0', id]);
    expect(outcome.stdout).not.toMatch(/POWERNODE_|ADMIN/);
  });

  it('refuses while the agent has not published a composed root yet (conflict, retryable)', async () => {
    const id = await running();
    unlinkSync(path.join(fixture.driver.instanceDir(id), 'sandbox', 'current'));
    let error: unknown;
    await collectedExec(fixture.driver, id, ['/bin/true']).catch((e: unknown) => (error = e));
    expect(error).toMatchObject({ code: 'conflict', retryable: true, details: { rule: 'composed_root_required' } });
  });

  it('refuses an empty argv', async () => {
    const id = await running();
    expect(await rejectionCode(() => collectedExec(fixture.driver, id, []))).toBe('validation_failed');
  });
});
