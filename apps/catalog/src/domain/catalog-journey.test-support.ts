import type { CatalogEvent } from '@powernode/contracts';
import { stateFromEvents, type Decider } from '@powernode/events';

/** An in-memory event log with streams, for driving deciders the way a command handler does. */
export class CatalogJourney {
  readonly log: (CatalogEvent & { stream: string; position: number })[] = [];

  /** Reads the stream, decides, appends; returns the new events. */
  run<C, S, E extends CatalogEvent>(decider: Decider<C, S, E>, stream: string, command: C): E[] {
    const history = this.log.filter((e) => e.stream === stream) as unknown as E[];
    const events = decider.decide(command, stateFromEvents(decider, history));
    for (const event of events) this.log.push({ ...event, stream, position: this.log.length + 1 });
    return events;
  }

  /** The state of one stream. */
  state<C, S, E extends CatalogEvent>(decider: Decider<C, S, E>, stream: string): S {
    return stateFromEvents(decider, this.log.filter((e) => e.stream === stream) as unknown as E[]);
  }
}
