import { randomBytes, randomUUID, timingSafeEqual } from 'node:crypto';
import { createServer as createHttpServer, type IncomingMessage, type Server as HttpServer, type ServerResponse } from 'node:http';
import { connect, createServer as createNetServer, type Server as NetServer } from 'node:net';
import { chmod, mkdir, readFile, rm, stat } from 'node:fs/promises';
import path from 'node:path';
import type { Logger } from 'pino';
import { KeyedLock } from '@powernode/event-core';
import { PowernodeError, isPowernodeError, type AgentDesiredState } from '@powernode/contracts';
import type { AgentConfig } from './agent-config.js';
import { ensureCacheLayout, removeAbandonedDownloads } from './artifact-cache.js';
import { writeFileAtomically } from '@powernode/host-machine';
import { publishRoot, readCurrentRoot, removeRoot, removeStaleRoots, stagingPathFor, switchCurrentRoot } from './composed-roots.js';
import { composedModulesOf, compositionKey, heartbeatOf, retryDelayMs, type Composition, type ReconcileError } from './composition-state.js';
import { compositionSchema } from './agent-state-file.js';
import { pullDesiredModule, type VerifiedModule } from './desired-module-pull.js';
import { obtainInstanceCredential } from './enrolment.js';
import type { GatewayClient } from './gateway-client.js';
import { agentBinds, agentEnvironmentFile } from './in-machine-agent.js';
import { errorMessage } from './reconcile-context.js';
import {
  AGENT_DATA,
  AGENT_ENV_FILE,
  CA_FILE,
  GATEWAY_SOCKET,
  KEEPER_SOCKET,
  LINK_INSIDE,
  linkDirOf,
  writeBootedRecord,
  type BootedRecord,
} from './machine-link.js';
import type { NspawnMachine } from './nspawn-machine.js';
import type { RegistryClients } from './registry-clients.js';
import { unitsOfModule } from './service-units.js';
import { composeStackedRoot, describeStackedRoot, readStack, treeLayerNeeded } from './stacked-root.js';
import { WakeableSleep } from './wakeable-sleep.js';

/*
 * The host side of a machine instance (POWERNODE_AGENT_MACHINE=nspawn): the process the driver supervises.
 * It enrols the instance, composes and boots the first generation, and from then on serves the agent that
 * runs inside the machine (machine-link.ts): it composes the roots the agent asks for from the host's shared,
 * verified layer trees, boots the machine on the root the agent names, boots it again when it dies, and
 * pipes the agent's connection to the gateway. It never runs anything inside the machine.
 */

/** Reported in the keeper's own heartbeats (only while no machine runs to report). */
const KEEPER_VERSION = '0.1.0';
const ABANDONED_DOWNLOAD_IDLE_MS = 10 * 60 * 1000;
const WATCH_INTERVAL_MS = 1_000;
/** A machine that ran this long since its boot counts as healthy: its next death is booted again at once. */
const HEALTHY_RUN_MS = 5 * 60 * 1000;
const MAX_REQUEST_BYTES = 64 * 1024;
const COMPOSITION_FILE = 'composition.json';
const ROOT_DIR_SHAPE = /^roots\/[A-Za-z0-9][A-Za-z0-9._~-]{0,140}$/;

export interface MachineKeeperDependencies {
  config: AgentConfig;
  logger: Logger;
  gateway: GatewayClient;
  registries: RegistryClients;
  machine: Pick<NspawnMachine, 'adopt' | 'running' | 'boot' | 'powerOff'>;
  /**
   * How the agent inside reaches the keeper: `unix` (keeper.sock and gateway.sock in the link, bound into an
   * nspawn machine) or `tcp` (a QEMU machine, where a unix socket cannot cross into the guest: both listen on
   * the host's loopback, which the guest reaches at QEMU's user-network host address; the API then wants the
   * token the keeper left in the link, which only root on the host and the guest can read).
   */
  link?: 'unix' | 'tcp';
}

