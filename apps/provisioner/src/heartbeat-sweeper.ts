import { provisionerStreams } from '@powernode/contracts';
import { executeCommand, uuidv7, type EventStore } from '@powernode/events';
import type { Logger } from '@powernode/runtime';
import { DEFAULT_MISSED_BEATS, instanceDecider, isHeartbeatStale, laterOf, listInstances } from './domain/index.js';
import type { InstanceReconciler } from './instance-reconciler.js';
import type { LivenessTable } from './liveness-table.js';
import type { ProvisionerReadModels } from './read-models.js';

export interface HeartbeatSweeperDeps {
  store: EventStore;
  readModels: ProvisionerReadModels;
  liveness: LivenessTable;
  reconciler: InstanceReconciler;
  intervalMs: number;
  logger: Logger;
  clock?: () => Date;
}

/**
 * Once per heartbeat interval: marks running instances whose agent has been silent for more than three
 * intervals as stale (InstanceHeartbeatStale, decided by the instance decider on fresh state), and lets the
 * reconciler finish what is left (destroying terminated instances' leftovers, provisioning stuck requests).
 * Silence before this provisioner started does not count: it had no way to hear the agent.
 */
export class HeartbeatSweeper {
  private timer: NodeJS.Timeout | null = null;
  private running: Promise<void> | null = null;
  private readonly watchingSince: string;
  private readonly clock: () => Date;

  constructor(private readonly deps: HeartbeatSweeperDeps) {
    this.clock = deps.clock ?? (() => new Date());
    this.watchingSince = this.clock().toISOString();
  }

  start(): void {
    this.timer = setInterval(() => {
      // A slow sweep is not overlapped by the next one.
      if (this.running === null) {
        this.running = this.sweep()
          .catch((error: unknown) => this.deps.logger.error({ err: error }, 'heartbeat sweep failed'))
          .finally(() => {
            this.running = null;
          });
      }
    }, this.deps.intervalMs);
    this.timer.unref();
  }

  async stop(): Promise<void> {
    if (this.timer !== null) clearInterval(this.timer);
    this.timer = null;
    await this.running;
  }

  /** One pass: stale marks, then the reconciler's sweep. */
  async sweep(): Promise<void> {
    const correlationId = uuidv7();
    await this.markStale(correlationId);
    await this.deps.reconciler.sweepTerminated(correlationId);
  }

  private async markStale(correlationId: string): Promise<void> {
    const { readModels, liveness, intervalMs, reconciler } = this.deps;
    const now = this.clock().toISOString();
    for (const view of listInstances(readModels.instances.current, { status: 'running' })) {
      // Each host's provisioner judges the silence of the instances it runs.
      if (view.heartbeat_stale || !reconciler.runsHere(view)) continue;
      const lastHeard = laterOf(view.last_heartbeat_at, liveness.get(view.id)?.last_heartbeat_at ?? null);
      // Cheap pre-check on the read models; the decider has the last word on the stream's own state.
      if (!isHeartbeatStale(laterOf(lastHeard, this.watchingSince)!, now, intervalMs, DEFAULT_MISSED_BEATS)) continue;
      const outcome = await executeCommand(
        this.deps.store,
        provisionerStreams.instance(view.id),
        instanceDecider,
        {
          type: 'CheckHeartbeat',
          instance_id: view.id,
          now,
          interval_ms: intervalMs,
          missed_beats: DEFAULT_MISSED_BEATS,
          last_heartbeat_at: lastHeard,
          watching_since: this.watchingSince,
        },
        { actor: 'provisioner', correlation_id: correlationId },
      );
      if (outcome.appended.length > 0) {
        this.deps.logger.warn({ instance_id: view.id, last_heartbeat_at: lastHeard, correlation_id: correlationId }, 'instance heartbeat is stale');
        await readModels.caughtUpTo(outcome.position);
      }
    }
  }
}
