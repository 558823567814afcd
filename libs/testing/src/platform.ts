import { randomBytes } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { busNames, type NatsConnectAuth, type NatsUser } from '@powernode/events';
import { natsAuthFromConfig, natsUserEnvironment, RELAY_HOSTS, type RelayHost } from '@powernode/runtime';
import { startNatsCluster, type TestNatsCluster } from './nats-cluster.js';
import { startNatsServer, type TestNatsServer } from './nats-server.js';
import { startServiceProcess, type ServiceProcess } from './service-processes.js';

export type PlatformService = 'catalog' | 'ingest' | 'provisioner' | 'gateway';

export interface TestPlatform {
  /** Gateway base URL, e.g. http://127.0.0.1:41234 */
  url: string;
  adminToken: string;
  dataDir: string;
  /** The platform's NATS: one server, or with `natsCluster` the first server's port and every server's URL. */
  nats: TestNatsServer;
  /** With `natsCluster`: the servers, which a test may kill and start again. */
  cluster: TestNatsCluster | undefined;
  /** The platform's `POWERNODE_BUS_NAMESPACE`: give it to an RpcClient (`namespace`) that talks to its services. */
  namespace: string;
  /** The environment every service shares; each also gets its own NATS user (`natsEnv`). */
  env: NodeJS.ProcessEnv;
  /** `NATS_USER` and `NATS_PASSWORD_FILE` of one of the platform's NATS users, as a service process gets them. */
  natsEnv(user: NatsUser): { NATS_USER: string; NATS_PASSWORD_FILE: string };
  /** The connect options of one of the platform's NATS users, for a client a test opens itself. */
  natsAuth(user: NatsUser): NatsConnectAuth;
  services: Map<PlatformService, ServiceProcess>;
  /** Starts (again) one service with the platform's environment and waits until it says it is ready. */
  startService(name: PlatformService): Promise<ServiceProcess>;
  /**
   * Starts one more replica of a service beside the one in `services`, and waits until it is ready; `env`
   * changes its environment (e.g. another provisioner host with its own data directory).
   */
  startReplica(name: Exclude<PlatformService, 'gateway'>, env?: NodeJS.ProcessEnv): Promise<ServiceProcess>;
  stop(): Promise<void>;
}

const READY_LINE: Record<PlatformService, string> = {
  catalog: 'catalog ready',
  ingest: 'ingest ready',
  provisioner: 'provisioner ready',
  gateway: 'gateway listening',
};

/** The `gateway listening` line's bound URL (`{"url":"http://127.0.0.1:NNNNN",…}`), or undefined for any other line. */
function listeningUrl(line: string): string | undefined {
  try {
    const entry = JSON.parse(line) as { msg?: unknown; url?: unknown };
    return entry.msg === READY_LINE.gateway && typeof entry.url === 'string' ? entry.url : undefined;
  } catch {
    return undefined;
  }
}

/**
 * The real services as child processes on a private nats-server with the platform's users and permissions
 * (each service connects as itself, as under `npm start`) and a SQLite store in a temp data dir:
 * what integration tests drive over REST and MCP. Services start in dependency order. Each platform also has
 * a bus namespace of its own, so its services answer only its requests and relay only to its streams even on
 * a NATS server that several platforms share.
 *
 * The gateway binds port 0 and its ready line names the port it got; a port picked free beforehand could be
 * taken by another test's socket before the gateway binds it. So the gateway starts before the provisioner,
 * which is given that address for its agents, and a restarted gateway asks for the same port again.
 */
