import { PowernodeError } from '@powernode/contracts';
import type { EventStore } from '../store/event-store.js';
import type { Projection } from '@powernode/event-core';
import { ProjectionRunner, type ProjectionRunnerOptions } from './projection-runner.js';

/**
 * A service's read models, each kept current by its own ProjectionRunner over the global log, and started,
 * stopped and waited for together. A service subclasses it with one typed field per read model, initialised
 * with `register(projection)`, so its queries read `readModels.<name>.current`.
 */
export class ReadModelSet {
  private readonly runners: ProjectionRunner<unknown>[] = [];

  constructor(
    private readonly store: EventStore,
    private readonly options: ProjectionRunnerOptions = {},
  ) {}

  /** Adds a runner for `projection` that saves its state in the store's projection states; returns it. */
  protected register<S>(projection: Projection<S>): ProjectionRunner<S> {
    const runner = new ProjectionRunner(projection, this.store, this.store.projections, this.options);
    this.runners.push(runner as ProjectionRunner<unknown>);
    return runner;
  }

  /** Every runner, in the order they were registered. */
  all(): ProjectionRunner<unknown>[] {
    return [...this.runners];
  }

  /** The runner of the projection called `name` (what `powernode replay --projection` names). */
  byName(name: string): ProjectionRunner<unknown> | undefined {
    return this.runners.find((r) => r.name === name);
  }

  /**
   * Rebuilds one read model (`projection`, by name) or all of them from position 0, one after another; each keeps
   * answering from its old state until its rebuild has caught up. What a service runs for `powernode replay`.
   */
  async rebuild(projection?: string): Promise<{ rebuilt: { projection: string; position: number }[] }> {
    const runners = projection === undefined ? this.all() : this.runners.filter((r) => r.name === projection);
    if (runners.length === 0) {
      throw new PowernodeError('not_found', `no projection named ${projection} in this service; known: ${this.runners.map((r) => r.name).join(', ')}`, {
        details: { projection, known: this.runners.map((r) => r.name) },
      });
    }
    const rebuilt: { projection: string; position: number }[] = [];
    for (const runner of runners) rebuilt.push({ projection: runner.name, ...(await runner.rebuild()) });
    return { rebuilt };
  }

  /** Loads every read model's saved state and catches each up with the log. */
  async start(): Promise<void> {
    await Promise.all(this.runners.map((r) => r.start()));
  }

  /** Stops following the log and saves every read model's state with its position. */
  async stop(): Promise<void> {
    await Promise.all(this.runners.map((r) => r.stop()));
  }

  /** Read-your-writes: resolves once every read model has folded the log up to `position`. */
  async caughtUpTo(position: number): Promise<void> {
    if (position > 0) await Promise.all(this.runners.map((r) => r.waitFor(position)));
  }

  /** Resolves once every read model has folded everything the store holds now (events other services appended). */
  async caughtUpWithStore(): Promise<void> {
    await this.caughtUpTo(await this.store.headPosition());
  }
}