/** The host as a QEMU guest on the user-mode network sees it (slirp forwards it to the host's loopback). */
export const USER_NETWORK_HOST = '10.0.2.2';
const KEEPER_TOKEN_FILE = 'keeper.token';
const KEEPER_PORTS_FILE = 'keeper-ports.json';

class RequestRefused extends Error {
  constructor(
    readonly status: number,
    readonly body: unknown,
  ) {
    super(`HTTP ${status}`);
  }
}

export class MachineKeeper {
  readonly bootId = randomUUID();
  private readonly config: AgentConfig;
  private readonly logger: Logger;
  private readonly linkDir: string;
  private credential: string | undefined;
  private heartbeatIntervalMs = 10_000;
  private errors: ReconcileError[] = [];
  private failedAttempts = 0;
  /** Deaths of the machine in a row (each soon after its boot); reset once it ran HEALTHY_RUN_MS. */
  private deaths = 0;
  private lastBootAt = 0;
  /** A dead machine waits out its delay before it is booted again. */
  private rebootDue = false;
  private nextAttemptAt = 0;
  private stopping = false;
  private stopped: Promise<void> | undefined;
  /** A boot (or power-off) in progress: the watcher must not take the machine's absence for a death. */
  private booting = false;
  private readonly pause = new WakeableSleep();
  private loopDone: Promise<void> | undefined;
  /** Serialises boots, stages and releases. */
  private readonly serial = new KeyedLock();
  private api: HttpServer | undefined;
  private pipe: NetServer | undefined;
  /** The API's token when it listens over TCP. */
  private token: string | undefined;

  constructor(private readonly deps: MachineKeeperDependencies) {
    this.config = deps.config;
    this.logger = deps.logger;
    this.linkDir = linkDirOf(deps.config.sandboxDir);
  }

  async start(): Promise<void> {
    await mkdir(this.config.sandboxDir, { recursive: true, mode: 0o700 });
    await mkdir(path.join(this.linkDir, AGENT_DATA), { recursive: true, mode: 0o700 });
    await chmod(this.linkDir, 0o700);
    await ensureCacheLayout(this.config.cacheDir);
    const abandoned = await removeAbandonedDownloads(this.config.cacheDir, ABANDONED_DOWNLOAD_IDLE_MS);
    if (abandoned.length > 0) this.logger.info({ files: abandoned }, 'removed abandoned downloads from the artifact cache');
    // The credential lives where the agent inside reads it: the machine's link.
    const obtained = await obtainInstanceCredential(
      { config: this.config, logger: this.logger, gateway: this.deps.gateway, dataDir: path.join(this.linkDir, AGENT_DATA) },
      () => this.stopping,
      (ms) => this.sleep(ms),
    );
    if (obtained === null) return;
    this.credential = obtained.credential;
    this.heartbeatIntervalMs = obtained.heartbeatIntervalMs;
    const caPem = await this.platformCa();
    if (caPem !== undefined) await writeFileAtomically(path.join(this.linkDir, CA_FILE), caPem, 0o644);
    const ports = await this.listen();
    const environment = agentEnvironmentFile(this.config, { caFile: caPem !== undefined });
    await writeFileAtomically(path.join(this.linkDir, AGENT_ENV_FILE), ports === null ? environment : tcpLinkEnvironment(environment, ports), 0o600);
    const removed = await removeStaleRoots(this.config.sandboxDir);
    if (removed.length > 0) this.logger.info({ roots: removed }, 'removed roots left by an earlier run');
    const current = await readCurrentRoot(this.config.sandboxDir);
    if (current !== null && (await this.deps.machine.adopt(current))) this.logger.info({ root: current }, 'adopted the running machine');
    this.loopDone = this.loop();
  }

