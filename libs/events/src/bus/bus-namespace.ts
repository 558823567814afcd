import { PowernodeError } from '@powernode/contracts';
import {
  DEFAULT_DEAD_LETTER_PREFIX,
  DEFAULT_DEAD_LETTER_STREAM,
  DEFAULT_EVENT_STREAM,
  DEFAULT_EVENT_SUBJECT_PREFIX,
  DEFAULT_LEASE_PREFIX,
  DEFAULT_LEASE_STREAM,
  subjectToken,
} from './event-subjects.js';

/**
 * What `POWERNODE_BUS_NAMESPACE` may be: one NATS subject token that is also valid inside a JetStream stream
 * name (no `.`, wildcards, whitespace or path separators).
 */
export const BUS_NAMESPACE_PATTERN = /^[A-Za-z0-9_-]{1,32}$/;

/** The JetStream streams and subject prefixes one platform uses on a NATS server. */
export interface BusNames {
  /** `POWERNODE_BUS_NAMESPACE`, or undefined for the unprefixed names. */
  namespace: string | undefined;
  event_stream: string;
  /** Events are published on `<event_subject_prefix>.<stream category>.<type>`. */
  event_subject_prefix: string;
  dead_letter_stream: string;
  /** Dead-lettered messages go to `<dead_letter_prefix>.<durable>`. */
  dead_letter_prefix: string;
  /** The stream of leases: who relays (`<lease_subject_prefix>.relay`), one holder at a time. */
  lease_stream: string;
  lease_subject_prefix: string;
}

/**
 * The names of a platform's streams and subjects. Without a namespace they are the historical ones
 * (`POWERNODE_EVENTS` on `powernode.events.>`); with one, every subject starts with `<namespace>.` and every
 * stream name ends with `_<namespace>`, so several platforms share a NATS server without hearing each other.
 */
export function busNames(namespace?: string): BusNames {
  if (namespace === undefined) {
    return {
      namespace,
      event_stream: DEFAULT_EVENT_STREAM,
      event_subject_prefix: DEFAULT_EVENT_SUBJECT_PREFIX,
      dead_letter_stream: DEFAULT_DEAD_LETTER_STREAM,
      dead_letter_prefix: DEFAULT_DEAD_LETTER_PREFIX,
      lease_stream: DEFAULT_LEASE_STREAM,
      lease_subject_prefix: DEFAULT_LEASE_PREFIX,
    };
  }
  if (!BUS_NAMESPACE_PATTERN.test(namespace)) {
    throw new PowernodeError('config_invalid', `bus namespace ${JSON.stringify(namespace)} must be 1 to 32 letters, digits, _ or -`, {
      details: { namespace },
    });
  }
  return {
    namespace,
    event_stream: `${DEFAULT_EVENT_STREAM}_${namespace}`,
    event_subject_prefix: `${namespace}.${DEFAULT_EVENT_SUBJECT_PREFIX}`,
    dead_letter_stream: `${DEFAULT_DEAD_LETTER_STREAM}_${namespace}`,
    dead_letter_prefix: `${namespace}.${DEFAULT_DEAD_LETTER_PREFIX}`,
    lease_stream: `${DEFAULT_LEASE_STREAM}_${namespace}`,
    lease_subject_prefix: `${namespace}.${DEFAULT_LEASE_PREFIX}`,
  };
}

/** The NATS subject of an RPC pattern (`CATALOG_RPC.createModule`, …) on a namespaced bus. */
export function rpcSubject(pattern: string, namespace?: string): string {
  return namespace === undefined ? pattern : `${namespace}.${pattern}`;
}

/**
 * The namespace of the RPCs only one host's replicas answer (`<namespace>.host.<host>`): requests that need what
 * lives on that host, such as an instance's machine, are forwarded there by whichever replica received them.
 */
export function hostRpcNamespace(namespace: string | undefined, host: string): string {
  const token = subjectToken(host);
  return namespace === undefined ? `host.${token}` : `${namespace}.host.${token}`;
}
