import path from 'node:path';
import { z } from 'zod';
import { DEFAULT_MACHINE_SUBNET, machineSubnetSchema, PowernodeError, type MachineSubnet } from '@powernode/contracts';

const positiveInt = z.coerce.number().int().min(1);

/**
 * Default of `POWERNODE_AGENT_INIT_TIMEOUT_MS`. On SIGTERM the agent's init.stop commands share this budget and
 * then the last heartbeat gets up to 2 s; the local driver sends SIGKILL 10 s after SIGTERM, so 7 s leaves the
 * agent time to record the stops and exit on its own. A service that needs longer to start or stop raises it
 * (and the driver's grace with it).
 */
export const DEFAULT_INIT_TIMEOUT_MS = 7_000;
const absolutePath = z.string().refine((value) => path.isAbsolute(value), 'must be an absolute path');
const registryHost = z.string().regex(/^[A-Za-z0-9.-]+(:\d+)?$|^\[[0-9A-Fa-f:.]+\](:\d+)?$/, 'must be host[:port]');
const registryList = z
  .string()
  .optional()
  .transform((value) =>
    (value ?? '')
      .split(',')
      .map((entry) => entry.trim())
      .filter((entry) => entry !== ''),
  )
  .refine((entries) => entries.every((entry) => registryHost.safeParse(entry).success), 'must be comma-separated host[:port] entries');

/**
 * The agent's environment. The local driver sets the first block; the rest are optional knobs.
 *
 * - `POWERNODE_ENROLMENT_TOKEN` is needed only until the instance credential is persisted: a restarted agent
 *   uses `<data dir>/credential.json` and never spends the (one-time) token again.
 * - `POWERNODE_AGENT_CACHE_DIR`: the digest-addressed artifact cache (`<cache>/blobs/sha256/<hex>`), meant to
 *   be shared by every instance of a machine; default `<data dir>/cache` (private).
 * - `POWERNODE_HEARTBEAT_INTERVAL_MS`: default the interval the enrolment answered with.
 * - `POWERNODE_AGENT_ISOLATION`: `auto` (bubblewrap, else unshare + chroot, else none), or force one; with
 *   `none` every init command is recorded as skipped.
 * - `POWERNODE_AGENT_NETWORK`: `none` (init commands get an empty network namespace) or `host`.
 * - `POWERNODE_AGENT_MACHINE`: `none` (init commands in the isolation boundary), `nspawn` (the instance is a
 *   machine booting systemd on the composed root: this process is its keeper on the host, see machine-keeper.ts)
 *   or `inside` (this process is the agent inside such a machine, started by its systemd; see machine-link.ts).
 *   `qemu` is the same keeper booting a QEMU VM instead (qemu-machine.ts), tuned by `POWERNODE_QEMU_MEMORY_MB`
 *   (default 512), `POWERNODE_QEMU_VCPUS` (1), `POWERNODE_QEMU_ACCEL` (auto: kvm where /dev/kvm opens, else
 *   tcg), `POWERNODE_QEMU_TB_SIZE_MB` (TCG translation cache, 64), `POWERNODE_QEMU_KERNEL_PACKAGE` and
 *   `POWERNODE_QEMU_VERITY` (`require`: the root is the fs-verity checked composefs-style overlay; `off`).
 * - `POWERNODE_GATEWAY_PIPE` (host:port), `POWERNODE_KEEPER_URL`, `POWERNODE_KEEPER_TOKEN_FILE`: inside a
 *   QEMU machine, the keeper's gateway pipe and API over the user-mode network instead of unix sockets.
 * - `POWERNODE_GATEWAY_SOCKET`: reach the gateway through this unix socket (a byte pipe to it) instead of
 *   connecting to the URL's host; the URL still names the gateway (Host header, TLS name).
 * - `POWERNODE_CA_FILE`: like `POWERNODE_CA_PEM`, read from a file.
 * - `POWERNODE_MACHINE_SUBNET`: the IPv4 subnet machines take their /30 from (default 10.213.0.0/16).
 * - `POWERNODE_MACHINE_NETWORK_DIR`: where the host's machines claim their /30, shared by every agent of the
 *   host (default `<cache dir>/machine-network`).
 * - `POWERNODE_AGENT_INIT_TIMEOUT_MS`: per init command, and the budget of all init.stop commands on SIGTERM
 *   (see `DEFAULT_INIT_TIMEOUT_MS`).
 */