  /** Powers the machine off (its agent stops the modules and reports), then closes the link. Safe to call twice. */
  stop(): Promise<void> {
    this.stopped ??= (async () => {
      this.stopping = true;
      this.pause.wakeUp();
      await this.exclusive(async () => {
        this.booting = true;
        await this.deps.machine.powerOff().catch((error: unknown) => this.logger.error({ err: errorMessage(error) }, 'the machine did not power off cleanly'));
      });
      await new Promise<void>((resolve) => (this.api === undefined ? resolve() : this.api.close(() => resolve())));
      await new Promise<void>((resolve) => (this.pipe === undefined ? resolve() : this.pipe.close(() => resolve())));
    })();
    return this.stopped;
  }

  async finished(): Promise<void> {
    await this.loopDone;
  }

  // ---- watching ----------------------------------------------------------------------------------------------

  private async loop(): Promise<void> {
    while (!this.stopping) {
      try {
        await this.exclusive(() => this.keepMachineUp());
      } catch (error) {
        this.logger.error({ err: errorMessage(error) }, 'keeper loop iteration failed');
      }
      await this.sleep(WATCH_INTERVAL_MS);
    }
  }

  /** The first generation when there is none; a machine that died is booted again on its root. */
  private async keepMachineUp(): Promise<void> {
    if (this.stopping || Date.now() < this.nextAttemptAt) return;
    const current = await readCurrentRoot(this.config.sandboxDir);
    if (current === null) {
      await this.bootstrap();
      return;
    }
    if (await this.deps.machine.running()) {
      if (this.deaths > 0 && Date.now() - this.lastBootAt > HEALTHY_RUN_MS) this.deaths = 0;
      return;
    }
    // After a boot that failed (and was powered off), the machine is down on purpose: the failure's backoff applies.
    if (!this.rebootDue && this.failedAttempts === 0) {
      // The machine died on its own (QEMU or nspawn killed, a guest panic): reported, and booted again at
      // once the first time, after a growing delay when it keeps dying soon after each boot.
      this.deaths += 1;
      const delay = this.deaths === 1 ? 0 : retryDelayMs(this.deaths - 1, this.config.retryInitialMs, this.config.retryMaxMs);
      await this.reportDeath(current, delay);
      if (delay > 0) {
        this.rebootDue = true;
        this.nextAttemptAt = Date.now() + delay;
        return;
      }
    }
    this.rebootDue = false;
    this.logger.warn({ root: current }, 'the machine is not running; booting it');
    try {
      await this.bootRoot(await this.readComposition(current));
      this.recordSuccess();
    } catch (error) {
      await this.recordFailure([{ module_name: null, message: `boot: ${errorMessage(error)}` }]);
    }
  }

  /** Before any agent runs inside: the desired state's root, composed and booted. */
  private async bootstrap(): Promise<void> {
    let desired: AgentDesiredState;
    try {
      desired = await this.deps.gateway.desired(this.credential!);
      const composition = await this.compose(desired);
      await switchCurrentRoot(this.config.sandboxDir, composition.root_dir);
      await this.bootRoot(composition, { justComposed: true });
      this.recordSuccess();
      this.logger.info({ generation: composition.generation, root: composition.root_dir }, 'first generation booted');
    } catch (error) {
      await this.recordFailure(error instanceof ComposeFailed ? error.errors : [{ module_name: null, message: errorMessage(error) }]);
    }
  }

  /** Heartbeats that the machine died (no agent runs inside to say anything) and when it boots again. */
  private async reportDeath(rootDir: string, delayMs: number): Promise<void> {
    const message = `the machine stopped unexpectedly (${this.deaths} time(s) in a row); booting it again${delayMs > 0 ? ` in ${Math.round(delayMs / 1000)} s` : ''}`;
    this.logger.error({ root: rootDir, deaths: this.deaths, reboot_in_ms: delayMs }, message);
    if (this.credential === undefined) return;
    const heartbeat = heartbeatOf(null, [{ module_name: null, message }], { version: KEEPER_VERSION, bootId: this.bootId });
    await this.deps.gateway
      .heartbeat(this.credential, heartbeat)
      .catch((error: unknown) => this.logger.warn({ err: errorMessage(error) }, 'heartbeat not delivered'));
  }

