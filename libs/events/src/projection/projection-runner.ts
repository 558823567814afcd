import type { Logger } from 'pino';
import { PowernodeError } from '@powernode/contracts';
import type { EventStore, Subscription } from '../store/event-store.js';
import type { ProjectionStateStore } from '../store/projection-state-store.js';
import { eventTypeFilter, type Projection } from '@powernode/event-core';

interface SavedDocument<TState> {
  projection_version: number;
  state: TState;
}

export interface ProjectionRunnerOptions {
  /**
   * Save the state after this many events have been folded since the last save… (saving serialises the whole
   * read model, so it is kept off the per-event path: a restart refolds at most this much of the log).
   */
  saveEveryEvents?: number;
  /** …or once this long has passed since the last save with events unsaved, whichever comes first. */
  saveEveryMs?: number;
  logger?: Logger;
}

/**
 * Keeps one projection's state current: loads the saved state and checkpoint, catches up from the global
 * log, follows it live, and saves state with its position together so a restart resumes exactly there.
 */
export class ProjectionRunner<TState> {
  private state: TState;
  private position = 0;
  private unsaved = 0;
  private lastSave = Date.now();
  private subscription: Subscription | undefined;
  private readonly waiters: { position: number; resolve: () => void }[] = [];
  /** The event types the projection folds; the position still moves past every other event. */
  private readonly handles: (type: string) => boolean;

  constructor(
    private readonly projection: Projection<TState>,
    private readonly store: EventStore,
    private readonly states: ProjectionStateStore,
    private readonly options: ProjectionRunnerOptions = {},
  ) {
    this.state = projection.initialState();
    this.handles = eventTypeFilter(projection);
  }

  /** The projection's name (also the key of its saved state). */
  get name(): string {
    return this.projection.name;
  }

  /** The current state; callers must treat it as read-only. */
  get current(): TState {
    return this.state;
  }

  get checkpoint(): number {
    return this.position;
  }

  /** Loads the saved state (discarding one of another projection version), then catches up. */
  async start(): Promise<void> {
    const saved = await this.states.load(this.projection.name);
    const doc = saved?.state as SavedDocument<TState> | undefined;
    if (saved && doc && doc.projection_version === this.projection.version) {
      this.state = doc.state;
      this.position = saved.position;
    } else {
      if (saved) this.options.logger?.info({ projection: this.projection.name }, 'saved projection is of another version; rebuilding from position 0');
      this.state = this.projection.initialState();
      this.position = 0;
    }
    await this.follow();
    await this.save();
  }

  /**
   * Resolves once the projection has folded every event up to `position` (read-your-writes for commands); the
   * log is read at once rather than at the next poll, since the caller knows it has grown. Rejects with
   * `read_model_behind` (retryable) when that takes longer than `timeoutMs`.
   */
  waitFor(position: number, timeoutMs = 5000): Promise<void> {
    if (this.position >= position) return Promise.resolve();
    this.subscription?.poll();
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        const index = this.waiters.findIndex((w) => w.resolve === release);
        if (index >= 0) this.waiters.splice(index, 1);
        reject(
          new PowernodeError(
            'read_model_behind',
            `read model ${this.projection.name} is at position ${this.position} and did not reach ${position} within ${timeoutMs} ms; retry shortly`,
            {
              details: { projection: this.projection.name, position: this.position, wanted: position },
            },
          ),
        );
      }, timeoutMs);
      const release = () => {
        clearTimeout(timer);
        resolve();
      };
      this.waiters.push({ position, resolve: release });
    });
  }

  async stop(): Promise<void> {
    await this.subscription?.stop();
    this.subscription = undefined;
    await this.save();
  }

  /**
   * Drops the saved state and rebuilds from position 0 (what `powernode replay` asks a running service to do).
   * The log is folded into a fresh state while the current one keeps answering, then swapped in: a reader never
   * sees a half-rebuilt read model.
   */
  async rebuild(): Promise<{ position: number }> {
    await this.subscription?.stop();
    this.subscription = undefined;
    await this.states.drop(this.projection.name);
    let state = this.projection.initialState();
    let position = 0;
    const fold = this.store.subscribeAll({
      after_position: 0,
      onEvents: async (events) => {
        for (const event of events) if (this.handles(event.type)) state = this.projection.evolve(state, event);
        position = events[events.length - 1]!.position;
      },
      onError: (error) => this.options.logger?.error({ err: error, projection: this.projection.name }, 'projection rebuild error'),
    });
    await fold.caughtUp;
    await fold.stop();
    this.state = state;
    this.position = position;
    this.release();
    await this.follow();
    await this.save();
    return { position: this.position };
  }

  /** Folds the log live from the current position; resolves once it has caught up with the head. */
  private async follow(): Promise<void> {
    this.subscription = this.store.subscribeAll({
      after_position: this.position,
      onEvents: async (events) => {
        for (const event of events) if (this.handles(event.type)) this.state = this.projection.evolve(this.state, event);
        this.position = events[events.length - 1]!.position;
        this.unsaved += events.length;
        if (this.unsaved >= (this.options.saveEveryEvents ?? 10_000) || Date.now() - this.lastSave >= (this.options.saveEveryMs ?? 5000)) await this.save();
        this.release();
      },
      onError: (error) => this.options.logger?.error({ err: error, projection: this.projection.name }, 'projection subscription error'),
    });
    await this.subscription.caughtUp;
  }

  private async save(): Promise<void> {
    const doc: SavedDocument<TState> = { projection_version: this.projection.version, state: this.state };
    await this.states.save(this.projection.name, doc, this.position);
    this.unsaved = 0;
    this.lastSave = Date.now();
  }

  private release(): void {
    for (let i = this.waiters.length - 1; i >= 0; i--) {
      const w = this.waiters[i]!;
      if (this.position >= w.position) {
        this.waiters.splice(i, 1);
        w.resolve();
      }
    }
  }
}
