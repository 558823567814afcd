import { randomBytes } from 'node:crypto';
import { isPowernodeError, type InstanceExecResult, type InstanceExecStream } from '@powernode/contracts';
import { ExecOutputCollector } from '../../src/exec-reply.js';
import type { HypervisorDriver, InstanceSpec } from '../../src/drivers/hypervisor-driver.js';

/** What the contract suite needs from one driver under test. */
export interface DriverContractFixture {
  /** A driver over fresh, private state. */
  driver: HypervisorDriver;
  /** A new driver over the same state, as after a provisioner restart (the caller closed the old one). */
  restart(): Promise<HypervisorDriver>;
  /** Kills the instance's runtime behind the driver's back, as a crash would. */
  crash(instanceId: string): Promise<void>;
  /** Something that changes whenever the runtime is started anew (a pid, a domain id), or null when not running. */
  runtimeToken(driver: HypervisorDriver, instanceId: string): Promise<string | null>;
  /** Waits until the runtime is really up (the agent wrote its first heartbeat, the domain booted). */
  waitUntilUp(instanceId: string): Promise<void>;
  cleanup(): Promise<void>;
}

/** A valid spec with a unique instance id. */
export function contractSpec(overrides: Partial<InstanceSpec> = {}): InstanceSpec {
  const suffix = randomBytes(4).toString('hex');
  return {
    instance_id: `contract-${suffix}`,
    hostname: `contract-${suffix}`,
    enrolment_token: randomBytes(24).toString('hex'),
    gateway_url: 'http://127.0.0.1:8080',
    nats_url: 'nats://127.0.0.1:4222',
    oci_registry: '127.0.0.1:5000',
    ...overrides,
  };
}

/** The code of the PowernodeError `run` rejects with (fails when it resolves). */
export async function rejectionCode(run: () => Promise<unknown>): Promise<string> {
  try {
    await run();
  } catch (error) {
    if (isPowernodeError(error)) return error.code;
    throw error;
  }
  throw new Error('expected a rejection, but the call succeeded');
}

const EXEC = { timeoutMs: 20_000, maxOutputBytes: 64 * 1024 };

/** `driver.exec` with its output collected the way a buffered reply collects it (at most maxOutputBytes a stream). */
export async function collectedExec(
  driver: HypervisorDriver,
  instanceId: string,
  argv: readonly string[],
  options: { timeoutMs: number; maxOutputBytes: number } = EXEC,
): Promise<InstanceExecResult> {
  const output = new ExecOutputCollector(options.maxOutputBytes);
  return output.result(await driver.exec(instanceId, argv, { timeoutMs: options.timeoutMs, onOutput: output.add }));
}

/**
 * The behaviour every hypervisor driver owes the provisioner: idempotent create/start/stop/destroy, an honest
 * status, a list that survives restarts, adoption after the provisioner itself restarted, and commands run
 * inside a running instance.
 */
