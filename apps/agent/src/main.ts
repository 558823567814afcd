import { PowernodeError } from '@powernode/contracts';
import { parseAgentConfig, type AgentConfig } from './agent-config.js';
import { createAgentLogger } from './agent-logger.js';
import { readFile } from 'node:fs/promises';
import { fetchOver } from './ca-trusting-fetch.js';
import { GatewayClient } from './gateway-client.js';
import { AGENT_VERSION, InstanceAgent } from './instance-agent.js';
import { detectIsolationBoundary, type IsolationBoundary } from './isolation-boundary.js';
import { KeeperClient } from './machine-link.js';
import { MachineKeeper } from './machine-keeper.js';
import { machineNameOf, NspawnMachine } from './nspawn-machine.js';
import { QemuMachine } from './qemu-machine.js';
import { RegistryClients } from './registry-clients.js';

function configOrExit(): AgentConfig {
  try {
    return parseAgentConfig(process.env);
  } catch (error) {
    if (error instanceof PowernodeError && error.code === 'config_invalid') {
      for (const line of (error.details?.['problems'] as string[] | undefined) ?? [error.message])
        process.stderr.write(`agent: configuration error: ${line}\n`);
      process.exit(1);
    }
    throw error;
  }
}

const config = configOrExit();
const logger = createAgentLogger(config.instanceId, config.logLevel);
const caPem = config.caPem ?? (config.caFile === undefined ? undefined : await readFile(config.caFile, 'utf8'));
const fetchImplementation =
  caPem === undefined && config.gatewaySocket === undefined && config.gatewayPipe === undefined
    ? undefined
    : fetchOver({
        ...(caPem === undefined ? {} : { caPem }),
        ...(config.gatewaySocket === undefined ? {} : { socketPath: config.gatewaySocket }),
        ...(config.gatewayPipe === undefined ? {} : { pipe: config.gatewayPipe }),
      });
const gateway = new GatewayClient({
  baseUrl: config.gatewayUrl,
  timeoutMs: config.httpTimeoutMs,
  userAgent: `powernode-agent/${AGENT_VERSION}`,
  ...(fetchImplementation === undefined ? {} : { fetch: fetchImplementation }),
});
const registryFetch = caPem === undefined ? undefined : fetchOver({ caPem });
const registries = new RegistryClients({
  insecure: config.insecureRegistries,
  retries: config.ociRetries,
  ...(registryFetch === undefined ? {} : { fetch: registryFetch }),
});

/** Inside a QEMU machine the keeper is reached over the user-mode network, with the token it left in the link. */
function keeperOverTcp(): { url: string; tokenFile: string } | undefined {
  return config.keeperUrl === undefined ? undefined : { url: config.keeperUrl, tokenFile: config.keeperTokenFile ?? `${config.sandboxDir}/keeper.token` };
}

/** What runs: a machine's keeper on the host, the agent inside a machine, or a sandbox instance's agent. */
async function roleOf(): Promise<{ start(): Promise<void>; stop(): Promise<void> }> {
  if (config.machine === 'nspawn') {
    const machine = new NspawnMachine({
      sandboxDir: config.sandboxDir,
      machineName: machineNameOf(config.instanceId),
      hostname: config.hostname,
      network: { claimsDir: config.machineNetworkDir, instanceId: config.instanceId, subnet: config.machineSubnet },
    });
    return new MachineKeeper({ config, logger, gateway, registries, machine });
  }
  if (config.machine === 'qemu') {
    const machine = new QemuMachine({
      sandboxDir: config.sandboxDir,
      cacheDir: config.cacheDir,
      hostname: config.hostname,
      instanceId: config.instanceId,
      ...config.qemu,
    });
    return new MachineKeeper({ config, logger, gateway, registries, machine, link: 'tcp' });
  }
  if (config.machine === 'inside') {
    // Commands run in this machine as they are: the machine is the boundary.
    const boundary: IsolationBoundary = { kind: 'machine', program: 'systemd', enter: (argv) => [...argv] };
    return new InstanceAgent({
      config,
      logger,
      boundary,
      gateway,
      registries,
      machine: new KeeperClient(config.sandboxDir, config.httpTimeoutMs * 20, keeperOverTcp()),
    });
  }
  const boundary = await detectIsolationBoundary(config.isolation);
  if (boundary.kind === 'none') logger.warn({ isolation: boundary }, 'no isolation boundary: module init commands will be recorded as skipped');
  else logger.info({ isolation: boundary }, 'isolation boundary found');
  return new InstanceAgent({ config, logger, boundary, gateway, registries });
}

const agent = await roleOf();

let stopping = false;
const onSignal = (signal: NodeJS.Signals): void => {
  if (stopping) {
    logger.warn({ signal }, 'second signal: exiting now');
    process.exit(130);
  }
  stopping = true;
  logger.info({ signal }, 'stopping: running init.stop of started modules');
  agent.stop().then(
    () => {
      logger.info('stopped');
      process.exit(0);
    },
    (error: unknown) => {
      logger.error({ err: (error as Error).message }, 'stop did not complete cleanly');
      process.exit(1);
    },
  );
};
process.on('SIGTERM', onSignal);
process.on('SIGINT', onSignal);

try {
  await agent.start();
  logger.info(
    {
      instance_id: config.instanceId,
      role: config.machine === 'nspawn' || config.machine === 'qemu' ? 'machine keeper' : config.machine === 'inside' ? 'agent inside the machine' : 'agent',
      sandbox: config.sandboxDir,
      cache: config.cacheDir,
    },
    'agent running',
  );
} catch (error) {
  if (error instanceof PowernodeError && error.code === 'config_invalid') {
    process.stderr.write(`agent: configuration error: ${error.message}\n`);
  }
  // The last line the agent writes: it names what is wrong and whether starting again can help.
  const retryable = error instanceof PowernodeError ? error.retryable : undefined;
  logger.fatal(
    { err: (error as Error).message, code: (error as PowernodeError).code, retryable, exit_code: 1 },
    `agent cannot start: ${(error as Error).message}`,
  );
  process.exit(1);
}
