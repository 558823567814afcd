import { randomUUID } from 'node:crypto';
import { mkdir, rm } from 'node:fs/promises';
import path from 'node:path';
import type { Logger } from 'pino';
import { isPowernodeError, type AgentDesiredState, type AgentServiceStatus } from '@powernode/contracts';
import type { AgentConfig } from './agent-config.js';
import { readAgentState, writeAgentState } from './agent-state-file.js';
import { ensureCacheLayout, removeAbandonedDownloads } from './artifact-cache.js';
import { publishRoot, readCurrentRoot, removeRoot, removeStaleRoots, stagingPathFor, switchCurrentRoot } from './composed-roots.js';
import {
  composedModulesOf,
  compositionKey,
  heartbeatOf,
  planTransition,
  retryDelayMs,
  runningModuleDigests,
  type ComposedModule,
  type Composition,
  type ModuleRunState,
  type ReconcileError,
} from './composition-state.js';
import { pullDesiredModule, type VerifiedModule } from './desired-module-pull.js';
import { isMissingCachedLayer } from './layer-extraction.js';
import type { GatewayClient } from './gateway-client.js';
import { obtainInstanceCredential } from './enrolment.js';
import { runInitCommand, type InitAction, type InitCommandResult } from './init-commands.js';
import type { IsolationBoundary } from './isolation-boundary.js';
import type { RegistryClients } from './registry-clients.js';
import { composeRoot, describeComposedRoot, type ComposedRoot } from './root-composition.js';
import { parseSystemctlShow } from './machine-services.js';
import { describeStackedRoot, readStack } from './stacked-root.js';
import { StageRefused, type MachineHost } from './machine-link.js';
import { runHostCommand } from './host-commands.js';
import { unitsOfModule } from './service-units.js';

/** Reported in every heartbeat. */
export const AGENT_VERSION = '0.1.0';

/** A temporary download untouched this long was left by a killed agent. */
const ABANDONED_DOWNLOAD_IDLE_MS = 10 * 60 * 1000;
/** How long the last heartbeat on SIGTERM may take (after the init.stop commands, within the driver's stop grace). */
export const FINAL_HEARTBEAT_TIMEOUT_MS = 2_000;
/** Less than this left of the shutdown budget and an init.stop is not started: a sandboxed command cannot even start in it. */
const MIN_STOP_SLICE_MS = 100;
/** How long started units get before their state is judged, and how long one still activating is waited for. */
const SERVICE_SETTLE_MS = 1_000;
const SERVICE_ACTIVATION_WAIT_MS = 5_000;
/** Compositions of one generation whose cached layers keep disappearing before they are extracted. */
const COMPOSE_ATTEMPTS = 3;

/** Everything the agent works with, built by main.ts from the configuration. */
export interface InstanceAgentDependencies {
  config: AgentConfig;
  logger: Logger;
  gateway: GatewayClient;
  registries: RegistryClients;
  boundary: IsolationBoundary;
  /**
   * Present when this agent runs inside a machine (POWERNODE_AGENT_MACHINE=inside): the host composes and
   * boots roots; init commands and services run here, in the machine.
   */
  machine?: MachineHost;
}