export const agentConfigShape = {
  POWERNODE_INSTANCE_ID: z.string().min(1).max(200),
  POWERNODE_HOSTNAME: z
    .string()
    .regex(/^[A-Za-z0-9][A-Za-z0-9._-]{0,252}$/, 'must be a hostname (letters, digits, ".", "_", "-", at most 253)')
    .optional(),
  POWERNODE_ENROLMENT_TOKEN: z.string().min(16, 'must be at least 16 characters').max(500).optional(),
  POWERNODE_SANDBOX_DIR: absolutePath,
  POWERNODE_AGENT_DATA_DIR: absolutePath.optional(),
  POWERNODE_AGENT_CACHE_DIR: absolutePath.optional(),
  POWERNODE_GATEWAY_URL: z.string().regex(/^https?:\/\/[^\s/]+(\/[^\s]*)?$/, 'must be an http:// or https:// URL'),
  POWERNODE_NATS_URL: z.string().optional(),
  POWERNODE_OCI_REGISTRY: registryHost,
  POWERNODE_OCI_INSECURE_REGISTRIES: registryList,
  POWERNODE_CA_PEM: z.string().includes('-----BEGIN CERTIFICATE-----', { message: 'must hold PEM certificates (-----BEGIN CERTIFICATE-----)' }).optional(),
  POWERNODE_HEARTBEAT_INTERVAL_MS: positiveInt.min(50).max(3_600_000).optional(),
  POWERNODE_AGENT_ISOLATION: z.enum(['auto', 'bwrap', 'unshare', 'none']).default('auto'),
  POWERNODE_AGENT_NETWORK: z.enum(['none', 'host']).default('none'),
  POWERNODE_AGENT_MACHINE: z.enum(['none', 'nspawn', 'qemu', 'inside']).default('none'),
  POWERNODE_GATEWAY_SOCKET: absolutePath.optional(),
  POWERNODE_GATEWAY_PIPE: z
    .string()
    .regex(/^[A-Za-z0-9.-]+:\d{1,5}$/, 'must be host:port')
    .optional(),
  POWERNODE_KEEPER_URL: z
    .string()
    .regex(/^http:\/\/[A-Za-z0-9.-]+:\d{1,5}$/, 'must be http://host:port')
    .optional(),
  POWERNODE_KEEPER_TOKEN_FILE: absolutePath.optional(),
  POWERNODE_QEMU_MEMORY_MB: positiveInt.min(128).max(1_048_576).default(512),
  POWERNODE_QEMU_VCPUS: positiveInt.max(256).default(1),
  POWERNODE_QEMU_ACCEL: z.enum(['auto', 'kvm', 'tcg']).default('auto'),
  POWERNODE_QEMU_TB_SIZE_MB: positiveInt.max(4096).default(64),
  POWERNODE_QEMU_KERNEL_PACKAGE: z
    .string()
    .regex(/^linux-image-[A-Za-z0-9.+~-]+$/, 'must be a linux-image package name')
    .optional(),
  POWERNODE_QEMU_VERITY: z.enum(['require', 'off']).default('require'),
  POWERNODE_CA_FILE: absolutePath.optional(),
  POWERNODE_MACHINE_SUBNET: z.string().default(DEFAULT_MACHINE_SUBNET).pipe(machineSubnetSchema),
  POWERNODE_MACHINE_NETWORK_DIR: absolutePath.optional(),
  POWERNODE_AGENT_INIT_TIMEOUT_MS: positiveInt.max(3_600_000).default(DEFAULT_INIT_TIMEOUT_MS),
  POWERNODE_AGENT_RETRY_INITIAL_MS: positiveInt.default(1_000),
  POWERNODE_AGENT_RETRY_MAX_MS: positiveInt.default(60_000),
  POWERNODE_AGENT_OCI_RETRIES: z.coerce.number().int().min(0).max(10).default(3),
  POWERNODE_AGENT_HTTP_TIMEOUT_MS: positiveInt.default(15_000),
  LOG_LEVEL: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info'),
} as const;

type RawAgentConfig = z.infer<z.ZodObject<typeof agentConfigShape>>;

/** The validated configuration with defaults resolved. */
export interface AgentConfig {
  instanceId: string;
  hostname: string;
  enrolmentToken: string | undefined;
  sandboxDir: string;
  dataDir: string;
  cacheDir: string;
  gatewayUrl: string;
  registry: string;
  insecureRegistries: string[];
  caPem: string | undefined;
  heartbeatIntervalMs: number | undefined;
  isolation: 'auto' | 'bwrap' | 'unshare' | 'none';
  machine: 'none' | 'nspawn' | 'qemu' | 'inside';
  /** A unix socket that pipes to the gateway (the agent inside a machine). */
  gatewaySocket: string | undefined;
  /** A TCP address that pipes to the gateway (the agent inside a QEMU machine: the keeper's pipe at the host's user-network address). */
  gatewayPipe: { host: string; port: number } | undefined;
  /** The keeper's API over TCP and the file holding its token (the agent inside a QEMU machine), instead of keeper.sock. */
  keeperUrl: string | undefined;
  keeperTokenFile: string | undefined;
  /** The QEMU machine's resources, accelerator and guest kernel (POWERNODE_AGENT_MACHINE=qemu). */
  qemu: { memoryMb: number; vcpus: number; accel: 'auto' | 'kvm' | 'tcg'; tbSizeMb: number; kernelPackage: string | undefined; verity: 'require' | 'off' };
  /** A file holding the platform's CA (read at start-up). */
  caFile: string | undefined;
  /** The subnet machines take their /30 from. */
  machineSubnet: MachineSubnet;
  /** Where the host's machines claim their /30. */
  machineNetworkDir: string;
  network: 'none' | 'host';
  initTimeoutMs: number;
  retryInitialMs: number;
  retryMaxMs: number;
  ociRetries: number;
  httpTimeoutMs: number;
  logLevel: RawAgentConfig['LOG_LEVEL'];
}

