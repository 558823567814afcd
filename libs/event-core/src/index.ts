// The pure core of event sourcing: the envelope, deciders, projections, the fold, and the per-key lock that
// commands on one stream run under. No I/O: stores, the bus and RPC live in @powernode/events, which re-exports
// this core.
export { eventEnvelopeSchema, type EventEnvelope, type NewEvent } from './envelope.js';
export { assertNever, stateFromEvents, type Decider } from './decider.js';
export {
  defineProjection,
  eventTypeFilter,
  foldEvents,
  type DeclaredProjection,
  type Projection,
  type ProjectionDefinition,
  type ProjectionHandlers,
  type StoredEventLike,
} from './projection.js';
export { compareText, entryOf, setEntry } from './read-model-entries.js';
export { KeyedLock } from './keyed-lock.js';