  private recordSuccess(): void {
    this.errors = [];
    this.failedAttempts = 0;
    this.nextAttemptAt = 0;
  }

  /** No agent runs to report a failure while no machine runs: the keeper does. */
  private async recordFailure(errors: ReconcileError[]): Promise<void> {
    this.errors = errors;
    this.failedAttempts += 1;
    const delay = retryDelayMs(this.failedAttempts, this.config.retryInitialMs, this.config.retryMaxMs);
    this.nextAttemptAt = Date.now() + delay;
    this.logger.error({ errors, retry_in_ms: delay }, 'the machine could not be brought up');
    if (this.credential === undefined) return;
    const heartbeat = heartbeatOf(null, errors, { version: KEEPER_VERSION, bootId: this.bootId });
    await this.deps.gateway
      .heartbeat(this.credential, heartbeat)
      .catch((error: unknown) => this.logger.warn({ err: errorMessage(error) }, 'heartbeat not delivered'));
  }

  // ---- roots -------------------------------------------------------------------------------------------------

  /** Pulls and verifies every module of `desired` into the shared cache and composes its stacked root. */
  private async compose(desired: AgentDesiredState): Promise<Composition> {
    const log = this.logger.child({ generation: desired.generation });
    const verified: VerifiedModule[] = [];
    const errors: ReconcileError[] = [];
    for (const module of desired.modules) {
      try {
        verified.push(
          await pullDesiredModule(
            this.deps.registries,
            module,
            this.config.cacheDir,
            (step, detail) => log.debug({ module_name: module.module_name, step, detail }, 'pull progress'),
            // A layer whose verified tree is on the host is not fetched again.
            (wanted, tree) => treeLayerNeeded(this.config.cacheDir, wanted, tree),
          ),
        );
      } catch (error) {
        errors.push({ module_name: module.module_name, message: errorMessage(error) });
        log.error({ module_name: module.module_name, code: isPowernodeError(error) ? error.code : undefined, err: errorMessage(error) }, 'module not usable');
      }
    }
    if (errors.length > 0) throw new ComposeFailed(errors);
    const staging = stagingPathFor(this.config.sandboxDir, desired.generation);
    let rootHash: string;
    try {
      rootHash = (await composeStackedRoot(staging, verified, this.config.cacheDir)).rootHash;
    } catch (error) {
      await rm(staging, { recursive: true, force: true });
      const moduleName = isPowernodeError(error) && typeof error.details?.['module_name'] === 'string' ? (error.details['module_name'] as string) : null;
      throw new ComposeFailed([{ module_name: moduleName, message: errorMessage(error) }]);
    }
    const rootDir = await publishRoot(this.config.sandboxDir, staging, desired.generation);
    const modules = composedModulesOf(desired.modules);
    for (const module of modules)
      module.units = unitsOfModule(verified.find((v) => v.desired.module_name === module.module_name)?.services ?? [], module.init.start);
    const composition: Composition = {
      generation: desired.generation,
      root_dir: rootDir,
      composed_root_hash: rootHash,
      composition_key: compositionKey(desired.modules),
      modules,
    };
    await writeFileAtomically(path.join(this.config.sandboxDir, rootDir, COMPOSITION_FILE), `${JSON.stringify(composition, null, 2)}\n`, 0o600);
    log.info({ root: rootDir, composed_root_hash: rootHash }, 'root composed');
    return composition;
  }

  private async readComposition(rootDir: string): Promise<Composition> {
    const file = path.join(this.config.sandboxDir, rootDir, COMPOSITION_FILE);
    const parsed = compositionSchema.safeParse(JSON.parse(await readFile(file, 'utf8')));
    if (!parsed.success)
      throw new PowernodeError('machine_failed', `${file} is not a composition; compose the generation again`, {
        details: { rule: 'machine_root', root_dir: rootDir },
      });
    return parsed.data as Composition;
  }

