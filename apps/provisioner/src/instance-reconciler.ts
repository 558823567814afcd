import { collectExtractedTrees } from '@powernode/artifact';
import { isPowernodeError, provisionerStreams, type InstanceStatus } from '@powernode/contracts';
import { KeyedLock, entryOf, executeCommand, stateFromEvents, type EventStore } from '@powernode/events';
import type { Logger } from '@powernode/runtime';
import type { EnrolmentKeys } from './agent-secrets.js';
import { collectArtifactCache, type CacheCollection } from './artifact-cache-gc.js';
import {
  artifactCacheRoots,
  instanceDecider,
  listInstances,
  runsOnHost,
  type InstanceCommand,
  type InstanceEvent,
  type InstanceRecord,
  type InstanceState,
} from './domain/index.js';
import type { HypervisorDriver, InstanceSpec } from './drivers/index.js';
import { conditionalInstanceDecider } from './instance-commands.js';
import type { LivenessTable } from './liveness-table.js';
import type { ProvisionerReadModels } from './read-models.js';

/*
 * Makes the hypervisor driver match what the instance streams record. Every step reads the instance's stream
 * first and does only what its status still needs, every driver call is idempotent, and every status change
 * is decided on fresh state under optimistic concurrency, so a provisioner killed at any point and started
 * again finishes the job without appending anything twice:
 *
 *   pending, provisioning   driver.create (same spec again is a no-op) → provisioning → driver.start → starting
 *                           (the agent's first heartbeat then moves it to running)
 *   starting                driver.start (a running agent is only re-attached to)
 *   running, rebooting,     driver.adopt: re-attach supervision to the running agent, or start it again when
 *   error                   it died while nobody watched
 *   stopping, stopped       driver.stop → stopped
 *   terminated              driver.destroy (sandbox and private state), then the shared artifact cache loses
 *                           whatever no remaining instance desires or runs
 *
 * A driver failure while bringing an instance up moves it to `error` with the driver's message as the reason.
 */

export interface ReconcilerSettings {
  /** Where agents reach the platform (the gateway's HTTP address). */
  gatewayUrl: string;
  /** The OCI registry agents pull from. */
  ociRegistry: string;
  /** The artifact cache shared by the driver's agents. */
  cacheDir: string;
  /** This provisioner's host: start-up passes and sweeps touch only the instances that run here. */
  provisionerHost: string;
}

export interface ReconcilerDeps {
  store: EventStore;
  driver: HypervisorDriver;
  readModels: ProvisionerReadModels;
  keys: EnrolmentKeys;
  liveness: LivenessTable;
  settings: ReconcilerSettings;
  logger: Logger;
  clock?: () => Date;
}

/** What a start-up pass found and did. */
export interface ResumeReport {
  reconciled: number;
  destroyed: string[];
  /** Driver instances the event store does not know (left alone; an operator decides). */
  unknown: string[];
}

const STATUSES_THAT_MAY_FAIL: readonly InstanceStatus[] = ['pending', 'provisioning', 'starting', 'running', 'stopping', 'rebooting'];

/** Drives one hypervisor driver so that it runs what the instance streams say, one instance at a time. */
export class InstanceReconciler {
  private readonly instanceLock = new KeyedLock();
  private collecting: Promise<CacheCollection> | null = null;
  private collectAgain = false;
  private readonly clock: () => Date;

  constructor(private readonly deps: ReconcilerDeps) {
    this.clock = deps.clock ?? (() => new Date());
  }

  /** Brings the driver in line with the instance's recorded status; returns the status afterwards. */
  reconcile(instanceId: string, correlationId: string): Promise<InstanceState['status']> {
    return this.instanceLock.run(instanceId, () => this.reconcileNow(instanceId, correlationId));
  }

  /**
   * After a (re)start: reconciles every instance that is not terminated (re-adopting running agents instead of
   * starting second copies), destroys what terminated instances left in the driver, and collects the cache.
   */
  async resumeAll(correlationId: string): Promise<ResumeReport> {
    await this.deps.readModels.caughtUpWithStore();
    const instances = listInstances(this.deps.readModels.instances.current, { include_terminated: true });
    let reconciled = 0;
    for (const instance of instances) {
      if (instance.status === 'terminated' || !this.runsHere(instance)) continue;
      try {
        await this.reconcile(instance.id, correlationId);
        reconciled++;
      } catch (error) {
        this.deps.logger.error({ err: error, instance_id: instance.id, correlation_id: correlationId }, 'reconcile after start failed; the sweep retries');
      }
    }
    const { destroyed, unknown } = await this.sweepTerminated(correlationId);
    return { reconciled, destroyed, unknown };
  }