/** Parses the agent's environment; throws `config_invalid` with one line per bad variable, naming it. */
export function parseAgentConfig(env: NodeJS.ProcessEnv): AgentConfig {
  // An empty variable means "not set", as blank values in compose files and `VAR= cmd` produce.
  const present = Object.fromEntries(Object.entries(env).filter(([, value]) => value !== undefined && value !== ''));
  const result = z.object(agentConfigShape).safeParse(present);
  if (!result.success) {
    const problems = result.error.issues.map((issue) => {
      const name = String(issue.path[0] ?? '(environment)');
      const given = env[name];
      // The token and the CA are not echoed: a log line must not leak a secret.
      const echo = given === undefined || name === 'POWERNODE_ENROLMENT_TOKEN' || name === 'POWERNODE_CA_PEM' ? '' : ` (got ${JSON.stringify(given)})`;
      return `${name}: ${issue.message}${echo}`;
    });
    throw new PowernodeError('config_invalid', `invalid agent configuration: ${problems.join('; ')}`, { details: { problems } });
  }
  const raw = result.data;
  if (raw.POWERNODE_AGENT_RETRY_MAX_MS < raw.POWERNODE_AGENT_RETRY_INITIAL_MS) {
    const problem = `POWERNODE_AGENT_RETRY_MAX_MS: must be at least POWERNODE_AGENT_RETRY_INITIAL_MS (${raw.POWERNODE_AGENT_RETRY_INITIAL_MS})`;
    throw new PowernodeError('config_invalid', `invalid agent configuration: ${problem}`, { details: { problems: [problem] } });
  }
  const sandboxDir = path.resolve(raw.POWERNODE_SANDBOX_DIR);
  const dataDir = path.resolve(raw.POWERNODE_AGENT_DATA_DIR ?? path.join(sandboxDir, 'data'));
  const cacheDir = path.resolve(raw.POWERNODE_AGENT_CACHE_DIR ?? path.join(dataDir, 'cache'));
  return {
    instanceId: raw.POWERNODE_INSTANCE_ID,
    hostname: raw.POWERNODE_HOSTNAME ?? 'powernode-instance',
    enrolmentToken: raw.POWERNODE_ENROLMENT_TOKEN,
    sandboxDir,
    dataDir,
    cacheDir,
    gatewayUrl: raw.POWERNODE_GATEWAY_URL.replace(/\/+$/, ''),
    registry: raw.POWERNODE_OCI_REGISTRY,
    insecureRegistries: raw.POWERNODE_OCI_INSECURE_REGISTRIES,
    caPem: raw.POWERNODE_CA_PEM,
    heartbeatIntervalMs: raw.POWERNODE_HEARTBEAT_INTERVAL_MS,
    isolation: raw.POWERNODE_AGENT_ISOLATION,
    machine: raw.POWERNODE_AGENT_MACHINE,
    gatewaySocket: raw.POWERNODE_GATEWAY_SOCKET,
    gatewayPipe:
      raw.POWERNODE_GATEWAY_PIPE === undefined
        ? undefined
        : { host: raw.POWERNODE_GATEWAY_PIPE.replace(/:\d+$/, ''), port: Number(raw.POWERNODE_GATEWAY_PIPE.replace(/^.*:/, '')) },
    keeperUrl: raw.POWERNODE_KEEPER_URL,
    keeperTokenFile: raw.POWERNODE_KEEPER_TOKEN_FILE,
    qemu: {
      memoryMb: raw.POWERNODE_QEMU_MEMORY_MB,
      vcpus: raw.POWERNODE_QEMU_VCPUS,
      accel: raw.POWERNODE_QEMU_ACCEL,
      tbSizeMb: raw.POWERNODE_QEMU_TB_SIZE_MB,
      kernelPackage: raw.POWERNODE_QEMU_KERNEL_PACKAGE,
      verity: raw.POWERNODE_QEMU_VERITY,
    },
    caFile: raw.POWERNODE_CA_FILE,
    machineSubnet: raw.POWERNODE_MACHINE_SUBNET,
    machineNetworkDir: path.resolve(raw.POWERNODE_MACHINE_NETWORK_DIR ?? path.join(cacheDir, 'machine-network')),
    network: raw.POWERNODE_AGENT_NETWORK,
    initTimeoutMs: raw.POWERNODE_AGENT_INIT_TIMEOUT_MS,
    retryInitialMs: raw.POWERNODE_AGENT_RETRY_INITIAL_MS,
    retryMaxMs: raw.POWERNODE_AGENT_RETRY_MAX_MS,
    ociRetries: raw.POWERNODE_AGENT_OCI_RETRIES,
    httpTimeoutMs: raw.POWERNODE_AGENT_HTTP_TIMEOUT_MS,
    logLevel: raw.LOG_LEVEL,
  };
}
