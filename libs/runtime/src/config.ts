import path from 'node:path';
import { z } from 'zod';
import { PowernodeError } from '@powernode/contracts';
import { BUS_NAMESPACE_PATTERN } from '@powernode/events';

/**
 * The services that can host the relay (event store → JetStream). The gateway is not one of them: it may run
 * several worker processes, and two relays on one store would publish every event twice.
 */
export const RELAY_HOSTS = ['catalog', 'ingest', 'provisioner'] as const;
export type RelayHost = (typeof RELAY_HOSTS)[number];

/** The service that hosts the relay when `POWERNODE_RELAY_HOST` is unset. */
export const DEFAULT_RELAY_HOST: RelayHost = 'catalog';

/** True when `service` runs the relay under this configuration; every service reads the same variable. */
export function hostsRelay(service: string, config: { POWERNODE_RELAY_HOST?: RelayHost | undefined }): boolean {
  return config.POWERNODE_RELAY_HOST === service;
}

/** Settings every service reads; see the configuration table in README.md. */
export const baseConfigShape = {
  POWERNODE_DATA_DIR: z.string().min(1).default('./.data'),
  NATS_URL: z
    .string()
    .default('nats://127.0.0.1:4222')
    .refine(
      (v) => v.split(',').every((u) => /^(nats|tls|ws|wss):\/\/[^\s]+$/.test(u.trim()) || /^[^\s:/]+:\d+$/.test(u.trim())),
      'must be nats://host:port (comma-separated for a cluster)',
    ),
  /** The NATS user this process connects as; unset for a server that takes anonymous connections. */
  NATS_USER: z
    .string()
    .regex(/^[A-Za-z0-9_-]{1,64}$/, 'must be a NATS user name: 1 to 64 letters, digits, _ or -')
    .optional(),
  /** A file holding NATS_USER's password (mode 0600); preferred to NATS_PASSWORD, which shows in the process environment. */
  NATS_PASSWORD_FILE: z.string().min(1).optional(),
  NATS_PASSWORD: z.string().min(1).optional(),
  EVENT_STORE_URL: z
    .string()
    .optional()
    .refine(
      (v) => v === undefined || /^(sqlite:.+|memory:|postgres(ql)?:\/\/.+|kurrentdb(\+discover)?:\/\/.+|esdb(\+discover)?:\/\/.+)$/.test(v),
      'must be sqlite:<path>, postgres://…, kurrentdb://… or esdb://…',
    ),
  OCI_REGISTRY: z
    .string()
    .regex(/^[A-Za-z0-9.-]+(:\d+)?$/, 'must be host[:port]')
    .default('127.0.0.1:5000'),
  LOG_LEVEL: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info'),
  /**
   * Which service publishes the store's log to JetStream. One name shared by every service, so exactly one of
   * them finds itself named and no deployment ends up with two relays or none.
   */
  POWERNODE_RELAY_HOST: z
    .enum(RELAY_HOSTS, {
      error: `must name the one service that relays the event log to JetStream: ${RELAY_HOSTS.join(', ')} (the same value for every service)`,
    })
    .default(DEFAULT_RELAY_HOST),
  /**
   * Puts every NATS subject (events, dead letters, RPCs) under `<namespace>.` and suffixes the JetStream stream
   * names, so several platforms can share one NATS server. Every service of a platform needs the same value.
   */
  /**
   * Copies JetStream keeps of the platform's streams (events, dead letters, leases): 3 on a cluster of three or
   * more NATS servers, so losing one loses no event. Every service of a platform needs the same value.
   */
  POWERNODE_STREAM_REPLICAS: z.coerce
    .number()
    .int()
    .min(1, 'must be 1 to 5 (3 on a cluster of three NATS servers), the same for every service')
    .max(5, 'must be 1 to 5 (3 on a cluster of three NATS servers), the same for every service')
    .default(1),
  POWERNODE_BUS_NAMESPACE: z
    .string()
    .regex(BUS_NAMESPACE_PATTERN, 'must be 1 to 32 letters, digits, _ or - (one NATS subject token), the same for every service')
    .optional(),
} as const;

export const gatewayConfigShape = {
  ...baseConfigShape,
  /** 0 binds any free port; the `gateway listening` log line then names the one bound (tests read it there). */
  PORT: z.coerce.number().int().min(0).max(65535).default(8080),
  HOST: z.string().min(1).default('127.0.0.1'),
  POWERNODE_ADMIN_TOKEN: z.string().min(16, 'must be at least 16 characters').optional(),
  /** HTTP worker processes sharing the port (Node cluster); each keeps its own read models. */
  POWERNODE_GATEWAY_WORKERS: z.coerce.number().int().min(1, 'must be at least 1').max(64, 'must be at most 64').default(1),
} as const;

/** A parsed config with the store URL resolved against the data dir. */
export type ResolvedConfig<T> = T & { EVENT_STORE_URL: string; POWERNODE_DATA_DIR: string };

/**
 * Parses environment variables with a zod shape. Throws `config_invalid` whose message has one line per bad
 * variable, naming it, what was given and what is accepted.
 */
export function parseConfig<S extends z.ZodRawShape>(shape: S, env: NodeJS.ProcessEnv = process.env): ResolvedConfig<z.infer<z.ZodObject<S>>> {
  // An empty variable means "not set" (what `VAR= cmd` and compose files with blank values produce).
  const present = Object.fromEntries(Object.entries(env).filter(([, v]) => v !== undefined && v !== ''));
  const result = z.object(shape).safeParse(present);
  if (!result.success) {
    const lines = result.error.issues.map((issue) => {
      const name = String(issue.path[0] ?? '(env)');
      const given = env[name];
      return `${name}: ${issue.message}${given === undefined ? '' : ` (got ${JSON.stringify(given)})`}`;
    });
    throw new PowernodeError('config_invalid', `invalid configuration: ${lines.join('; ')}`, { details: { problems: lines } });
  }
  const data = result.data as Record<string, unknown>;
  const dataDir = path.resolve(String(data['POWERNODE_DATA_DIR'] ?? './.data'));
  return {
    ...(data as z.infer<z.ZodObject<S>>),
    POWERNODE_DATA_DIR: dataDir,
    EVENT_STORE_URL: (data['EVENT_STORE_URL'] as string | undefined) ?? `sqlite:${path.join(dataDir, 'events.sqlite')}`,
  };
}

/** parseConfig for a process entry point: prints one clear line per problem and exits 1. */
export function loadConfigOrExit<S extends z.ZodRawShape>(
  service: string,
  shape: S,
  env: NodeJS.ProcessEnv = process.env,
): ResolvedConfig<z.infer<z.ZodObject<S>>> {
  return orExitOnInvalidConfig(service, () => parseConfig(shape, env));
}

/**
 * Runs a step of a process's start-up that reads its configuration; a `config_invalid` refusal prints one clear
 * line per problem, naming the service, and exits 1. Other errors are thrown on.
 */
export function orExitOnInvalidConfig<T>(service: string, read: () => T): T {
  try {
    return read();
  } catch (error) {
    if (error instanceof PowernodeError && error.code === 'config_invalid') {
      for (const line of (error.details?.['problems'] as string[]) ?? [error.message]) process.stderr.write(`${service}: configuration error: ${line}\n`);
      process.exit(1);
    }
    throw error;
  }
}