  /**
   * Destroys whatever the driver still holds for terminated instances (a destroy that failed or was cut short)
   * and carries on provisioning instances left in `pending`/`provisioning`; run periodically.
   */
  async sweepTerminated(correlationId: string): Promise<{ destroyed: string[]; unknown: string[] }> {
    const state = this.deps.readModels.instances.current;
    const destroyed: string[] = [];
    const unknown: string[] = [];
    for (const id of await this.deps.driver.list()) {
      const view = entryOf(state.instances, id);
      if (view === undefined) {
        unknown.push(id);
        continue;
      }
      if (view.status !== 'terminated') continue;
      try {
        await this.reconcile(id, correlationId);
        destroyed.push(id);
      } catch (error) {
        this.deps.logger.error(
          { err: error, instance_id: id, correlation_id: correlationId },
          'destroying a terminated instance failed; retrying on the next sweep',
        );
      }
    }
    if (unknown.length > 0)
      this.deps.logger.warn({ instances: unknown }, `the ${this.deps.driver.kind} driver holds instances the event store does not know; left alone`);
    for (const view of listInstances(state)) {
      if ((view.status !== 'pending' && view.status !== 'provisioning') || !this.runsHere(view)) continue;
      await this.reconcile(view.id, correlationId).catch((error: unknown) =>
        this.deps.logger.error({ err: error, instance_id: view.id, correlation_id: correlationId }, 'provisioning step failed; retrying on the next sweep'),
      );
    }
    return { destroyed, unknown };
  }

  /**
   * Deletes the cache blobs no remaining instance desires or runs. Runs are single-flight: a request while one
   * runs schedules exactly one more, so a terminate never waits behind a queue of collections.
   */
  collectCache(): Promise<CacheCollection> {
    if (this.collecting !== null) {
      this.collectAgain = true;
      return this.collecting;
    }
    const run = async (): Promise<CacheCollection> => {
      let result: CacheCollection;
      do {
        this.collectAgain = false;
        const { readModels } = this.deps;
        const roots = artifactCacheRoots(readModels.desired.current, listInstances(readModels.instances.current, { include_terminated: true }));
        result = await collectArtifactCache(this.deps.settings.cacheDir, roots);
        // Trees extracted from layers that were just deleted are not stacked by any remaining machine either.
        const trees = await collectExtractedTrees(this.deps.settings.cacheDir);
        if (result.deleted.length > 0)
          this.deps.logger.info({ deleted: result.deleted.length, kept: result.kept.length, trees_deleted: trees.deleted.length }, 'artifact cache collected');
      } while (this.collectAgain);
      return result;
    };
    this.collecting = run().finally(() => {
      this.collecting = null;
    });
    return this.collecting;
  }

  /** True when this provisioner's driver runs the instance. */
  runsHere(instance: { provisioner_host: string | null }): boolean {
    return runsOnHost(instance, this.deps.settings.provisionerHost);
  }

  // ---- one instance -----------------------------------------------------------------------------------------

  private async reconcileNow(instanceId: string, correlationId: string): Promise<InstanceState['status']> {
    const state = await this.load(instanceId);
    switch (state.status) {
      case 'none':
        return 'none';
      case 'pending':
      case 'provisioning':
        return this.bringUp(state, correlationId);
      case 'starting':
        return this.start(state, correlationId);
      case 'running':
      case 'rebooting':
      case 'error':
        return this.adopt(state, correlationId);
      case 'stopping':
      case 'stopped':
        return this.stop(state, correlationId);
      case 'terminated':
        await this.tearDown(state, correlationId);
        return 'terminated';
    }
  }

  private async bringUp(instance: InstanceRecord, correlationId: string): Promise<InstanceState['status']> {
    const { driver } = this.deps;
    try {
      await driver.create(this.specFor(instance));
    } catch (error) {
      // A driver record with another spec (e.g. the gateway address changed since) is still this instance.
      if (!(isPowernodeError(error) && error.code === 'already_exists')) return this.fail(instance, 'create', error, correlationId);
    }
    await this.advance(instance.instance_id, ['pending'], 'provisioning', `the ${driver.kind} driver prepared the instance`, correlationId);
    try {
      await driver.start(instance.instance_id);
    } catch (error) {
      return this.fail(instance, 'start', error, correlationId);
    }
    return this.advance(
      instance.instance_id,
      ['pending', 'provisioning'],
      'starting',
      `the ${driver.kind} driver started the agent; waiting for its first heartbeat`,
      correlationId,
    );
  }

