import { ReadModelSet, type EventStore } from '@powernode/events';
import type { Logger } from '@powernode/runtime';
import { agentCredentialsProjection, desiredStateProjection, instancesProjection, moduleCompositionProjection, nodesProjection } from './domain/index.js';

/** The provisioner's read models, each kept current by its own projection runner over the global log. */
export class ProvisionerReadModels extends ReadModelSet {
  readonly nodes = this.register(nodesProjection);
  readonly instances = this.register(instancesProjection);
  readonly desired = this.register(desiredStateProjection);
  readonly composition = this.register(moduleCompositionProjection);
  readonly credentials = this.register(agentCredentialsProjection);

  constructor(store: EventStore, logger: Logger) {
    super(store, { logger });
  }
}
