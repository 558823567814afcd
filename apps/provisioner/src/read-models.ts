import { ProjectionRunner, type EventStore, type Projection } from '@powernode/events';
import type { Logger } from '@powernode/runtime';
import {
  agentCredentialsProjection,
  desiredStateProjection,
  instancesProjection,
  moduleCompositionProjection,
  nodesProjection,
  type AgentCredentialsModel,
  type DesiredStateModel,
  type InstancesReadModel,
  type ModuleCompositionModel,
  type NodesReadModel,
  type ProvisionerProjection,
} from './domain/index.js';

function runner<S>(projection: ProvisionerProjection<S>, store: EventStore, logger: Logger): ProjectionRunner<S> {
  // A ProvisionerProjection reads only `type` and `data` of the envelope: structurally a Projection.
  return new ProjectionRunner(projection as unknown as Projection<S>, store, store.projections, { logger });
}

/** The provisioner's read models, each kept current by its own projection runner over the global log. */
export class ProvisionerReadModels {
  readonly nodes: ProjectionRunner<NodesReadModel>;
  readonly instances: ProjectionRunner<InstancesReadModel>;
  readonly desired: ProjectionRunner<DesiredStateModel>;
  readonly composition: ProjectionRunner<ModuleCompositionModel>;
  readonly credentials: ProjectionRunner<AgentCredentialsModel>;

  constructor(private readonly store: EventStore, logger: Logger) {
    this.nodes = runner(nodesProjection, store, logger);
    this.instances = runner(instancesProjection, store, logger);
    this.desired = runner(desiredStateProjection, store, logger);
    this.composition = runner(moduleCompositionProjection, store, logger);
    this.credentials = runner(agentCredentialsProjection, store, logger);
  }

  all(): ProjectionRunner<unknown>[] {
    return [this.nodes, this.instances, this.desired, this.composition, this.credentials] as ProjectionRunner<unknown>[];
  }

  byName(name: string): ProjectionRunner<unknown> | undefined {
    return this.all().find((r) => r.name === name);
  }

  async start(): Promise<void> {
    await Promise.all(this.all().map((r) => r.start()));
  }

  async stop(): Promise<void> {
    await Promise.all(this.all().map((r) => r.stop()));
  }

  /** Read-your-writes: resolves once every read model has folded the log up to `position`. */
  async caughtUpTo(position: number): Promise<void> {
    if (position > 0) await Promise.all(this.all().map((r) => r.waitFor(position)));
  }

  /** Resolves once every read model has folded everything the store holds now (events other services appended). */
  async caughtUpWithStore(): Promise<void> {
    await this.caughtUpTo(await this.store.headPosition());
  }
}