export function describeDriverContract(name: string, factory: () => Promise<DriverContractFixture>): void {
  describe(`hypervisor driver contract: ${name}`, () => {
    let fixture: DriverContractFixture;
    let driver: HypervisorDriver;

    beforeEach(async () => {
      fixture = await factory();
      driver = fixture.driver;
    });

    afterEach(async () => {
      await fixture.cleanup();
    });

    it('creates an instance stopped and lists it', async () => {
      const spec = contractSpec();
      const handle = await driver.create(spec);
      expect(handle).toMatchObject({ instance_id: spec.instance_id, driver: driver.kind });
      expect(await driver.status(spec.instance_id)).toBe('stopped');
      expect(await driver.list()).toEqual([spec.instance_id]);
    });

    it('treats creating the same spec again as done and refuses another spec for the same id', async () => {
      const spec = contractSpec();
      const first = await driver.create(spec);
      expect(await driver.create({ ...spec })).toEqual(first);
      expect(await rejectionCode(() => driver.create({ ...spec, hostname: 'someone-else' }))).toBe('already_exists');
      expect(await driver.list()).toEqual([spec.instance_id]);
    });

    it.each([
      ['an instance id with a path separator', { instance_id: '../escape' }],
      ['an empty enrolment token', { enrolment_token: '' }],
      ['a gateway that is not a URL', { gateway_url: 'not a url' }],
      ['an uppercase hostname', { hostname: 'Not-Valid' }],
    ])('refuses a spec with %s (validation_failed) and creates nothing', async (_what, change) => {
      expect(await rejectionCode(() => driver.create({ ...contractSpec(), ...change }))).toBe('validation_failed');
      expect(await driver.list()).toEqual([]);
    });

    it('starts an instance, and starting it again changes nothing', async () => {
      const spec = contractSpec();
      await driver.create(spec);
      await driver.start(spec.instance_id);
      await fixture.waitUntilUp(spec.instance_id);
      expect(await driver.status(spec.instance_id)).toBe('running');
      const token = await fixture.runtimeToken(driver, spec.instance_id);
      expect(token).not.toBeNull();
      await driver.start(spec.instance_id);
      expect(await fixture.runtimeToken(driver, spec.instance_id)).toBe(token);
    });

    it('stops a running instance; stopping it again is a no-op', async () => {
      const spec = contractSpec();
      await driver.create(spec);
      await driver.start(spec.instance_id);
      await fixture.waitUntilUp(spec.instance_id);
      await driver.stop(spec.instance_id);
      expect(await driver.status(spec.instance_id)).toBe('stopped');
      expect(await fixture.runtimeToken(driver, spec.instance_id)).toBeNull();
      await driver.stop(spec.instance_id);
      expect(await driver.status(spec.instance_id)).toBe('stopped');
    });

    it('starts a stopped instance again', async () => {
      const spec = contractSpec();
      await driver.create(spec);
      await driver.start(spec.instance_id);
      await fixture.waitUntilUp(spec.instance_id);
      const first = await fixture.runtimeToken(driver, spec.instance_id);
      await driver.stop(spec.instance_id);
      await driver.start(spec.instance_id);
      expect(await driver.status(spec.instance_id)).toBe('running');
      expect(await fixture.runtimeToken(driver, spec.instance_id)).not.toBe(first);
    });

    it('destroys a running instance; destroying it again or an unknown id is a no-op', async () => {
      const spec = contractSpec();
      await driver.create(spec);
      await driver.start(spec.instance_id);
      await fixture.waitUntilUp(spec.instance_id);
      await driver.destroy(spec.instance_id);
      expect(await driver.status(spec.instance_id)).toBe('absent');
      expect(await driver.list()).toEqual([]);
      await driver.destroy(spec.instance_id);
      await driver.destroy('never-created');
      expect(await driver.status(spec.instance_id)).toBe('absent');
    });

    it('can create an instance again after destroying it', async () => {
      const spec = contractSpec();
      await driver.create(spec);
      await driver.destroy(spec.instance_id);
      await driver.create({ ...spec, hostname: 'a-new-life' });
      expect(await driver.status(spec.instance_id)).toBe('stopped');
    });

    it('stops an absent instance without complaint but refuses to start or adopt it (not_found)', async () => {
      await driver.stop('never-created');
      expect(await driver.status('never-created')).toBe('absent');
      expect(await rejectionCode(() => driver.start('never-created'))).toBe('not_found');
      expect(await rejectionCode(() => driver.adopt('never-created'))).toBe('not_found');
    });

    it('adopts a still-running instance after a provisioner restart without restarting it, and can then stop it', async () => {
      const spec = contractSpec();
      await driver.create(spec);
      await driver.start(spec.instance_id);
      await fixture.waitUntilUp(spec.instance_id);
      const before = await fixture.runtimeToken(driver, spec.instance_id);
      await driver.close();

      const restarted = await fixture.restart();
      expect(await restarted.list()).toEqual([spec.instance_id]);
      expect(await restarted.status(spec.instance_id)).toBe('running');
      expect(await restarted.adopt(spec.instance_id)).toEqual({ outcome: 'adopted', instance_id: spec.instance_id });
      expect(await fixture.runtimeToken(restarted, spec.instance_id)).toBe(before);
      await restarted.stop(spec.instance_id);
      expect(await restarted.status(spec.instance_id)).toBe('stopped');
    });

    it('restarts on adoption an instance that died while the provisioner was down', async () => {
      const spec = contractSpec();
      await driver.create(spec);
      await driver.start(spec.instance_id);
      await fixture.waitUntilUp(spec.instance_id);
      const before = await fixture.runtimeToken(driver, spec.instance_id);
      await driver.close();
      await fixture.crash(spec.instance_id);

      const restarted = await fixture.restart();
      expect(await restarted.status(spec.instance_id)).toBe('stopped');
      expect(await restarted.adopt(spec.instance_id)).toEqual({ outcome: 'restarted', instance_id: spec.instance_id });
      expect(await restarted.status(spec.instance_id)).toBe('running');
      expect(await fixture.runtimeToken(restarted, spec.instance_id)).not.toBe(before);
    });

    it('leaves an instance that was stopped on purpose stopped on adoption', async () => {
      const spec = contractSpec();
      await driver.create(spec);
      await driver.start(spec.instance_id);
      await fixture.waitUntilUp(spec.instance_id);
      await driver.stop(spec.instance_id);
      await driver.close();

      const restarted = await fixture.restart();
      expect(await restarted.adopt(spec.instance_id)).toEqual({ outcome: 'stopped', instance_id: spec.instance_id });
      expect(await restarted.status(spec.instance_id)).toBe('stopped');
    });

    describe('exec', () => {
      const runningInstance = async (): Promise<string> => {
        const spec = contractSpec();
        await driver.create(spec);
        await driver.start(spec.instance_id);
        await fixture.waitUntilUp(spec.instance_id);
        return spec.instance_id;
      };

      it('passes the exit code through and keeps stdout and stderr apart', async () => {
        const id = await runningInstance();
        expect(await collectedExec(driver, id, ['/bin/sh', '-c', 'echo to-out; echo to-err >&2; exit 3'])).toEqual({
          exit_code: 3,
          stdout: 'to-out\n',
          stderr: 'to-err\n',
          truncated: false,
          timed_out: false,
          duration_ms: expect.any(Number),
        });
        expect((await collectedExec(driver, id, ['/bin/true'])).exit_code).toBe(0);
      });

      it('hands output on as the command writes it, stdout and stderr apart, before the command ends', async () => {
        const id = await runningInstance();
        const started = Date.now();
        const chunks: { stream: InstanceExecStream; text: string; at: number }[] = [];
        const end = await driver.exec(id, ['/bin/sh', '-c', 'echo a; sleep 1; echo b >&2; exit 3'], {
          timeoutMs: 20_000,
          onOutput: (stream, chunk) => chunks.push({ stream, text: chunk.toString('utf8'), at: Date.now() - started }),
        });
        expect(end).toEqual({ exit_code: 3, timed_out: false, duration_ms: expect.any(Number) });
        expect(chunks.map(({ stream, text }) => ({ stream, text }))).toEqual([
          { stream: 'stdout', text: 'a\n' },
          { stream: 'stderr', text: 'b\n' },
        ]);
        // The first line came a second before the command ended, not with its end.
        expect(chunks[1]!.at - chunks[0]!.at).toBeGreaterThanOrEqual(800);
      });

      it('kills the command when the caller aborts, without calling it a timeout', async () => {
        const id = await runningInstance();
        const abort = new AbortController();
        setTimeout(() => abort.abort(), 300);
        const end = await driver.exec(id, ['/bin/sleep', '30'], { timeoutMs: 20_000, onOutput: () => undefined, signal: abort.signal });
        expect(end).toMatchObject({ timed_out: false });
        expect(end.exit_code).not.toBe(0);
        expect(end.duration_ms).toBeLessThan(15_000);
      });

      it('passes argv as argv: nothing is interpreted by a shell', async () => {
        const id = await runningInstance();
        const outcome = await collectedExec(driver, id, ['/bin/echo', '$HOME;ls', '*', '`id`']);
        expect({ exit_code: outcome.exit_code, stdout: outcome.stdout }).toEqual({ exit_code: 0, stdout: '$HOME;ls * `id`\n' });
      });

      it('kills a command at its timeout and says so (exit code 124)', async () => {
        const id = await runningInstance();
        const outcome = await collectedExec(driver, id, ['/bin/sleep', '30'], { ...EXEC, timeoutMs: 300 });
        expect(outcome).toMatchObject({ exit_code: 124, timed_out: true });
        expect(outcome.duration_ms).toBeLessThan(15_000);
      });

      it('collected, keeps at most maxOutputBytes of each stream and marks the result truncated', async () => {
        const id = await runningInstance();
        const outcome = await collectedExec(driver, id, ['/bin/sh', '-c', 'head -c 100000 /dev/zero | tr "\\000" a; echo short >&2'], {
          ...EXEC,
          maxOutputBytes: 1000,
        });
        expect({ exit_code: outcome.exit_code, stdout: outcome.stdout, stderr: outcome.stderr, truncated: outcome.truncated }).toEqual({
          exit_code: 0,
          stdout: 'a'.repeat(1000),
          stderr: 'short\n',
          truncated: true,
        });
      });

      it('refuses an instance it does not hold (not_found) and a stopped one (instance_not_running)', async () => {
        expect(await rejectionCode(() => collectedExec(driver, 'never-created', ['/bin/true']))).toBe('not_found');
        const spec = contractSpec();
        await driver.create(spec);
        expect(await rejectionCode(() => collectedExec(driver, spec.instance_id, ['/bin/true']))).toBe('instance_not_running');
        await driver.start(spec.instance_id);
        await fixture.waitUntilUp(spec.instance_id);
        await driver.stop(spec.instance_id);
        expect(await rejectionCode(() => collectedExec(driver, spec.instance_id, ['/bin/true']))).toBe('instance_not_running');
      });
    });
  });
}