  /**
   * Boots the machine on a composed root, after checking the root still hashes to what was composed (a root
   * changed on the host since is not booted; one this keeper composed a moment ago is not hashed twice).
   * `failedBoot` is passed on to the agent that starts there.
   */
  private async bootRoot(composition: Composition, options: { failedBoot?: BootedRecord['failed_boot']; justComposed?: boolean } = {}): Promise<void> {
    const failedBoot = options.failedBoot;
    const rootPath = path.join(this.config.sandboxDir, composition.root_dir);
    const stack = await readStack(rootPath);
    const { rootHash } =
      options.justComposed === true && stack !== null
        ? { rootHash: composition.composed_root_hash }
        : stack === null
          ? { rootHash: 'not a stacked root' }
          : await describeStackedRoot(rootPath, stack);
    if (rootHash !== composition.composed_root_hash) {
      throw new PowernodeError(
        'machine_failed',
        `root ${composition.root_dir} changed since it was composed (root hash ${rootHash}, composed ${composition.composed_root_hash}); it is not booted`,
        {
          details: { rule: 'machine_root_hash', root_dir: composition.root_dir },
        },
      );
    }
    const booted: BootedRecord = {
      composition: { ...composition, modules: composition.modules.map((m) => ({ ...m, run: { state: 'pending' } })) },
      address: null,
      booted_at: new Date().toISOString(),
      ...(failedBoot === undefined ? {} : { failed_boot: failedBoot }),
    };
    this.booting = true;
    try {
      await this.deps.machine.boot(composition.root_dir, {
        binds: agentBinds(this.linkDir),
        beforeSpawn: async (network) => writeBootedRecord(this.linkDir, { ...booted, address: network?.address ?? null }),
      });
    } finally {
      this.booting = false;
    }
    this.lastBootAt = Date.now();
    this.logger.info({ generation: composition.generation, root: composition.root_dir }, 'machine booted');
  }

  /**
   * The agent asked for `rootDir`: the machine goes down (its agent with it) and boots there. When that root
   * does not boot, the machine goes back to the root it ran, and the agent there is told what failed.
   */
  private async reboot(rootDir: string): Promise<void> {
    const previous = await readCurrentRoot(this.config.sandboxDir);
    const next = await this.readComposition(rootDir);
    await switchCurrentRoot(this.config.sandboxDir, rootDir);
    try {
      await this.bootRoot(next);
    } catch (error) {
      this.logger.error({ root: rootDir, err: errorMessage(error) }, 'the requested root did not boot');
      if (previous === null || previous === rootDir) throw error;
      await switchCurrentRoot(this.config.sandboxDir, previous);
      await this.bootRoot(await this.readComposition(previous), { failedBoot: { generation: next.generation, message: `boot: ${errorMessage(error)}` } });
      await removeRoot(this.config.sandboxDir, rootDir);
    }
  }

  // ---- the link ----------------------------------------------------------------------------------------------

  /** Listens for the agent inside; over TCP, answers the ports it got (kept across keeper restarts when free). */
  private async listen(): Promise<{ api: number; pipe: number } | null> {
    const apiPath = path.join(this.linkDir, KEEPER_SOCKET);
    const pipePath = path.join(this.linkDir, GATEWAY_SOCKET);
    for (const socket of [apiPath, pipePath]) await rm(socket, { force: true });
    this.api = createHttpServer((request, response) => void this.handle(request, response));
    this.pipe = createNetServer((inside) => {
      const gateway = new URL(this.config.gatewayUrl);
      const port = Number(gateway.port || (gateway.protocol === 'https:' ? 443 : 80));
      const upstream = connect({ host: gateway.hostname.replace(/^\[|\]$/g, ''), port });
      inside.on('error', () => upstream.destroy());
      upstream.on('error', () => inside.destroy());
      inside.pipe(upstream).pipe(inside);
    });
    if (this.deps.link === 'tcp') return this.listenOnLoopback();
    await new Promise<void>((resolve, reject) => this.api!.once('error', reject).listen(apiPath, resolve));
    await new Promise<void>((resolve, reject) => this.pipe!.once('error', reject).listen(pipePath, resolve));
    for (const socket of [apiPath, pipePath]) await chmod(socket, 0o600);
    return null;
  }