  private async start(instance: InstanceRecord, correlationId: string): Promise<InstanceState['status']> {
    try {
      await this.deps.driver.start(instance.instance_id);
    } catch (error) {
      return this.fail(instance, 'start', error, correlationId);
    }
    return instance.status;
  }

  private async adopt(instance: InstanceRecord, correlationId: string): Promise<InstanceState['status']> {
    try {
      const outcome = await this.deps.driver.adopt(instance.instance_id);
      this.deps.logger.info({ instance_id: instance.instance_id, outcome: outcome.outcome, correlation_id: correlationId }, `instance ${outcome.outcome}`);
      return instance.status;
    } catch (error) {
      if (instance.status === 'error') {
        this.deps.logger.warn({ err: error, instance_id: instance.instance_id }, 'could not re-attach to an instance in error');
        return instance.status;
      }
      if (isPowernodeError(error) && error.code === 'not_found') {
        return this.fail(
          instance,
          'adopt',
          new Error(`the ${this.deps.driver.kind} driver no longer holds it (removed outside the platform?); terminate it and provision a new one`),
          correlationId,
        );
      }
      throw error;
    }
  }

  private async stop(instance: InstanceRecord, correlationId: string): Promise<InstanceState['status']> {
    try {
      await this.deps.driver.stop(instance.instance_id);
    } catch (error) {
      if (!(isPowernodeError(error) && error.code === 'not_found')) return this.fail(instance, 'stop', error, correlationId);
    }
    return this.advance(instance.instance_id, ['stopping'], 'stopped', 'the agent stopped', correlationId);
  }

  private async tearDown(instance: InstanceRecord, correlationId: string): Promise<void> {
    await this.deps.driver.destroy(instance.instance_id);
    this.deps.liveness.forget(instance.instance_id);
    this.deps.logger.info({ instance_id: instance.instance_id, correlation_id: correlationId }, 'instance destroyed');
    await this.collectCache().catch((error: unknown) => this.deps.logger.error({ err: error }, 'artifact cache collection failed'));
  }

  /** Moves the instance to `error` naming the driver step and its message (unless it already moved on). */
  private async fail(instance: InstanceRecord, step: string, error: unknown, correlationId: string): Promise<InstanceState['status']> {
    const message = error instanceof Error ? error.message : String(error);
    this.deps.logger.error({ err: error, instance_id: instance.instance_id, step, correlation_id: correlationId }, `driver ${step} failed`);
    return this.advance(instance.instance_id, STATUSES_THAT_MAY_FAIL, 'error', `driver ${step} failed: ${message}`.slice(0, 2000), correlationId);
  }

  /** Appends `from → to` when the instance is (still) in one of `from`; returns the status afterwards. */
  private async advance(
    instanceId: string,
    from: readonly InstanceStatus[],
    to: InstanceStatus,
    reason: string,
    correlationId: string,
  ): Promise<InstanceState['status']> {
    const outcome = await executeCommand(
      this.deps.store,
      provisionerStreams.instance(instanceId),
      conditionalInstanceDecider,
      (state: InstanceState): InstanceCommand | null =>
        state.status !== 'none' && from.includes(state.status)
          ? { type: 'ChangeStatus', instance_id: instanceId, to, reason, now: this.clock().toISOString() }
          : null,
      { actor: 'provisioner', correlation_id: correlationId },
    );
    await this.deps.readModels.caughtUpTo(outcome.position);
    return outcome.state.status;
  }

  private async load(instanceId: string): Promise<InstanceState> {
    const events = await this.deps.store.readStream(provisionerStreams.instance(instanceId));
    return stateFromEvents(
      instanceDecider,
      events.map((e) => ({ type: e.type, data: e.data }) as InstanceEvent),
    );
  }

  /** The driver spec of an instance: the same on every call, so a repeated create is a no-op. */
  private specFor(instance: InstanceRecord): InstanceSpec {
    // A VM's memory and vCPUs as its node sets them (the driver's defaults otherwise).
    const resources = entryOf(this.deps.readModels.nodes.current.nodes, instance.node_id)?.resources;
    return {
      instance_id: instance.instance_id,
      hostname: instance.hostname,
      enrolment_token: this.deps.keys.enrolmentToken(instance.instance_id),
      gateway_url: this.deps.settings.gatewayUrl,
      oci_registry: this.deps.settings.ociRegistry,
      ...(resources?.memory_mb === undefined ? {} : { memory_mb: resources.memory_mb }),
      ...(resources?.vcpus === undefined ? {} : { vcpus: resources.vcpus }),
    };
  }
}
