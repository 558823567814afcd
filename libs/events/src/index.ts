// The public surface of @powernode/events, name by name. Importing it loads no database driver: the store
// adapters (better-sqlite3, pg, the KurrentDB client) are loaded by openEventStore when a URL names them, and
// the SQLite processed-events ledger by openSqliteProcessedLedger.

// The pure core, re-exported so a service needs one import.
export {
  assertNever,
  compareText,
  defineProjection,
  entryOf,
  eventEnvelopeSchema,
  eventTypeFilter,
  foldEvents,
  KeyedLock,
  setEntry,
  stateFromEvents,
  type DeclaredProjection,
  type Decider,
  type EventEnvelope,
  type NewEvent,
  type Projection,
  type ProjectionDefinition,
  type ProjectionHandlers,
  type StoredEventLike,
} from '@powernode/event-core';

// Event identity and the event catalogue.
export { uuidFromName, uuidv7 } from './uuid7.js';
export { EventCatalogue, type EventDefinition } from './catalogue.js';
export { powernodeEventCatalogue } from './powernode-catalogue.js';

// The store port, its in-memory adapter (unit tests construct it directly; it loads no driver), and opening
// an adapter by URL.
export type {
  AppendOptions,
  AppendResult,
  EventStore,
  ExpectedVersion,
  ReadAllOptions,
  ReadStreamOptions,
  SubscribeAllOptions,
  Subscription,
} from './store/event-store.js';
export { MemoryEventStore } from './store/memory-event-store.js';
export { openEventStore, parseEventStoreUrl, type EventStoreLocation, type OpenEventStoreOptions } from './store/open-event-store.js';
export { MemoryCheckpointStore, type CheckpointStore } from './store/checkpoint-store.js';
export { MemoryProjectionStateStore, type ProjectionSnapshot, type ProjectionStateStore } from './store/projection-state-store.js';

// Commands and read models.
export { executeCommand, type CommandMetadata, type CommandOutcome } from './decider/execute-command.js';
export { ABANDONED_CLAIM_MS, claimRecoveringAbandoned, type RegistryClaim } from './decider/abandoned-claims.js';
export { ProjectionRunner, type ProjectionRunnerOptions } from './projection/projection-runner.js';
export { ReadModelSet } from './projection/read-model-set.js';

// The bus: connection, subjects, relay, consumers.
export { defaultBusLogger, type BusLogger } from './bus/bus-logger.js';
export { connectBus, DEFAULT_NATS_URL, type BusConnection, type NatsConnectAuth } from './bus/bus-connection.js';
export { PLATFORM_NATS_MAX_PAYLOAD } from './bus/nats-server-settings.js';
export {
  NATS_USERS,
  natsInboxPrefix,
  natsUserPermissions,
  platformNatsServerConfig,
  type NatsCredential,
  type NatsPermissionSettings,
  type NatsUser,
  type NatsUserPermissions,
} from './bus/nats-permissions.js';
export { DEFAULT_LEASE_TTL_MS, ensureLeaseStream, JetStreamLease, leaseHolder, type JetStreamLeaseOptions, type LeaseStatus } from './bus/jetstream-lease.js';
export {
  deadLetterSubject,
  DEFAULT_DEAD_LETTER_PREFIX,
  DEFAULT_DEAD_LETTER_STREAM,
  DEFAULT_LEASE_PREFIX,
  DEFAULT_LEASE_STREAM,
  DEFAULT_EVENT_STREAM,
  DEFAULT_EVENT_SUBJECT_PREFIX,
  eventFilterSubject,
  eventSubject,
  streamCategory,
  subjectToken,
} from './bus/event-subjects.js';
export { BUS_NAMESPACE_PATTERN, busNames, hostRpcNamespace, rpcSubject, type BusNames } from './bus/bus-namespace.js';
export { BUS_HEADERS, decodeEvent, encodeEvent, eventHeaders } from './bus/event-message.js';
export { DEFAULT_DUPLICATE_WINDOW_MS, ensureDeadLetterStream, ensureEventStream, type EventStreamOptions } from './bus/event-stream.js';
export { EventRelay, type EventRelayOptions, type EventRelayStats } from './bus/event-relay.js';
export { DEFAULT_BACKOFF, retryDelayMs, type BackoffPolicy } from './bus/retry-delay.js';
export { failureOutcome, type DeadLetterReason, type FailureOutcome } from './bus/delivery-outcome.js';
export { MemoryProcessedLedger, type ProcessedLedger } from './bus/processed-ledger.js';
export { openSqliteProcessedLedger, type SqliteProcessedLedger } from './bus/open-processed-ledger.js';
export { DurableConsumer, type DeliveryContext, type DurableConsumerOptions, type DurableConsumerStats, type EventHandler } from './bus/durable-consumer.js';

// Request/reply between services.
export { rpcFailure, rpcOk, rpcReplySchema, type RpcReply } from './bus/rpc-reply.js';
export { rpcHandler, unwrapRpcReply, type RpcContext, type RpcHandlerOptions, type RpcTransportContext } from './bus/rpc-handler.js';
export { RpcClient, type RpcClientOptions, type RpcRequestOptions } from './bus/rpc-client.js';
export { serveRpc, serveRpcTable } from './bus/rpc-responder.js';
export { rpcHandlerTable, type RpcHandlerTable, type RpcTableHandler, type RpcTransportHandler } from './bus/rpc-handler-table.js';
export {
  readStreamedReply,
  RpcStreamWriter,
  STREAM_END_PART,
  streamedRpcHandler,
  withStreamWriter,
  type ReadStreamedReplyOptions,
  type StreamedReplyItem,
} from './bus/rpc-stream.js';