  private async listenOnLoopback(): Promise<{ api: number; pipe: number }> {
    const tokenFile = path.join(this.linkDir, KEEPER_TOKEN_FILE);
    this.token = (await readFile(tokenFile, 'utf8').catch(() => '')).trim();
    if (this.token.length < 32) {
      this.token = randomBytes(32).toString('hex');
      await writeFileAtomically(tokenFile, `${this.token}\n`, 0o600);
    }
    const portsFile = path.join(this.config.sandboxDir, KEEPER_PORTS_FILE);
    const earlier = await readFile(portsFile, 'utf8').then(
      (text) => JSON.parse(text) as { api?: number; pipe?: number },
      () => ({}) as { api?: number; pipe?: number },
    );
    // The same ports as before when they are free: a guest that kept running across a keeper restart still reaches it.
    const bind = async (server: HttpServer | NetServer, wanted: number | undefined): Promise<number> => {
      for (const port of wanted === undefined ? [0] : [wanted, 0]) {
        const bound = await new Promise<boolean>((resolve) => {
          const onError = (): void => resolve(false);
          server.once('error', onError).listen(port, '127.0.0.1', () => {
            server.off('error', onError);
            resolve(true);
          });
        });
        if (bound) return (server.address() as { port: number }).port;
      }
      throw new PowernodeError('machine_failed', 'the keeper cannot listen on the loopback', { retryable: true, details: { rule: 'machine_link' } });
    };
    const ports = { api: await bind(this.api!, earlier.api), pipe: await bind(this.pipe!, earlier.pipe) };
    await writeFileAtomically(portsFile, `${JSON.stringify(ports)}\n`, 0o600);
    return ports;
  }

  private async handle(request: IncomingMessage, response: ServerResponse): Promise<void> {
    const answer = (status: number, body?: unknown) => {
      response.writeHead(status, body === undefined ? {} : { 'content-type': 'application/json' });
      response.end(body === undefined ? undefined : JSON.stringify(body));
    };
    try {
      if (request.method !== 'POST') throw new RequestRefused(405, { code: 'method_not_allowed', message: 'the keeper takes POST only' });
      if (this.token !== undefined && !tokenMatches(request.headers.authorization, this.token))
        throw new RequestRefused(401, { code: 'unauthorized', message: 'the keeper wants the token of its link' });
      const body = await readJson(request);
      switch (request.url) {
        case '/stage': {
          const generation = typeof body['generation'] === 'string' ? body['generation'] : null;
          if (generation === null) throw new RequestRefused(400, { code: 'validation_failed', message: 'generation: required (a string)' });
          answer(200, await this.exclusive(() => this.stage(generation)));
          return;
        }
        case '/boot': {
          const rootDir = await this.existingRoot(body['root_dir']);
          answer(202);
          // The answer leaves before the machine goes down; the boot is the keeper's from here.
          void this.exclusive(() => this.reboot(rootDir)).catch((error: unknown) =>
            this.recordFailure([{ module_name: null, message: `boot: ${errorMessage(error)}` }]),
          );
          return;
        }
        case '/release': {
          const rootDir = await this.existingRoot(body['root_dir']);
          await this.exclusive(() => removeRoot(this.config.sandboxDir, rootDir));
          answer(204);
          return;
        }
        default:
          throw new RequestRefused(404, { code: 'not_found', message: `no ${request.url ?? ''} here: /stage, /boot, /release` });
      }
    } catch (error) {
      if (error instanceof RequestRefused) answer(error.status, error.body);
      else if (error instanceof ComposeFailed) answer(422, { errors: error.errors, retryable: true });
      else answer(500, { errors: [{ module_name: null, message: errorMessage(error) }], retryable: true });
    }
  }

