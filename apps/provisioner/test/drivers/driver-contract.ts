import { randomBytes } from 'node:crypto';
import { isPowernodeError } from '@powernode/contracts';
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

/**
 * The behaviour every hypervisor driver owes the provisioner: idempotent create/start/stop/destroy, an honest
 * status, a list that survives restarts, and adoption after the provisioner itself restarted.
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
  });
}
