import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { PowernodeError } from '@powernode/contracts';
import { busNames } from '@powernode/events';
import {
  ensureNatsCredentials,
  findExecutable,
  gatewayConfigShape,
  installCommand,
  installDebianPackages,
  natsCredentialFiles,
  natsUserEnvironment,
  parseConfig,
  pollUntil,
  type NatsCredentialFiles,
} from '@powernode/runtime';
import { natsHostPort, registryAnswers, registryHostPort, tcpAnswers } from './endpoint-probe.js';
import { ProcessSupervisor } from './process-supervisor.js';
import { devServiceEnvironment } from './service-environment.js';

export const SERVICES = ['catalog', 'ingest', 'provisioner', 'gateway'] as const;

/**
 * The services `POWERNODE_REPLICAS` multiplies: the catalogs share requests and contend for the relay lease,
 * the ingests share one durable consumer. The gateway's replicas are its workers (one port); the provisioner runs
 * once, since its reconciler acts on every instance it reads and drives this host's machines.
 */
const REPLICATED: ReadonlySet<string> = new Set(['catalog', 'ingest']);
/** How long a replica that exited waits before it is started again. */
const REPLICA_RESTART_MS = 1000;

/** `POWERNODE_REPLICAS`: how many of each service `npm start` runs, 1 to 8. */
export function devReplicas(env: NodeJS.ProcessEnv): number {
  const raw = env['POWERNODE_REPLICAS'];
  if (raw === undefined || raw === '') return 1;
  if (!/^[1-8]$/.test(raw)) {
    const problem = `POWERNODE_REPLICAS: must be a whole number from 1 to 8 (got ${JSON.stringify(raw)})`;
    throw new PowernodeError('config_invalid', `invalid configuration: ${problem}`, { details: { problems: [problem] } });
  }
  return Number(raw);
}

/**
 * Where the dev stack runs its own nats-server when `NATS_URL` is unset: not NATS's default port, where a
 * machine's shared server without authentication often answers already.
 */
export const DEV_NATS_URL = 'nats://127.0.0.1:4223';

const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../../..');

export interface DevStackOptions {
  env?: NodeJS.ProcessEnv;
  out?: (line: string) => void;
  /** How long to wait for the gateway's /readyz before giving up. */
  readyTimeoutMs?: number;
}

export interface RunningDevStack {
  gatewayUrl: string;
  adminTokenFile: string | undefined;
  started: string[];
  stop(): Promise<void>;
  /** Resolves when a service exits on its own (the stack is then unhealthy). */
  crashed: Promise<string>;
}

/**
 * Brings up the platform on one machine: reuses NATS and the registry when they answer, otherwise spawns
 * them (installing the Debian packages when allowed), then starts every service and waits for /readyz.
 */