  /** The platform's desired state, composed only when it is the generation the agent asked for. */
  private async stage(generation: string): Promise<Composition> {
    const desired = await this.deps.gateway.desired(this.credential!);
    if (desired.generation !== generation) {
      throw new RequestRefused(409, {
        errors: [{ module_name: null, message: `the platform now wants generation ${desired.generation}, not ${generation}` }],
        retryable: true,
      });
    }
    // The agent switches one generation at a time: a root staged earlier and never booted is not coming.
    await removeStaleRoots(this.config.sandboxDir);
    return this.compose(desired);
  }

  private async existingRoot(value: unknown): Promise<string> {
    if (typeof value !== 'string' || !ROOT_DIR_SHAPE.test(value))
      throw new RequestRefused(400, { code: 'validation_failed', message: 'root_dir: must be roots/<name>, as a stage answered' });
    const exists = await stat(path.join(this.config.sandboxDir, value, COMPOSITION_FILE)).then(
      () => true,
      () => false,
    );
    if (!exists) throw new RequestRefused(404, { code: 'not_found', message: `root_dir: ${value} is not a composed root here (stage its generation again)` });
    return value;
  }

  // ---- plumbing ----------------------------------------------------------------------------------------------

  private async platformCa(): Promise<string | undefined> {
    if (this.config.caPem !== undefined) return this.config.caPem;
    return this.config.caFile === undefined ? undefined : readFile(this.config.caFile, 'utf8');
  }

  private exclusive<T>(operation: () => Promise<T>): Promise<T> {
    return this.serial.run('instance', operation);
  }

  private async sleep(ms: number): Promise<void> {
    if (this.stopping) return;
    await this.pause.sleep(ms);
  }
}

/** Modules that could not be pulled, verified or composed: what the agent (or the keeper) reports. */
class ComposeFailed extends Error {
  constructor(readonly errors: ReconcileError[]) {
    super(errors.map((e) => e.message).join('; '));
  }
}

function tokenMatches(header: string | undefined, token: string): boolean {
  const given = Buffer.from((header ?? '').replace(/^Bearer /, ''));
  const wanted = Buffer.from(token);
  return given.length === wanted.length && timingSafeEqual(given, wanted);
}

/** agent.env for an agent that reaches its keeper and the gateway over the user-mode network. */
export function tcpLinkEnvironment(environment: string, ports: { api: number; pipe: number }): string {
  const kept = environment.split('\n').filter((line) => line !== '' && !line.startsWith('POWERNODE_GATEWAY_SOCKET='));
  return `${[
    ...kept,
    `POWERNODE_KEEPER_URL="http://${USER_NETWORK_HOST}:${ports.api}"`,
    `POWERNODE_KEEPER_TOKEN_FILE="${LINK_INSIDE}/${KEEPER_TOKEN_FILE}"`,
    `POWERNODE_GATEWAY_PIPE="${USER_NETWORK_HOST}:${ports.pipe}"`,
  ].join('\n')}\n`;
}

async function readJson(request: IncomingMessage): Promise<Record<string, unknown>> {
  let size = 0;
  const chunks: Buffer[] = [];
  for await (const chunk of request) {
    size += (chunk as Buffer).length;
    if (size > MAX_REQUEST_BYTES)
      throw new RequestRefused(413, { code: 'payload_too_large', message: `requests to the keeper are at most ${MAX_REQUEST_BYTES} bytes` });
    chunks.push(chunk as Buffer);
  }
  try {
    const parsed: unknown = JSON.parse(Buffer.concat(chunks).toString('utf8') || '{}');
    if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) throw new Error('not an object');
    return parsed as Record<string, unknown>;
  } catch {
    throw new RequestRefused(400, { code: 'validation_failed', message: 'the body must be a JSON object' });
  }
}