export async function startPlatform(
  options: {
    services?: PlatformService[];
    env?: NodeJS.ProcessEnv;
    dataDir?: string;
    /** Three clustered nats-servers instead of one, the platform's streams with three replicas. */
    natsCluster?: boolean;
  } = {},
): Promise<TestPlatform> {
  const namespace = options.env?.['POWERNODE_BUS_NAMESPACE'] ?? `pt${randomBytes(6).toString('hex')}`;
  const relayHost = (options.env?.['POWERNODE_RELAY_HOST'] ?? 'catalog') as RelayHost;
  if (!RELAY_HOSTS.includes(relayHost)) throw new Error(`startPlatform: POWERNODE_RELAY_HOST must be one of ${RELAY_HOSTS.join(', ')}`);
  const auth = { bus: busNames(namespace), relay_host: relayHost };
  const cluster = options.natsCluster ? await startNatsCluster(3, { auth }) : undefined;
  const nats: TestNatsServer = cluster
    ? { url: cluster.url, port: Number(new URL(cluster.nodes[0]!.url).port), credentials: cluster.credentials!, stop: () => cluster.stop() }
    : await startNatsServer({ auth });
  const credentials = nats.credentials!;
  const natsEnv = (user: NatsUser) => natsUserEnvironment(credentials, user);
  const dataDir = options.dataDir ?? (await mkdtemp(path.join(tmpdir(), 'pn-platform-')));
  const adminToken = `pn_test_admin_${randomBytes(16).toString('hex')}`;
  const env: NodeJS.ProcessEnv = {
    POWERNODE_BUS_NAMESPACE: namespace,
    POWERNODE_DATA_DIR: dataDir,
    NATS_URL: nats.url,
    ...(cluster ? { POWERNODE_STREAM_REPLICAS: '3' } : {}),
    EVENT_STORE_URL: `sqlite:${path.join(dataDir, 'events.sqlite')}`,
    POWERNODE_ADMIN_TOKEN: adminToken,
    HOST: '127.0.0.1',
    // Tests that boot machines ask for nspawn; the rest keep the quick local driver whatever the host offers.
    POWERNODE_HYPERVISOR: 'local',
    ...options.env,
  };
  let url = env['PORT'] === undefined ? undefined : `http://127.0.0.1:${env['PORT']}`;
  const services = new Map<PlatformService, ServiceProcess>();
  const startService = async (name: PlatformService) => {
    const own = { ...env, ...natsEnv(name) };
    const proc = startServiceProcess(name, name === 'gateway' ? { ...own, PORT: env['PORT'] ?? '0' } : own);
    services.set(name, proc);
    const ready = await proc.waitForLog((l) => l.includes(READY_LINE[name]), 60_000);
    if (name === 'gateway' && env['PORT'] === undefined) {
      const bound = listeningUrl(ready);
      if (bound === undefined) throw new Error(`gateway: its ready line names no URL: ${ready}`);
      url = bound;
      env['PORT'] = new URL(bound).port;
      env['POWERNODE_GATEWAY_URL'] ??= bound;
    }
    return proc;
  };
  const extra: ServiceProcess[] = [];
  const startReplica = async (name: Exclude<PlatformService, 'gateway'>, overrides: NodeJS.ProcessEnv = {}) => {
    const proc = startServiceProcess(name, { ...env, ...natsEnv(name), ...overrides });
    extra.push(proc);
    await proc.waitForLog((l) => l.includes(READY_LINE[name]), 60_000);
    return proc;
  };
  const order: PlatformService[] = ['catalog', 'ingest', 'gateway', 'provisioner'];
  const wanted = options.services ?? ['catalog', 'gateway'];
  try {
    for (const name of order) if (wanted.includes(name)) await startService(name);
  } catch (error) {
    for (const s of services.values()) await s.kill();
    await nats.stop();
    throw error;
  }
  return {
    // A platform without a gateway has no URL anyone answers at; port 0 says so to whoever tries.
    url: url ?? 'http://127.0.0.1:0',
    adminToken,
    dataDir,
    nats,
    cluster,
    namespace,
    env,
    natsEnv,
    natsAuth: (user) => natsAuthFromConfig(natsEnv(user)),
    services,
    startService,
    startReplica,
    async stop() {
      for (const proc of extra) await proc.stop();
      for (const name of [...order].reverse()) await services.get(name)?.stop();
      await nats.stop();
      if (!options.dataDir) await rm(dataDir, { recursive: true, force: true });
    },
  };
}