export async function startDevStack(options: DevStackOptions = {}): Promise<RunningDevStack> {
  const env = { ...(options.env ?? process.env) };
  const out = options.out ?? ((l: string) => process.stdout.write(`${l}\n`));
  const config = parseConfig(gatewayConfigShape, env);
  if (config.PORT === 0) {
    // The provisioner hands the gateway's address to every agent it starts, before the gateway has bound one.
    const problem = 'PORT: powernode dev needs a fixed port for the gateway, which it gives the agents it starts (got "0")';
    throw new PowernodeError('config_invalid', `invalid configuration: ${problem}`, { details: { problems: [problem] } });
  }
  const replicas = devReplicas(env);
  const dataDir = config.POWERNODE_DATA_DIR;
  mkdirSync(dataDir, { recursive: true });
  const supervisor = new ProcessSupervisor(out, ['nats', 'registry', ...SERVICES.map((s) => (replicas > 1 && REPLICATED.has(s) ? `${s}-${replicas}` : s))]);
  const started: string[] = [];
  let onCrash!: (name: string) => void;
  const crashed = new Promise<string>((r) => (onCrash = r));

  try {
    ensureMachineTools(out);
    // A nats-server the stack starts always has one user per service (the platform's NATS permissions); one it
    // finds is used with whatever credentials the environment names (NATS_USER, NATS_PASSWORD_FILE).
    const natsUrlGiven = (env['NATS_URL'] ?? '') !== '';
    const natsUrl = natsUrlGiven ? config.NATS_URL : DEV_NATS_URL;
    const nats = natsHostPort(natsUrl);
    const authDir = path.join(dataDir, 'nats-auth');
    let natsCredentials: NatsCredentialFiles | undefined;
    if (await tcpAnswers(nats.host, nats.port)) {
      // At the stack's own address, a server that answers is the one an earlier start left with these users.
      if (!natsUrlGiven && existsSync(natsCredentialFiles(authDir).config_file)) natsCredentials = natsCredentialFiles(authDir);
      out(`powernode | using NATS at ${natsUrl}${natsCredentials ? ` with the users in ${authDir}` : ''}`);
      if (!natsCredentials && !env['NATS_USER']) {
        out(
          `powernode | warning: connecting to NATS at ${natsUrl} without credentials: whatever reaches it can send any service's requests. Unset NATS_URL (or name a free address) to have npm start run its own with one user per service.`,
        );
      }
    } else {
      const bin = requireExecutable('nats-server', 'nats-server', out);
      const storeDir = path.join(dataDir, 'nats');
      mkdirSync(storeDir, { recursive: true });
      natsCredentials = ensureNatsCredentials(authDir, { bus: busNames(config.POWERNODE_BUS_NAMESPACE), relay_host: config.POWERNODE_RELAY_HOST });
      out(`powernode | starting nats-server (JetStream) on ${nats.host}:${nats.port}, data in ${storeDir}, one user per service (passwords in ${authDir})`);
      supervisor.start('nats', bin, ['-c', natsCredentials.config_file, '-a', nats.host, '-p', String(nats.port), '-js', '-sd', storeDir], {}, () =>
        onCrash('nats'),
      );
      started.push('nats');
      if (!(await pollUntil(() => tcpAnswers(nats.host, nats.port), { timeoutMs: 10_000 })))
        throw new Error(`nats-server did not answer on ${nats.host}:${nats.port} within 10 s`);
    }
    if (natsCredentials) {
      out(`powernode | for powernode health and replay: NATS_URL=${natsUrl} NATS_USER=operator NATS_PASSWORD_FILE=${natsCredentials.passwordFile('operator')}`);
    }

    if (await registryAnswers(config.OCI_REGISTRY)) {
      out(`powernode | using OCI registry at ${config.OCI_REGISTRY}`);
    } else {
      const bin = requireExecutable('docker-registry', 'docker-registry', out);
      const { host, port } = registryHostPort(config.OCI_REGISTRY);
      const storage = path.join(dataDir, 'registry');
      mkdirSync(storage, { recursive: true });
      const configFile = path.join(dataDir, 'registry.yml');
      writeFileSync(
        configFile,
        [
          'version: 0.1',
          'log:',
          '  level: warn',
          'storage:',
          '  filesystem:',
          `    rootdirectory: ${storage}`,
          '  delete:',
          '    enabled: true',
          'http:',
          `  addr: ${host}:${port}`,
          '',
        ].join('\n'),
      );
      out(`powernode | starting docker-registry on ${host}:${port}, data in ${storage}`);
      supervisor.start('registry', bin, ['serve', configFile], {}, () => onCrash('registry'));
      started.push('registry');
      if (!(await pollUntil(() => registryAnswers(config.OCI_REGISTRY), { timeoutMs: 10_000 })))
        throw new Error(`docker-registry did not answer on ${config.OCI_REGISTRY} within 10 s`);
    }

    const serviceEnv = devServiceEnvironment(env, { ...config, NATS_URL: natsUrl });
    if (replicas > 1) {
      out(
        `powernode | ${replicas} replicas of catalog and ingest, ${env['POWERNODE_GATEWAY_WORKERS'] ?? replicas} gateway workers, one provisioner (it drives this host's machines); a replica that exits is started again`,
      );
    }
    for (const service of SERVICES) {
      const own = natsCredentials ? natsUserEnvironment(natsCredentials, service) : {};
      const count = REPLICATED.has(service) ? replicas : 1;
      const serviceOwnEnv = {
        ...serviceEnv,
        ...own,
        ...(service === 'gateway' && replicas > 1 && !env['POWERNODE_GATEWAY_WORKERS'] ? { POWERNODE_GATEWAY_WORKERS: String(replicas) } : {}),
      };
      for (let replica = 1; replica <= count; replica++) {
        const name = count > 1 ? `${service}-${replica}` : service;
        const launch = (): void => {
          if (supervisor.stopped) return;
          supervisor.start(name, process.execPath, [path.join(repoRoot, 'apps', service, 'dist', 'main.js')], { cwd: repoRoot, env: serviceOwnEnv }, () => {
            // One of several replicas going is what replicas are for: the others carry on while it starts again.
            if (count > 1) setTimeout(launch, REPLICA_RESTART_MS).unref();
            else onCrash(name);
          });
        };
        launch();
        started.push(name);
      }
    }

    const gatewayUrl = `http://${config.HOST}:${config.PORT}`;
    const ready = await Promise.race([
      pollUntil(
        async () => {
          try {
            return (await fetch(`${gatewayUrl}/readyz`, { signal: AbortSignal.timeout(1000) })).status === 200;
          } catch {
            return false;
          }
        },
        { timeoutMs: options.readyTimeoutMs ?? 60_000, intervalMs: 200 },
      ).then((answer) => answer === true),
      crashed.then(() => false),
    ]);
    if (!ready) throw new Error(`the platform did not become ready at ${gatewayUrl}/readyz`);
    const adminTokenFile = config.POWERNODE_ADMIN_TOKEN ? undefined : path.join(dataDir, 'admin-token');
    return { gatewayUrl, adminTokenFile, started, stop: () => supervisor.stopAll(), crashed };
  } catch (error) {
    await supervisor.stopAll();
    throw error;
  }
}

