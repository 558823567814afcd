import { existsSync, mkdirSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { NestFactory } from '@nestjs/core';
import type { MicroserviceOptions } from '@nestjs/microservices';
import { entryOf, hostRpcNamespace } from '@powernode/events';
import { rpcMicroserviceOptions, RpcHostModule } from '@powernode/events/rpc-microservice';
import { z } from 'zod';
import { DEFAULT_MACHINE_SUBNET, machineSubnetSchema, PowernodeError } from '@powernode/contracts';
import { CommandSyntaxError, splitArgv } from '@powernode/manifest';
import { baseConfigShape, type Logger, type ServiceHost } from '@powernode/runtime';
import { AgentSessions } from './agent-sessions.js';
import { EnrolmentKeys } from './agent-secrets.js';
import { LocalDriver, NspawnDriver, nspawnUsable, QemuDriver, qemuUsable, type HypervisorDriver, type LocalDriverEvent } from './drivers/index.js';
import { HeartbeatSweeper } from './heartbeat-sweeper.js';
import { InstanceConsoleService } from './instance-console-service.js';
import { InstanceExecService } from './instance-exec-service.js';
import { routedToInstanceHost } from './instance-host-routing.js';
import { InstanceReactionConsumer, REACT_ON_THE_BUS } from './instance-reactions.js';
import { InstanceReconciler } from './instance-reconciler.js';
import { LivenessTable } from './liveness-table.js';
import { provisionerRpcHandlers } from './provisioner-rpc-handlers.js';
import { ProvisionerService } from './provisioner-service.js';
import { ProvisionerReadModels } from './read-models.js';

export const provisionerConfigShape = {
  ...baseConfigShape,
  /**
   * The hypervisor driver that runs instances: `auto` picks qemu where a KVM guest starts (TCG is too slow to be
   * picked unasked), else nspawn where systemd-nspawn runs as root, else local.
   */
  POWERNODE_HYPERVISOR: z.enum(['auto', 'qemu', 'nspawn', 'local']).default('auto'),
  /**
   * The host this provisioner's driver runs machines on (default: the machine's hostname). Instances record it;
   * only this host's provisioner acts on their events, and its replicas share one durable consumer.
   */
  POWERNODE_PROVISIONER_HOST: z
    .string()
    .regex(/^[A-Za-z0-9][A-Za-z0-9._-]{0,252}$/, 'must be a host name: letters, digits, ".", "_" and "-", starting with a letter or digit')
    .optional(),
  /** qemu: a VM's memory and vCPUs when the instance's node or template sets none. */
  POWERNODE_QEMU_MEMORY_MB: z.coerce.number().int().min(128).default(512),
  POWERNODE_QEMU_VCPUS: z.coerce.number().int().min(1).max(256).default(1),
  /** How often agents report; an instance silent for three intervals is marked stale. */
  POWERNODE_HEARTBEAT_INTERVAL_MS: z.coerce.number().int().min(50).max(3_600_000).default(5000),
  /** The gateway's port, for the default POWERNODE_GATEWAY_URL. */
  PORT: z.coerce.number().int().min(1).max(65535).default(8080),
  /** Where agents reach the platform; default `http://127.0.0.1:<PORT>`. */
  POWERNODE_GATEWAY_URL: z.url().optional(),
  /** The agent's command line (argv with POSIX quoting, never given to a shell); default: this checkout's agent. */
  POWERNODE_AGENT_COMMAND: z.string().min(1).optional(),
  /** How long a new instance's enrolment token stays valid. */
  POWERNODE_ENROLMENT_TTL_MS: z.coerce.number().int().min(1000).default(3_600_000),
  /** nspawn: the IPv4 subnet each machine takes a /30 of (checked here, passed to the agents). */
  POWERNODE_MACHINE_SUBNET: z
    .string()
    .refine((cidr) => machineSubnetSchema.safeParse(cidr).success, 'must be an IPv4 subnet from /8 to /29 with the host bits zero, e.g. 10.213.0.0/16')
    .default(DEFAULT_MACHINE_SUBNET),
} as const;

type ProvisionerConfig = {
  POWERNODE_DATA_DIR: string;
  NATS_URL: string;
  OCI_REGISTRY: string;
  POWERNODE_HYPERVISOR: 'auto' | 'qemu' | 'nspawn' | 'local';
  POWERNODE_PROVISIONER_HOST?: string | undefined;
  POWERNODE_QEMU_MEMORY_MB: number;
  POWERNODE_QEMU_VCPUS: number;
  POWERNODE_HEARTBEAT_INTERVAL_MS: number;
  PORT: number;
  POWERNODE_GATEWAY_URL?: string | undefined;
  POWERNODE_AGENT_COMMAND?: string | undefined;
  POWERNODE_ENROLMENT_TTL_MS: number;
  POWERNODE_MACHINE_SUBNET: string;
};

export interface RunningProvisioner {
  service: ProvisionerService;
  agents: AgentSessions;
  reconciler: InstanceReconciler;
  reactions: InstanceReactionConsumer;
  readModels: ProvisionerReadModels;
  driver: HypervisorDriver;
}

const DEFAULT_AGENT_ENTRY = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../agent/dist/main.js');

/**
 * Starts the provisioner on a connected host: read models caught up, the hypervisor driver, the NATS
 * microservice answering PROVISIONER_RPC (commands append events and answer), a start-up pass that re-adopts
 * the agents of every instance of this host that is not terminated, the host's durable consumer of instance
 * events (the driver follows each command there), and the heartbeat sweeper. Returns its parts for in-process
 * use (tests, benchmarks).
 */
export async function startProvisioner(host: ServiceHost<ProvisionerConfig>): Promise<RunningProvisioner> {
  const { config, logger } = host;
  const readModels = new ProvisionerReadModels(host.store, logger);
  await readModels.start();
  host.onShutdown({ name: 'read-models', close: () => readModels.stop() });

  const keys = EnrolmentKeys.loadOrCreate(config.POWERNODE_DATA_DIR);
  const cacheDir = path.join(config.POWERNODE_DATA_DIR, 'cache');
  mkdirSync(path.join(cacheDir, 'blobs', 'sha256'), { recursive: true });
  const driver = await createDriver(config, cacheDir, logger);
  host.onShutdown({ name: 'driver', close: () => driver.close() });

  const liveness = new LivenessTable();
  const provisionerHost = config.POWERNODE_PROVISIONER_HOST ?? os.hostname();
  const gatewayUrl = config.POWERNODE_GATEWAY_URL ?? `http://127.0.0.1:${config.PORT}`;
  const reconciler = new InstanceReconciler({
    store: host.store,
    driver,
    readModels,
    keys,
    liveness,
    settings: { gatewayUrl, ociRegistry: config.OCI_REGISTRY, cacheDir, provisionerHost },
    logger,
  });
  const service = new ProvisionerService({
    store: host.store,
    readModels,
    reactions: REACT_ON_THE_BUS,
    liveness,
    keys,
    driverKind: driver.kind,
    settings: { enrolmentTtlMs: config.POWERNODE_ENROLMENT_TTL_MS, provisionerHost },
    logger,
  });
  const exec = new InstanceExecService({ store: host.store, driver, logger });
  const consoles = new InstanceConsoleService({ store: host.store, driver });
  const agents = new AgentSessions({ store: host.store, readModels, liveness, keys, heartbeatIntervalMs: config.POWERNODE_HEARTBEAT_INTERVAL_MS, logger });

  const handlers = provisionerRpcHandlers({ service, exec, consoles, agents, readModels, nats: host.nats, logger });
  const routed = routedToInstanceHost(handlers, {
    provisionerHost,
    hostOf: (instanceId) => entryOf(readModels.instances.current.instances, instanceId)?.provisioner_host ?? null,
    instanceOfCredential: (credential) => agents.instanceOfCredential(credential),
    nats: host.nats,
    namespace: host.bus.namespace,
  });
  // Every replica answers the shared queue; only this host's replicas answer what is forwarded to the host.
  for (const [queue, namespace, table] of [
    ['provisioner', host.bus.namespace, routed],
    ['provisioner-host', hostRpcNamespace(host.bus.namespace, provisionerHost), handlers],
  ] as const) {
    const app = await NestFactory.createMicroservice<MicroserviceOptions>(RpcHostModule, {
      ...rpcMicroserviceOptions({ servers: config.NATS_URL.split(','), queue, namespace, auth: host.natsAuth, handlers: table }),
      logger: false,
    });
    await app.listen();
    host.onShutdown({ name: `nest ${queue}`, close: () => app.close() });
  }

  const resumed = await reconciler.resumeAll('provisioner-start');
  // After the start-up pass: what it already did, the events' reactions find done.
  const reactions = new InstanceReactionConsumer({ host, reconciler, readModels, provisionerHost, dataDir: config.POWERNODE_DATA_DIR, logger });
  await reactions.start();
  host.onShutdown({ name: 'instance-reactions', close: () => reactions.stop() });
  const sweeper = new HeartbeatSweeper({ store: host.store, readModels, liveness, reconciler, intervalMs: config.POWERNODE_HEARTBEAT_INTERVAL_MS, logger });
  sweeper.start();
  host.onShutdown({ name: 'heartbeat-sweeper', close: () => sweeper.stop() });
  logger.info(
    {
      driver: driver.kind,
      provisioner_host: provisionerHost,
      durable: reactions.durable,
      gateway_url: gatewayUrl,
      heartbeat_interval_ms: config.POWERNODE_HEARTBEAT_INTERVAL_MS,
      ...resumed,
    },
    'provisioner ready',
  );
  return { service, agents, reconciler, reactions, readModels, driver };
}

/** The driver `POWERNODE_HYPERVISOR` names; `auto` is qemu where KVM works, else nspawn where it can run as root, else local. */
export async function chooseHypervisor(setting: ProvisionerConfig['POWERNODE_HYPERVISOR']): Promise<{ kind: 'qemu' | 'nspawn' | 'local'; reason: string }> {
  if (setting !== 'auto') return { kind: setting, reason: `POWERNODE_HYPERVISOR=${setting}` };
  const qemu = await qemuUsable();
  if (qemu.usable && qemu.kvm) return { kind: 'qemu', reason: qemu.reason };
  const nspawn = await nspawnUsable();
  return nspawn.usable ? { kind: 'nspawn', reason: nspawn.reason } : { kind: 'local', reason: nspawn.reason };
}

async function createDriver(config: ProvisionerConfig, cacheDir: string, logger: Logger): Promise<HypervisorDriver> {
  const agentCommand = config.POWERNODE_AGENT_COMMAND === undefined ? undefined : agentArgv(config.POWERNODE_AGENT_COMMAND);
  if (agentCommand === undefined && !existsSync(DEFAULT_AGENT_ENTRY)) {
    logger.warn(
      { agent_entry: DEFAULT_AGENT_ENTRY },
      'the agent entry point is missing: instances will not start until it exists or POWERNODE_AGENT_COMMAND names an agent',
    );
  }
  const chosen = await chooseHypervisor(config.POWERNODE_HYPERVISOR);
  logger.info({ driver: chosen.kind, reason: chosen.reason }, 'hypervisor driver chosen');
  const options = {
    dataDir: config.POWERNODE_DATA_DIR,
    cacheDir,
    ...(agentCommand === undefined ? {} : { agentCommand }),
    onEvent: (event: LocalDriverEvent) => logger.info({ driver: chosen.kind, ...event }, `${chosen.kind} driver: ${event.type}`),
  };
  switch (chosen.kind) {
    case 'nspawn':
      return new NspawnDriver({ ...options, agentEnvironment: { POWERNODE_MACHINE_SUBNET: config.POWERNODE_MACHINE_SUBNET } });
    case 'qemu':
      return new QemuDriver({ ...options, defaults: { memoryMb: config.POWERNODE_QEMU_MEMORY_MB, vcpus: config.POWERNODE_QEMU_VCPUS } });
    case 'local':
      return new LocalDriver(options);
    default: {
      const unreachable: never = chosen.kind;
      return unreachable;
    }
  }
}

function agentArgv(command: string): string[] {
  let argv: string[];
  try {
    argv = splitArgv(command);
  } catch (error) {
    const reason = error instanceof CommandSyntaxError ? error.message : String(error);
    throw new PowernodeError('config_invalid', `invalid configuration: POWERNODE_AGENT_COMMAND cannot be split into arguments: ${reason}`, {
      cause: error,
      details: { problems: [`POWERNODE_AGENT_COMMAND: ${reason}`] },
    });
  }
  if (argv.length === 0)
    throw new PowernodeError('config_invalid', 'invalid configuration: POWERNODE_AGENT_COMMAND names no program', {
      details: { problems: ['POWERNODE_AGENT_COMMAND: names no program'] },
    });
  return argv;
}
