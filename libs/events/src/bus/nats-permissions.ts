import { PowernodeError } from '@powernode/contracts';
import type { BusNames } from './bus-namespace.js';
import { rpcSubject } from './bus-namespace.js';
import { PLATFORM_NATS_MAX_PAYLOAD } from './nats-server-settings.js';

/**
 * The NATS users of one platform: a user per service, and `operator` for the CLI's `health` and `replay`.
 * Forwarded RPCs carry the acting user in their payload, so a connection that may publish a service's RPC
 * subjects can act as anybody: each user may publish only what its service sends.
 */
export const NATS_USERS = ['catalog', 'ingest', 'provisioner', 'gateway', 'operator'] as const;
export type NatsUser = (typeof NATS_USERS)[number];

/** What one NATS user may publish and subscribe to (nats-server `permissions`). */
export interface NatsUserPermissions {
  publish: string[];
  subscribe: string[];
  /** May answer the requests it receives (publish once to each request's reply subject). */
  allow_responses: boolean;
}

export interface NatsPermissionSettings {
  /** The platform's stream and subject names (`busNames(POWERNODE_BUS_NAMESPACE)`). */
  bus: BusNames;
  /** `POWERNODE_RELAY_HOST`: the only service that publishes events to the stream. */
  relay_host: 'catalog' | 'ingest' | 'provisioner';
}

/**
 * The inbox prefix of a user's connections. Replies and JetStream acknowledgements arrive there, so a user
 * subscribes to its own inboxes only and cannot read another service's replies.
 */
export function natsInboxPrefix(user: string): string {
  return `_INBOX.${user}`;
}

/** The subjects one user may publish and subscribe to: what its service sends and hears, nothing more. */
export function natsUserPermissions(user: NatsUser, settings: NatsPermissionSettings): NatsUserPermissions {
  const { bus } = settings;
  const ns = bus.namespace;
  const rpcs = (service: string) => rpcSubject(`${service}.>`, ns);
  const streams = [bus.event_stream, bus.dead_letter_stream];
  // Every service makes sure both streams exist when it starts, so no start order is required of them.
  const ensureStreams = ['$JS.API.INFO', ...streams.flatMap((s) => [`$JS.API.STREAM.INFO.${s}`, `$JS.API.STREAM.CREATE.${s}`, `$JS.API.STREAM.UPDATE.${s}`])];
  // The relay host's replicas take turns through a lease: make its stream, write, read and release it.
  const leases = bus.lease_stream;
  const relay =
    settings.relay_host === user
      ? [
          `${bus.event_subject_prefix}.>`,
          `${bus.lease_subject_prefix}.relay`,
          ...['INFO', 'CREATE', 'UPDATE', 'PURGE', 'MSG.GET'].map((api) => `$JS.API.STREAM.${api}.${leases}`),
        ]
      : [];
  const inbox = `${natsInboxPrefix(user)}.>`;
  // A durable pull consumer of the events: create or update it, read it, pull from it, ack, and dead-letter
  // what cannot be processed. Not delete: a consumer's position is the platform's.
  const consume = [
    `$JS.API.CONSUMER.CREATE.${bus.event_stream}.>`,
    `$JS.API.CONSUMER.DURABLE.CREATE.${bus.event_stream}.>`,
    `$JS.API.CONSUMER.INFO.${bus.event_stream}.>`,
    `$JS.API.CONSUMER.MSG.NEXT.${bus.event_stream}.>`,
    `$JS.ACK.${bus.event_stream}.>`,
    `${bus.dead_letter_prefix}.>`,
  ];
  switch (user) {
    case 'catalog':
      return { publish: [...ensureStreams, ...relay], subscribe: [rpcs('catalog'), inbox], allow_responses: true };
    case 'ingest':
      // The durable consumer of ModuleBuildReported.
      return { publish: [...ensureStreams, ...consume, rpcs('catalog'), ...relay], subscribe: [rpcs('ingest'), inbox], allow_responses: true };
    case 'provisioner':
      // Besides its host's durable consumer of instance events: a streamed answer (instance exec output) goes
      // to the inbox the gateway names in its request, and the gateway asks to stop it on `<that inbox>.cancel`.
      // What needs an instance's own host (its machine, its agent's liveness) is forwarded to that host's
      // replicas, on `<ns>.host.<host>.provisioner.…`.
      return {
        publish: [...ensureStreams, ...consume, `${natsInboxPrefix('gateway')}.>`, rpcSubject('host.*.provisioner.>', ns), ...relay],
        subscribe: [rpcs('provisioner'), rpcSubject('host.*.provisioner.>', ns), inbox, `${natsInboxPrefix('gateway')}.*.cancel`],
        allow_responses: true,
      };
    case 'gateway':
      return {
        // Besides the requests it forwards: reading who relays and how far each consumer lags, for /readyz and /metrics.
        publish: [
          ...ensureStreams,
          rpcs('catalog'),
          rpcs('provisioner'),
          rpcs('ingest'),
          `${natsInboxPrefix('gateway')}.*.cancel`,
          `$JS.API.STREAM.MSG.GET.${bus.lease_stream}`,
          `$JS.API.STREAM.MSG.GET.${bus.event_stream}`,
          `$JS.API.CONSUMER.LIST.${bus.event_stream}`,
        ],
        subscribe: [rpcs('gateway'), inbox],
        allow_responses: true,
      };
    case 'operator':
      return {
        publish: [rpcSubject('*.ping', ns), rpcSubject('*.projections.replay', ns)],
        subscribe: [inbox],
        allow_responses: false,
      };
  }
}

/** A user and its password, as the platform's nats-server knows them. */
export interface NatsCredential {
  user: NatsUser;
  password: string;
}

/**
 * The configuration file of a nats-server the platform starts itself: its `max_payload` and, given
 * credentials, one user per service with its permissions and no anonymous access.
 */
export function platformNatsServerConfig(options: { credentials?: readonly NatsCredential[]; permissions?: NatsPermissionSettings } = {}): string {
  const lines = [
    '# Written by powernode. max_payload: a 1 MiB webhook body, base64 in an RPC, must fit in one message.',
    `max_payload: ${PLATFORM_NATS_MAX_PAYLOAD}`,
  ];
  const credentials = options.credentials ?? [];
  if (credentials.length === 0) return `${lines.join('\n')}\n`;
  if (options.permissions === undefined) {
    throw new PowernodeError('config_invalid', 'NATS users need their permissions: pass the bus names and the relay host', {
      details: { rule: 'nats_permissions_required' },
    });
  }
  lines.push('# One user per service; a connection without a user and password is refused.', 'authorization {', '  users = [');
  for (const { user, password } of credentials) {
    if (!/^[A-Za-z0-9_-]{16,}$/.test(password)) {
      throw new PowernodeError('config_invalid', `the NATS password of ${user} must be at least 16 letters, digits, _ or -`, {
        details: { user, rule: 'nats_password_format' },
      });
    }
    const p = natsUserPermissions(user, options.permissions);
    lines.push(
      `    { user: ${quote(user)}, password: ${quote(password)}, permissions: {`,
      `        publish: { allow: [${p.publish.map(quote).join(', ')}] }`,
      `        subscribe: { allow: [${p.subscribe.map(quote).join(', ')}] }`,
      ...(p.allow_responses ? ['        allow_responses: true'] : []),
      '    } }',
    );
  }
  lines.push('  ]', '}');
  return `${lines.join('\n')}\n`;
}

function quote(value: string): string {
  return JSON.stringify(value);
}