/**
 * Instances boot as systemd-nspawn machines and modules install their packages with mmdebstrap: as root,
 * install what is missing. Without them the platform still runs (the local driver; config-only builds), so a
 * failed install is a warning that says what to run.
 */
function ensureMachineTools(out: (line: string) => void): void {
  if (process.getuid?.() !== 0) return;
  const missing = MACHINE_TOOLS.filter(([program]) => !findExecutable(program)).map(([, debianPackage]) => debianPackage);
  if (missing.length === 0) return;
  if (!installDebianPackages(missing, (l) => out(`powernode | ${l}`))) {
    out(
      `powernode | warning: ${missing.join(', ')} could not be installed; instances fall back to the local driver. Install them with:\n  ${installCommand(missing)}`,
    );
  }
}

const MACHINE_TOOLS: ReadonlyArray<readonly [string, string]> = [
  ['systemd-nspawn', 'systemd-container'],
  ['mmdebstrap', 'mmdebstrap'],
  // The qemu driver (POWERNODE_HYPERVISOR=qemu): QEMU, and what its initramfs and verified roots are built with.
  ['qemu-system-x86_64', 'qemu-system-x86'],
  ['busybox', 'busybox-static'],
  ['cpio', 'cpio'],
  ['setfattr', 'attr'],
  ['gcc', 'gcc'],
];

function requireExecutable(name: string, debianPackage: string, out: (line: string) => void): string {
  const found = findExecutable(name);
  if (found) return found;
  if (installDebianPackages([debianPackage], (l) => out(`powernode | ${l}`))) {
    const installed = findExecutable(name);
    if (installed) return installed;
  }
  throw new Error(`${name} is not installed and nothing answers at its address. Install it with:\n  ${installCommand([debianPackage])}`);
}
