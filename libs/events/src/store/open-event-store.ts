import { PowernodeError } from '@powernode/contracts';
import type { EventCatalogue } from '../catalogue.js';
import type { EventStore } from './event-store.js';

/** Where the event store lives, as `EVENT_STORE_URL` names it. */
export type EventStoreLocation =
  { adapter: 'sqlite'; path: string } | { adapter: 'postgres'; url: string } | { adapter: 'kurrentdb'; url: string } | { adapter: 'memory' };

export interface OpenEventStoreOptions {
  /** Subscription poll interval (each adapter has its own default). */
  pollIntervalMs?: number;
  /** SQLite only: `full` (default, durable per commit) or `normal`. */
  synchronous?: 'full' | 'normal';
  /** PostgreSQL only: schema holding the tables (default `powernode`). */
  schema?: string;
}

const ACCEPTED = 'sqlite:<path>, postgres://…, postgresql://…, kurrentdb://…, esdb://… or memory:';

/** Parses an `EVENT_STORE_URL`; refuses anything else with `config_invalid` naming the accepted forms. */
export function parseEventStoreUrl(url: string): EventStoreLocation {
  const invalid = (why: string) =>
    new PowernodeError('config_invalid', `EVENT_STORE_URL ${JSON.stringify(url)} is not valid: ${why}; accepted forms: ${ACCEPTED}`, {
      details: { field: 'EVENT_STORE_URL' },
    });
  if (typeof url !== 'string' || url.trim() === '') throw invalid('it is empty');
  const scheme = /^([a-z][a-z0-9+.-]*):/i.exec(url)?.[1]?.toLowerCase();
  switch (scheme) {
    case 'sqlite': {
      // sqlite:/abs/path, sqlite:relative/path and sqlite:///abs/path all name a file.
      const path = url.slice('sqlite:'.length).replace(/^\/\/(?=\/)/, '');
      if (path === '' || path === '//') throw invalid('the sqlite: form needs a file path, e.g. sqlite:./.data/events.db');
      return { adapter: 'sqlite', path };
    }
    case 'postgres':
    case 'postgresql':
      if (!url.includes('://')) throw invalid('a PostgreSQL URL looks like postgres://user@host:5432/database');
      return { adapter: 'postgres', url };
    case 'kurrentdb':
    case 'kurrentdb+discover':
    case 'kurrent':
    case 'kurrent+discover':
    case 'kdb':
    case 'kdb+discover':
    case 'esdb':
    case 'esdb+discover':
      if (!url.includes('://')) throw invalid('a KurrentDB URL looks like kurrentdb://host:2113?tls=false');
      return { adapter: 'kurrentdb', url };
    case 'memory':
      if (url.slice('memory:'.length) !== '') throw invalid('memory: takes nothing after the colon');
      return { adapter: 'memory' };
    default:
      throw invalid(scheme === undefined ? 'it has no scheme' : `the scheme ${scheme}: is not supported`);
  }
}

/**
 * Opens the event store named by an `EVENT_STORE_URL` with the given catalogue. Each adapter's module (and its
 * driver: better-sqlite3, pg, the KurrentDB client) is loaded only when a URL names it.
 */
export async function openEventStore(url: string, catalogue: EventCatalogue, options: OpenEventStoreOptions = {}): Promise<EventStore> {
  const location = parseEventStoreUrl(url);
  const poll = options.pollIntervalMs === undefined ? {} : { pollIntervalMs: options.pollIntervalMs };
  switch (location.adapter) {
    case 'sqlite':
      return (await import('./sqlite-event-store.js')).SqliteEventStore.open(location.path, catalogue, {
        ...poll,
        ...(options.synchronous === undefined ? {} : { synchronous: options.synchronous }),
      });
    case 'postgres':
      return (await import('./postgres-event-store.js')).PostgresEventStore.open(location.url, catalogue, {
        ...poll,
        ...(options.schema === undefined ? {} : { schema: options.schema }),
      });
    case 'kurrentdb':
      return (await import('./kurrent-event-store.js')).KurrentEventStore.open(location.url, catalogue, poll);
    case 'memory':
      return new (await import('./memory-event-store.js')).MemoryEventStore(catalogue);
    default: {
      const unreachable: never = location;
      throw new Error(`unhandled event store location ${JSON.stringify(unreachable)}`);
    }
  }
}
