import path from 'node:path';
import { isProvisionerEventType, type ProvisionerEvent } from '@powernode/contracts';
import {
  deadLetterSubject,
  DurableConsumer,
  entryOf,
  eventFilterSubject,
  openSqliteProcessedLedger,
  subjectToken,
  type EventEnvelope,
} from '@powernode/events';
import type { Logger, ServiceHost } from '@powernode/runtime';
import { instanceNeedingReconcile, runsOnHost } from './domain/index.js';
import type { InstanceReconciler } from './instance-reconciler.js';
import type { ProvisionerReadModels } from './read-models.js';

/**
 * How the driver work an instance command asks for gets done once the command's events are stored. Commands
 * never touch the driver themselves: with a bus, the provisioner that runs the instance hears the events from
 * its durable consumer (`InstanceReactionConsumer`); without one (a single process on the memory store), the
 * reconciler runs at once.
 */
export interface InstanceReactions {
  /** A command on `instanceId` appended events whose driver work is pending. */
  requested(instanceId: string, correlationId: string): Promise<void>;
}

/** Reconciles in the calling process, before the command answers: for a provisioner without a bus. */
export class ReconcileInProcess implements InstanceReactions {
  constructor(private readonly reconciler: InstanceReconciler) {}

  async requested(instanceId: string, correlationId: string): Promise<void> {
    await this.reconciler.reconcile(instanceId, correlationId);
  }
}

/** Leaves the work to the durable consumer that hears the command's events: the command answers at once. */
export const REACT_ON_THE_BUS: InstanceReactions = { requested: async () => undefined };

export interface InstanceReactionConsumerDeps {
  host: Pick<ServiceHost<object>, 'js' | 'jsm' | 'bus'>;
  reconciler: InstanceReconciler;
  readModels: ProvisionerReadModels;
  /** This provisioner's host (`POWERNODE_PROVISIONER_HOST`): it acts on the instances provisioned here. */
  provisionerHost: string;
  dataDir: string;
  logger: Logger;
}

/** The durable consumer's name for a provisioner host: the host's replicas share it, other hosts have their own. */
export function reactionDurableName(provisionerHost: string): string {
  return `provisioner-${subjectToken(provisionerHost)}`;
}

/**
 * The provisioner's reactions over JetStream: a durable consumer of instance events, one per provisioner host.
 * Each event is delivered to one replica of the host, acked once the driver followed it and recorded in a
 * ledger, so a redelivery after a crash changes nothing twice (and every reconcile step is idempotent anyway).
 * Events of instances another host runs are acked without action.
 */
export class InstanceReactionConsumer {
  private consumer: DurableConsumer | undefined;
  private closeLedger: (() => void) | undefined;
  readonly durable: string;

  constructor(private readonly deps: InstanceReactionConsumerDeps) {
    this.durable = reactionDurableName(deps.provisionerHost);
  }

  async start(): Promise<void> {
    const { host, logger } = this.deps;
    const ledger = await openSqliteProcessedLedger(path.join(this.deps.dataDir, 'provisioner-ledger.sqlite'));
    this.closeLedger = () => ledger.close();
    this.consumer = new DurableConsumer({
      js: host.js,
      jsm: host.jsm,
      stream: host.bus.event_stream,
      durable: this.durable,
      filter_subjects: [eventFilterSubject('instance', undefined, host.bus.event_subject_prefix)],
      dead_letter_subject: deadLetterSubject(this.durable, host.bus.dead_letter_prefix),
      handler: (event) => this.handle(event),
      ledger,
      // A reconcile may boot a machine for minutes: the consumer keeps telling JetStream it is working, so this
      // is only how soon a replica that died mid-way has its event handed to another.
      ack_wait_ms: 15_000,
      max_messages: 8,
      logger,
    });
    await this.consumer.start();
  }

  async stop(): Promise<void> {
    await this.consumer?.stop();
    this.consumer = undefined;
    this.closeLedger?.();
    this.closeLedger = undefined;
  }

  /** Messages not yet handled, for /metrics and readiness. */
  pending(): Promise<number> {
    return this.consumer?.pending() ?? Promise.resolve(0);
  }

  private async handle(event: EventEnvelope): Promise<void> {
    if (!isProvisionerEventType(event.type)) return;
    const instanceId = instanceNeedingReconcile({ type: event.type, data: event.data } as ProvisionerEvent);
    if (instanceId === null) return;
    const { readModels, reconciler, provisionerHost, logger } = this.deps;
    await readModels.caughtUpTo(event.position);
    const view = entryOf(readModels.instances.current.instances, instanceId);
    if (view === undefined || !runsOnHost(view, provisionerHost)) return;
    logger.debug({ instance_id: instanceId, event: event.type, correlation_id: event.correlation_id }, 'reconciling on an instance event');
    await reconciler.reconcile(instanceId, event.correlation_id);
  }
}