function errorMessage(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

function errorCode(error: unknown): string | undefined {
  return isPowernodeError(error) ? error.code : undefined;
}

function formatFailure(run: ModuleRunState): string {
  return run.state === 'failed' ? run.reason : run.state;
}

/** Init command outcome → the module's run state for a start (stop outcomes are mapped by the caller). */
function runStateAfterStart(result: InitCommandResult): ModuleRunState {
  switch (result.outcome) {
    case 'succeeded':
      return { state: 'started' };
    case 'failed':
      return { state: 'failed', reason: result.reason };
    case 'skipped':
      return { state: 'skipped', reason: result.reason };
    default: {
      const unreachable: never = result;
      return unreachable;
    }
  }
}

/**
 * The on-instance agent: enrols once, then loops — heartbeat, and whenever the platform's desired generation
 * differs from the composed one, pull + verify + compose + switch + start (make-before-break: the running
 * composition stays until a complete, verified new one replaces it). A failed reconcile is retried with
 * exponential backoff; a new desired generation is tried at once.
 */
export class InstanceAgent {
  readonly bootId = randomUUID();
  private readonly config: AgentConfig;
  private readonly logger: Logger;
  private credential: string | undefined;
  private heartbeatIntervalMs = 0;
  private committed: Composition | null = null;
  private errors: ReconcileError[] = [];
  /** The units of the composed modules as last read inside the machine. */
  private services: AgentServiceStatus[] = [];
  /** The generation the platform wants, as last heard (null: ask). */
  private desiredGeneration: string | null = null;
  private failedGeneration: string | null = null;
  /**
   * A generation the machine rolled back from: its modules did not come up, so trying it again would only
   * take the running services down again. It is not retried until the platform wants another generation.
   */
  private rolledBackGeneration: string | null = null;
  private failedAttempts = 0;
  private nextAttemptAt = 0;
  private stopping = false;
  private stopped: Promise<void> | undefined;
  private wakeUp: (() => void) | undefined;
  private loopDone: Promise<void> | undefined;
  /** Serialises what touches `current` and runs init commands: a switch, its starts, and the final stops. */
  private exclusiveChain: Promise<unknown> = Promise.resolve();
  /** Inside a machine: the machine is rebooting onto another root, so a stop must leave the pending switch as it is. */
  private rebooting = false;
  /** Inside a machine: its address, as the host gave it. */
  private address: string | null = null;

  constructor(private readonly deps: InstanceAgentDependencies) {
    this.config = deps.config;
    this.logger = deps.logger;
  }

  /** Prepares the directories, gets the credential, resumes what was composed before, and starts the loop. */
  async start(): Promise<void> {
    await mkdir(this.config.sandboxDir, { recursive: true, mode: 0o700 });
    await mkdir(this.config.dataDir, { recursive: true, mode: 0o700 });
    if (this.deps.machine === undefined) {
      await ensureCacheLayout(this.config.cacheDir);
      const abandoned = await removeAbandonedDownloads(this.config.cacheDir, ABANDONED_DOWNLOAD_IDLE_MS);
      if (abandoned.length > 0) this.logger.info({ files: abandoned }, 'removed abandoned downloads from the artifact cache');
    }
    await this.obtainCredential();
    if (this.stopping) return;
    if (this.deps.machine !== undefined) await this.resumeInMachine(this.deps.machine);
    else await this.resume();
    this.loopDone = this.loop();
  }

  /**
   * Stops the loop, runs init.stop of every started module, sends a last heartbeat. Safe to call twice. The
   * init commands share one budget of the init timeout from the moment stop is asked (an init command still
   * running then finishes first, within it), so the whole stop — budget plus last heartbeat — fits in the
   * driver's grace before SIGKILL however many modules there are; a stop left without time is not run.
   */
  stop(): Promise<void> {
    this.stopped ??= (async () => {
      this.stopping = true;
      this.wakeUp?.();
      const budgetMs = this.config.initTimeoutMs;
      const deadline = Date.now() + budgetMs;
      await this.exclusive(async () => {
        const composition = this.committed;
        // Rebooting onto a new root: the leaving modules were stopped and the switch is recorded as pending.
        if (composition === null || this.rebooting) return;
        const started = composition.modules.filter((m) => m.run.state === 'started').sort((a, b) => b.priority - a.priority);
        for (const module of started) {
          const leftMs = deadline - Date.now();
          if (leftMs < MIN_STOP_SLICE_MS) {
            const reason = `not run: the ${budgetMs} ms shutdown budget (POWERNODE_AGENT_INIT_TIMEOUT_MS) was spent by earlier commands`;
            this.logger.warn({ module_name: module.module_name, action: 'stop', reason }, 'init.stop not run');
            module.run = { state: 'failed', reason: `stop: ${reason}` };
            continue;
          }
          const result = await this.runInit(composition, module, 'stop', leftMs);
          module.run = result.outcome === 'failed' ? { state: 'failed', reason: `stop: ${result.reason}` } : { state: 'stopped' };
        }
        // Modules that were composed but had nothing to run are not in use any more either.
        for (const module of composition.modules) if (module.run.state === 'skipped') module.run = { state: 'stopped' };
        await writeAgentState(this.config.dataDir, { committed: composition, pending: null });
      });
      if (this.deps.machine !== undefined) this.services = [];
      if (this.credential !== undefined && !this.rebooting) {
        await Promise.race([
          this.deps.gateway.heartbeat(this.credential, this.heartbeat()).catch((error: unknown) => this.logger.warn({ err: errorMessage(error) }, 'final heartbeat not delivered')),
          new Promise((resolve) => setTimeout(resolve, FINAL_HEARTBEAT_TIMEOUT_MS).unref()),
        ]);
      }
    })();
    return this.stopped;
  }

  /** The heartbeat this agent would send now (for logs and tests). */
  heartbeat(): ReturnType<typeof heartbeatOf> {
    return heartbeatOf(this.committed, this.errors, { version: AGENT_VERSION, bootId: this.bootId }, this.services, this.address);
  }

  // ---- enrolment ---------------------------------------------------------------------------------------------

  private async obtainCredential(): Promise<void> {
    const obtained = await obtainInstanceCredential(
      { config: this.config, logger: this.logger, gateway: this.deps.gateway, dataDir: this.config.dataDir },
      () => this.stopping,
      (ms) => this.sleep(ms),
    );
    if (obtained === null) return;
    this.credential = obtained.credential;
    this.heartbeatIntervalMs = obtained.heartbeatIntervalMs;
  }

  // ---- resuming after a restart ------------------------------------------------------------------------------

  /**
   * Adopts the composition `current` names when its root still hashes to what was recorded, and starts its
   * modules again; a root that changed is not trusted (nothing counts as running until a new one is composed).
   */
  private async resume(): Promise<void> {
    const { state, problem } = await readAgentState(this.config.dataDir);
    if (problem !== undefined) this.logger.warn({ problem }, 'ignoring the persisted agent state');
    const current = await readCurrentRoot(this.config.sandboxDir);
    const candidate = [state.committed, state.pending].find((c) => c !== null && c.root_dir === current) ?? null;
    if (candidate !== null) {
      const rootDir = path.join(this.config.sandboxDir, candidate.root_dir);
      const stack = await readStack(rootDir);
      const { rootHash } = await (stack === null ? describeComposedRoot(rootDir) : describeStackedRoot(rootDir, stack)).catch((error: unknown) => ({ rootHash: `unreadable: ${errorMessage(error)}` }));
      if (rootHash === candidate.composed_root_hash) {
        this.committed = { ...candidate, modules: candidate.modules.map((m) => ({ ...m, run: { state: 'pending' } })) };
        await writeAgentState(this.config.dataDir, { committed: this.committed, pending: null });
        this.logger.info({ generation: candidate.generation, root: candidate.root_dir, composed_root_hash: rootHash }, 'resumed the composed root');
      } else {
        const message = `composed root ${candidate.root_dir} changed since it was composed (root hash ${rootHash}, recorded ${candidate.composed_root_hash}); composing again`;
        this.errors = [{ module_name: null, message }];
        this.logger.error({ root: candidate.root_dir }, message);
        await writeAgentState(this.config.dataDir, { committed: null, pending: null });
      }
    }
    const removed = await removeStaleRoots(this.config.sandboxDir);
    if (removed.length > 0) this.logger.info({ roots: removed }, 'removed roots left by an earlier run');
    const composition = this.committed;
    if (composition !== null) {
      await this.exclusive(async () => {
        for (const module of [...composition.modules].sort((a, b) => a.priority - b.priority)) {
          if (this.stopping) break;
          module.run = runStateAfterStart(await this.runInit(composition, module, 'start'));
        }
        await writeAgentState(this.config.dataDir, { committed: composition, pending: null });
      });
    }
  }

  // ---- the loop ----------------------------------------------------------------------------------------------

  private async loop(): Promise<void> {
    while (!this.stopping) {
      try {
        if (this.reconcileDue()) await this.reconcile();
        if (this.stopping) break;
        await this.refreshServices();
        await this.sendHeartbeat();
      } catch (error) {
        this.logger.error({ err: errorMessage(error) }, 'agent loop iteration failed');
      }
      if (this.stopping) break;
      // Straight on when the heartbeat revealed a generation to reconcile now; else one interval (or less, until a retry is due).
      if (this.reconcileDue()) continue;
      const untilRetry = this.desiredDiffers() ? Math.max(0, this.nextAttemptAt - Date.now()) : Number.POSITIVE_INFINITY;
      await this.sleep(Math.min(this.heartbeatIntervalMs, untilRetry));
    }
  }

  private desiredDiffers(): boolean {
    return this.desiredGeneration === null || this.desiredGeneration !== this.committed?.generation;
  }

  private reconcileDue(): boolean {
    if (this.rebooting) return false;
    if (this.desiredGeneration !== null && this.desiredGeneration === this.rolledBackGeneration) return false;
    return this.desiredDiffers() && Date.now() >= this.nextAttemptAt;
  }

  private async sleep(ms: number): Promise<void> {
    if (this.stopping) return;
    await new Promise<void>((resolve) => {
      const timer = setTimeout(() => {
        this.wakeUp = undefined;
        resolve();
      }, ms);
      this.wakeUp = () => {
        clearTimeout(timer);
        this.wakeUp = undefined;
        resolve();
      };
    });
  }

  private async sendHeartbeat(): Promise<void> {
    if (this.credential === undefined) return;
    let answer;
    try {
      answer = await this.deps.gateway.heartbeat(this.credential, this.heartbeat());
    } catch (error) {
      this.logger.warn({ err: errorMessage(error), code: errorCode(error) }, 'heartbeat not delivered');
      return;
    }
    if (answer.desired_generation !== this.desiredGeneration) {
      this.desiredGeneration = answer.desired_generation;
      // A generation other than the one that keeps failing is tried at once.
      if (answer.desired_generation !== this.failedGeneration) this.nextAttemptAt = 0;
      // Back to the generation that runs (the failing one was withdrawn): nothing is left to reconcile, so
      // nothing else would clear the failed generation's errors.
      if (this.failedGeneration !== null && answer.desired_generation === this.committed?.generation) this.recordSuccess();
    }
  }

  private recordFailure(generation: string | null, errors: ReconcileError[]): void {
    this.errors = errors;
    if (generation !== this.failedGeneration) this.failedAttempts = 0;
    this.failedGeneration = generation;
    this.failedAttempts += 1;
    const delay = retryDelayMs(this.failedAttempts, this.config.retryInitialMs, this.config.retryMaxMs);
    this.nextAttemptAt = Date.now() + delay;
    this.logger.error({ generation, errors, retry_in_ms: delay, running_module_digests: runningModuleDigests(this.committed) }, 'reconcile failed; the current composition stays');
  }

  private recordSuccess(): void {
    this.errors = [];
    this.failedGeneration = null;
    this.failedAttempts = 0;
    this.nextAttemptAt = 0;
  }

  // ---- reconcile ---------------------------------------------------------------------------------------------

  private async reconcile(): Promise<void> {
    if (this.credential === undefined) return;
    let desired: AgentDesiredState;
    try {
      desired = await this.deps.gateway.desired(this.credential);
    } catch (error) {
      this.recordFailure(this.desiredGeneration, [{ module_name: null, message: errorMessage(error) }]);
      return;
    }
    this.desiredGeneration = desired.generation;
    if (desired.instance_id !== this.config.instanceId) {
      this.recordFailure(desired.generation, [{ module_name: null, message: `the desired state is for instance ${desired.instance_id}, not ${this.config.instanceId}; nothing changed` }]);
      return;
    }
    if (this.committed?.generation === desired.generation) {
      this.recordSuccess();
      return;
    }
    if (desired.unresolved.length > 0) this.logger.info({ generation: desired.generation, unresolved: desired.unresolved }, 'modules the platform could not resolve');
    const key = compositionKey(desired.modules);
    if (this.committed !== null && this.committed.composition_key === key) {
      // Same modules, same layers: the generation moved for another reason (e.g. an unresolved module).
      const composition = this.committed;
      await this.exclusive(async () => {
        composition.generation = desired.generation;
        await writeAgentState(this.config.dataDir, { committed: composition, pending: null });
      });
      this.recordSuccess();
      this.logger.info({ generation: desired.generation }, 'generation adopted; the composition is unchanged');
      return;
    }
    await this.applyDesired(desired, key);
  }

  /** Pulls and verifies every desired module, composes a new root, switches to it, stops and starts modules. */
  private async applyDesired(desired: AgentDesiredState, key: string): Promise<void> {
    if (this.deps.machine !== undefined) return this.switchInMachine(this.deps.machine, desired);
    const log = this.logger.child({ generation: desired.generation });
    log.info({ modules: desired.modules.map((m) => `${m.module_name}@${m.version_string}`) }, 'reconciling');
    const verified: VerifiedModule[] = [];
    const errors: ReconcileError[] = [];
    for (const module of desired.modules) {
      if (this.stopping) return;
      try {
        const pulled = await pullDesiredModule(
          this.deps.registries,
          module,
          this.config.cacheDir,
          (step, detail) => log.debug({ module_name: module.module_name, step, detail }, 'pull progress'),
        );
        verified.push(pulled);
        log.info({ module_name: module.module_name, oci_digest: pulled.manifestDigest, composefs_digest: pulled.composefsDigest, root_hash: pulled.rootHash }, 'module pulled and verified');
      } catch (error) {
        errors.push({ module_name: module.module_name, message: errorMessage(error) });
        log.error({ module_name: module.module_name, code: errorCode(error), err: errorMessage(error) }, 'module not usable');
      }
    }
    if (errors.length > 0) {
      this.recordFailure(desired.generation, errors);
      return;
    }
    if (this.stopping) return;

    const staging = stagingPathFor(this.config.sandboxDir, desired.generation);
    const composition = await this.composeVerified(staging, verified, log);
    if ('failure' in composition) {
      this.recordFailure(desired.generation, [composition.failure]);
      return;
    }
    const composed = composition.root;
    log.info({ composed_root_hash: composed.rootHash, masked: composed.masked }, 'root composed');

    await this.exclusive(async () => {
      if (this.stopping) {
        await rm(staging, { recursive: true, force: true });
        return;
      }
      const previous = this.committed;
      const previousRoot = await readCurrentRoot(this.config.sandboxDir);
      let rootDir: string;
      let next: Composition;
      try {
        rootDir = await publishRoot(this.config.sandboxDir, staging, desired.generation);
        next = { generation: desired.generation, root_dir: rootDir, composed_root_hash: composed.rootHash, composition_key: key, modules: composedModulesOf(desired.modules) };
        for (const module of next.modules) {
          const services = verified.find((v) => v.desired.module_name === module.module_name)?.services ?? [];
          module.units = unitsOfModule(services, module.init.start);
        }
        await writeAgentState(this.config.dataDir, { committed: previous, pending: next });
        await switchCurrentRoot(this.config.sandboxDir, rootDir);
      } catch (error) {
        await rm(staging, { recursive: true, force: true });
        this.recordFailure(desired.generation, [{ module_name: null, message: `cannot switch to the new root: ${errorMessage(error)}` }]);
        return;
      }
      const plan = planTransition(previous, next.modules);
      for (const module of next.modules) {
        const kept = plan.keep.get(module.module_name);
        if (kept !== undefined) module.run = kept;
      }
      this.committed = next;
      this.recordSuccess();
      await writeAgentState(this.config.dataDir, { committed: next, pending: null });
      log.info({ root: rootDir, previous_root: previousRoot, stop: plan.stop.map((m) => m.module_name), restart: plan.restart, start: plan.start }, 'switched to the new root');

      if (previous !== null) {
        for (const module of plan.stop) {
          const result = await this.runInit(previous, module, 'stop');
          module.run = result.outcome === 'failed' ? { state: 'failed', reason: `stop: ${result.reason}` } : { state: 'stopped' };
        }
      }
      for (const name of plan.restart) {
        if (this.stopping) break;
        const module = next.modules.find((m) => m.module_name === name)!;
        const result = await this.runInit(next, module, 'restart');
        // A restart that cannot run leaves the service as it was; one that ran and failed means it is down.
        if (result.outcome === 'failed') module.run = { state: 'failed', reason: `restart: ${result.reason}` };
      }
      for (const name of plan.start) {
        if (this.stopping) break;
        const module = next.modules.find((m) => m.module_name === name)!;
        module.run = runStateAfterStart(await this.runInit(next, module, 'start'));
      }
      await writeAgentState(this.config.dataDir, { committed: next, pending: null });
      if (previousRoot !== null && previousRoot !== rootDir) await removeRoot(this.config.sandboxDir, previousRoot);
      log.info({ running_module_digests: runningModuleDigests(next), module_states: this.heartbeat().module_states }, 'reconciled');
    });
  }

  /**
   * Composes the verified modules into `staging`. A cached layer that disappeared since its pull (the cache's
   * garbage collection, another agent) is pulled and verified again and the root composed anew, a few times at
   * most; any other failure is returned as the error to report. `staging` is removed on failure.
   */
  private async composeVerified(staging: string, verified: VerifiedModule[], log: Logger): Promise<{ root: ComposedRoot } | { failure: ReconcileError }> {
    for (let attempt = 1; ; attempt++) {
      try {
        return { root: await composeRoot(staging, verified) };
      } catch (error) {
        await rm(staging, { recursive: true, force: true });
        const moduleName = isPowernodeError(error) && typeof error.details?.['module_name'] === 'string' ? (error.details['module_name'] as string) : null;
        const index = verified.findIndex((module) => module.desired.module_name === moduleName);
        if (!isMissingCachedLayer(error) || index < 0 || attempt >= COMPOSE_ATTEMPTS || this.stopping) return { failure: { module_name: moduleName, message: errorMessage(error) } };
        log.warn({ module_name: moduleName, blob: error.details.blob }, 'a cached layer disappeared before it was composed; pulling it again');
        try {
          verified[index] = await pullDesiredModule(this.deps.registries, verified[index]!.desired, this.config.cacheDir);
        } catch (pullError) {
          log.error({ module_name: moduleName, code: errorCode(pullError), err: errorMessage(pullError) }, 'module not usable');
          return { failure: { module_name: moduleName, message: errorMessage(pullError) } };
        }
      }
    }
  }

  // ---- inside a machine -------------------------------------------------------------------------------------

  /**
   * Inside a machine, at every start (the machine booted, or this agent restarted): the root the machine
   * booted is the composition to run. It is the pending one of a switch (start its modules; when they do not
   * come up and there was a previous root, boot back onto it), the committed one (a reboot, a revived machine,
   * an agent restart: start its modules again), or one the host composed before any agent ran (the first
   * generation). A rollback recorded by the agent before the machine went back is reported again.
   */
  private async resumeInMachine(machine: MachineHost): Promise<void> {
    const booted = await machine.booted();
    if (booted === null) {
      this.errors = [{ module_name: null, message: 'the host gave no record of the root this machine booted; waiting for the next generation' }];
      this.logger.error('no booted.json from the host: nothing is started');
      return;
    }
    this.address = booted.address;
    const { state, problem } = await readAgentState(this.config.dataDir);
    if (problem !== undefined) this.logger.warn({ problem }, 'ignoring the persisted agent state');
    const switching = state.pending !== null && state.pending.root_dir === booted.composition.root_dir;
    const candidate = switching ? state.pending! : state.committed?.root_dir === booted.composition.root_dir ? state.committed! : booted.composition;
    const previous = switching ? state.committed : null;
    const composition: Composition = { ...candidate, modules: candidate.modules.map((m) => ({ ...m, run: { state: 'pending' } })) };
    await this.exclusive(async () => {
      this.committed = composition;
      const failures = await this.startModules(composition);
      if (failures.length > 0 && previous !== null && previous.root_dir !== composition.root_dir) {
        const errors = failures.map((f) => ({ module_name: f.module_name, message: `rolled back to generation ${previous.generation}: ${f.message}` }));
        this.logger.error({ failures, previous_root: previous.root_dir }, 'the new root did not come up; booting the previous one again');
        await writeAgentState(this.config.dataDir, { committed: previous, pending: null, rolled_back: { generation: composition.generation, errors } });
        await this.rebootOnto(machine, previous.root_dir);
        return;
      }
      // The root asked for did not even boot: the host brought the machine back here and says why.
      const failedBoot = booted.failed_boot === undefined || booted.failed_boot.generation === composition.generation ? undefined : {
        generation: booted.failed_boot.generation,
        errors: [{ module_name: null, message: `rolled back to generation ${composition.generation}: ${booted.failed_boot.message}` }],
      };
      const rolledBack = failedBoot ?? (state.rolled_back !== undefined && state.rolled_back.generation !== composition.generation ? state.rolled_back : undefined);
      await writeAgentState(this.config.dataDir, { committed: composition, pending: null, ...(rolledBack === undefined ? {} : { rolled_back: rolledBack }) });
      if (rolledBack !== undefined) {
        this.rolledBackGeneration = rolledBack.generation;
        this.recordFailure(rolledBack.generation, rolledBack.errors);
      }
      if (previous !== null && previous.root_dir !== composition.root_dir) await machine.release(previous.root_dir).catch((error: unknown) => this.logger.warn({ err: errorMessage(error) }, 'the previous root was not released'));
      this.logger.info({ generation: composition.generation, root: composition.root_dir, running_module_digests: runningModuleDigests(composition), services: this.services }, 'running the booted root');
    });
  }

  /**
   * Inside a machine, a new generation: the host composes its root (make-before-break: the running root stays
   * until the new one is complete and verified), the modules that leave are stopped, the switch is recorded as
   * pending, and the machine reboots onto the new root. The agent that starts there finishes the switch.
   */
  private async switchInMachine(machine: MachineHost, desired: AgentDesiredState): Promise<void> {
    const log = this.logger.child({ generation: desired.generation });
    log.info({ modules: desired.modules.map((m) => `${m.module_name}@${m.version_string}`) }, 'reconciling: the host composes the new root');
    let next: Composition;
    try {
      next = await machine.stage(desired.generation);
    } catch (error) {
      const errors = error instanceof StageRefused ? error.errors : [{ module_name: null, message: errorMessage(error) }];
      this.recordFailure(desired.generation, errors);
      return;
    }
    if (this.stopping) return;
    log.info({ root: next.root_dir, composed_root_hash: next.composed_root_hash }, 'root composed by the host');
    await this.exclusive(async () => {
      if (this.stopping) return;
      const previous = this.committed;
      const plan = planTransition(previous, next.modules);
      if (previous !== null) {
        for (const module of plan.stop) {
          const result = await this.runInit(previous, module, 'stop');
          module.run = result.outcome === 'failed' ? { state: 'failed', reason: `stop: ${result.reason}` } : { state: 'stopped' };
        }
      }
      await writeAgentState(this.config.dataDir, { committed: previous, pending: next });
      log.info({ root: next.root_dir, stop: plan.stop.map((m) => m.module_name) }, 'rebooting onto the new root');
      await this.rebootOnto(machine, next.root_dir);
    });
  }

  /** Asks the host to boot the machine on `rootDir`; the machine's shutdown then stops this agent. */
  private async rebootOnto(machine: MachineHost, rootDir: string): Promise<void> {
    this.rebooting = true;
    try {
      await machine.boot(rootDir);
    } catch (error) {
      this.rebooting = false;
      this.recordFailure(this.desiredGeneration, [{ module_name: null, message: `cannot reboot onto ${rootDir}: ${errorMessage(error)}` }]);
    }
  }

  /** Runs init.start of every module in priority order, then reads the units' states; returns what failed (empty: all up). */
  private async startModules(composition: Composition): Promise<ReconcileError[]> {
    for (const module of [...composition.modules].sort((a, b) => a.priority - b.priority)) {
      if (this.stopping) break;
      module.run = runStateAfterStart(await this.runInit(composition, module, 'start'));
    }
    // A unit can be active for a moment and then fail (a simple service whose program exits at once): give
    // them a moment, then wait out any still activating before judging the generation.
    await new Promise((resolve) => setTimeout(resolve, SERVICE_SETTLE_MS));
    await this.refreshServices(composition);
    for (let waited = 0; waited < SERVICE_ACTIVATION_WAIT_MS && this.services.some((s) => s.state === 'activating'); waited += 250) {
      await new Promise((resolve) => setTimeout(resolve, 250));
      await this.refreshServices(composition);
    }
    const failures: ReconcileError[] = composition.modules.filter((m) => m.run.state === 'failed').map((m) => ({ module_name: m.module_name, message: formatFailure(m.run) }));
    for (const service of this.services.filter((s) => s.state === 'failed')) failures.push({ module_name: service.module, message: `service ${service.name} failed` });
    return failures;
  }

  /** Reads the state of every composed module's units (one systemctl call, in this machine). */
  private async refreshServices(composition: Composition | null = this.committed): Promise<void> {
    if (this.deps.machine === undefined || composition === null) {
      this.services = [];
      return;
    }
    const owner = new Map<string, string>();
    for (const module of composition.modules) for (const unit of module.units ?? []) owner.set(unit, module.module_name);
    if (owner.size === 0) {
      this.services = [];
      return;
    }
    const shown = await runHostCommand(['systemctl', 'show', '--timestamp=unix', '-p', 'Id,ActiveState,StateChangeTimestamp', ...owner.keys()], 10_000);
    if (shown.code !== 0) {
      this.logger.warn({ code: shown.code, stderr: shown.stderr.trim() }, 'cannot read the service states');
      return;
    }
    this.services = parseSystemctlShow(shown.stdout).map((unit) => ({ module: owner.get(unit.unit) ?? '', name: unit.unit, state: unit.state, since: unit.since })).filter((s) => s.module !== '');
  }

  // ---- init commands -----------------------------------------------------------------------------------------

  private async runInit(composition: Composition, module: ComposedModule, action: InitAction, timeoutMs = this.config.initTimeoutMs): Promise<InitCommandResult> {
    const result = await runInitCommand({
      moduleName: module.module_name,
      action,
      command: module.init[action],
      // Inside a machine the composed root is this machine's own.
      root: this.deps.machine === undefined ? path.join(this.config.sandboxDir, composition.root_dir) : '/',
      boundary: this.deps.boundary,
      hostname: this.config.hostname,
      network: this.config.network,
      timeoutMs,
    });
    const fields = { module_name: module.module_name, action, isolation: this.deps.boundary.kind, outcome: result.outcome, ...('argv' in result ? { argv: result.argv } : {}), ...('reason' in result ? { reason: result.reason } : {}) };
    if (result.outcome === 'failed') this.logger.warn(fields, `init.${action} failed`);
    else this.logger.info(fields, `init.${action} ${result.outcome}`);
    return result;
  }

  private exclusive<T>(operation: () => Promise<T>): Promise<T> {
    const next = this.exclusiveChain.then(operation, operation);
    this.exclusiveChain = next.then(
      () => undefined,
      () => undefined,
    );
    return next;
  }

  /** Resolves when the loop has ended (after stop). */
  async finished(): Promise<void> {
    await this.loopDone;
  }
}
