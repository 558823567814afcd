import { randomUUID } from 'node:crypto';
import { mkdir } from 'node:fs/promises';
import path from 'node:path';
import type { Logger } from 'pino';
import { KeyedLock } from '@powernode/event-core';
import { isPowernodeError, type AgentDesiredState, type AgentServiceStatus } from '@powernode/contracts';
import type { AgentConfig } from './agent-config.js';
import { writeAgentState } from './agent-state-file.js';
import { ensureCacheLayout, removeAbandonedDownloads } from './artifact-cache.js';
import { heartbeatOf, runningModuleDigests, type ComposedModule, type Composition, type ReconcileError } from './composition-state.js';
import { obtainInstanceCredential } from './enrolment.js';
import type { GatewayClient } from './gateway-client.js';
import { runInitCommand, type InitAction, type InitCommandResult } from './init-commands.js';
import type { IsolationBoundary } from './isolation-boundary.js';
import type { MachineHost } from './machine-link.js';
import { MachineReconciler } from './machine-reconciler.js';
import { afterDesiredHeard, afterFailure, afterSuccess, attemptDue, desiredDiffers, EMPTY_BOOK, planReconcile, type AttemptBook } from './reconcile-plan.js';
import { errorMessage, type ReconcileContext, type Reconciler } from './reconcile-context.js';
import type { RegistryClients } from './registry-clients.js';
import { SandboxReconciler } from './sandbox-reconciler.js';
import { WakeableSleep } from './wakeable-sleep.js';
import { runHostCommand } from './host-commands.js';
import { IntegrityWatch, type IntegrityViolation } from './integrity-watch.js';

/** In a QEMU machine's link: the keeper's index of which files each object backs (see qemu-machine.ts). */
const INTEGRITY_INDEX_FILE = 'integrity-index.json';
/** Where a QEMU machine's initramfs leaves the object store visible (qemu-guest-init.ts). */
const VERIFIED_OBJECTS_INSIDE = '/opt/powernode/objects';

/** Reported in every heartbeat. */
export const AGENT_VERSION = '0.1.0';

/** A temporary download untouched this long was left by a killed agent. */
const ABANDONED_DOWNLOAD_IDLE_MS = 10 * 60 * 1000;
/** How long the last heartbeat on SIGTERM may take (after the init.stop commands, within the driver's stop grace). */
export const FINAL_HEARTBEAT_TIMEOUT_MS = 2_000;
/** Less than this left of the shutdown budget and an init.stop is not started: a sandboxed command cannot even start in it. */
const MIN_STOP_SLICE_MS = 100;

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

function errorCode(error: unknown): string | undefined {
  return isPowernodeError(error) ? error.code : undefined;
}

/**
 * The instance's agent: enrols once, then loops — heartbeat, and whenever the platform's desired generation
 * differs from the composed one, reconcile (planReconcile decides; the reconciler of where the instance runs,
 * sandbox or machine, does it, make-before-break). A failed reconcile is retried with exponential backoff; a
 * new desired generation is tried at once.
 */
export class InstanceAgent {
  readonly bootId = randomUUID();
  private readonly config: AgentConfig;
  private readonly logger: Logger;
  private readonly reconciler: Reconciler;
  private credential: string | undefined;
  private heartbeatIntervalMs = 0;
  private committed: Composition | null = null;
  private errors: ReconcileError[] = [];
  private services: AgentServiceStatus[] = [];
  private address: string | null = null;
  /** Files the kernel refused (a QEMU machine's verified root); kept for this boot, whatever reconciles. */
  private integrity: IntegrityViolation[] = [];
  private integrityWatch: IntegrityWatch | undefined;
  private book: AttemptBook = EMPTY_BOOK;
  private stopping = false;
  private stopped: Promise<void> | undefined;
  private readonly pause = new WakeableSleep();
  private loopDone: Promise<void> | undefined;
  /** Serialises what touches `current` and runs init commands: a switch, its starts, and the final stops. */
  private readonly serial = new KeyedLock();

  constructor(private readonly deps: InstanceAgentDependencies) {
    this.config = deps.config;
    this.logger = deps.logger;
    const context = this.context();
    this.reconciler = deps.machine === undefined ? new SandboxReconciler(context) : new MachineReconciler(context, deps.machine);
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
    await this.reconciler.resume();
    if (this.deps.machine !== undefined) await this.watchIntegrity();
    this.loopDone = this.loop();
  }

  /**
   * Inside a machine with a verified root: a file the kernel refuses is reported (integrity_violation, with its
   * path) and the module that ships it is stopped — its services are not kept running on content that is not
   * what was signed.
   */
  private async watchIntegrity(): Promise<void> {
    const watch = new IntegrityWatch({
      indexFile: path.join(this.config.sandboxDir, INTEGRITY_INDEX_FILE),
      objectsDir: VERIFIED_OBJECTS_INSIDE,
      logger: this.logger,
      onViolation: (violations) => {
        this.integrity.push(...violations);
        this.logger.error({ violations }, 'integrity_violation: the kernel refused files of the verified root');
        void this.stopViolatedModules(new Set(violations.map((v) => v.module).filter((m): m is string => m !== null))).finally(() => this.pause.wakeUp());
      },
    });
    if (await watch.start()) this.integrityWatch = watch;
  }

  private async stopViolatedModules(modules: ReadonlySet<string>): Promise<void> {
    await this.exclusive(async () => {
      for (const module of this.committed?.modules ?? []) {
        if (!modules.has(module.module_name)) continue;
        const units = module.units ?? [];
        if (units.length > 0) await runHostCommand(['systemctl', 'stop', ...units], 30_000);
        module.run = { state: 'failed', reason: 'integrity_violation: a file of the module does not match its signed digest; its services are stopped' };
      }
    });
  }

  private integrityErrors(): ReconcileError[] {
    return this.integrity.map((v) => ({
      module_name: v.module,
      message: `integrity_violation: ${v.path}: the kernel refused its content (fs-verity digest ${v.digest} not matched)`,
    }));
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
      this.pause.wakeUp();
      await this.integrityWatch?.stop();
      const budgetMs = this.config.initTimeoutMs;
      const deadline = Date.now() + budgetMs;
      await this.exclusive(async () => {
        const composition = this.committed;
        // Rebooting onto a new root: the leaving modules were stopped and the switch is recorded as pending.
        if (composition === null || this.reconciler.switchingByReboot()) return;
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
      if (this.credential !== undefined && !this.reconciler.switchingByReboot()) {
        await Promise.race([
          this.deps.gateway
            .heartbeat(this.credential, this.heartbeat())
            .catch((error: unknown) => this.logger.warn({ err: errorMessage(error) }, 'final heartbeat not delivered')),
          new Promise((resolve) => setTimeout(resolve, FINAL_HEARTBEAT_TIMEOUT_MS).unref()),
        ]);
      }
    })();
    return this.stopped;
  }

  /** The heartbeat this agent would send now (for logs and tests). */
  heartbeat(): ReturnType<typeof heartbeatOf> {
    return heartbeatOf(
      this.committed,
      [...this.integrityErrors(), ...this.errors],
      { version: AGENT_VERSION, bootId: this.bootId },
      this.services,
      this.address,
      this.integrity,
    );
  }

  /** Resolves when the loop has ended (after stop). */
  async finished(): Promise<void> {
    await this.loopDone;
  }

  /** What the reconcilers work with: this agent's state, lent. */
  private context(): ReconcileContext {
    // eslint-disable-next-line @typescript-eslint/no-this-alias -- the accessors below read and write this agent's fields
    const agent = this;
    return {
      config: this.config,
      logger: this.logger,
      registries: this.deps.registries,
      get committed() {
        return agent.committed;
      },
      set committed(value) {
        agent.committed = value;
      },
      get errors() {
        return agent.errors;
      },
      set errors(value) {
        agent.errors = value;
      },
      get services() {
        return agent.services;
      },
      set services(value) {
        agent.services = value;
      },
      get address() {
        return agent.address;
      },
      set address(value) {
        agent.address = value;
      },
      stopping: () => this.stopping,
      desiredGeneration: () => this.book.desired,
      recordFailure: (generation, errors) => this.recordFailure(generation, errors),
      recordSuccess: () => this.recordSuccess(),
      markRolledBack: (generation) => {
        this.book = { ...this.book, rolledBack: generation };
      },
      heartbeat: () => this.heartbeat(),
      exclusive: (operation) => this.exclusive(operation),
      runInit: (composition, module, action, timeoutMs) => this.runInit(composition, module, action, timeoutMs),
    };
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

  // ---- the loop ----------------------------------------------------------------------------------------------

  private async loop(): Promise<void> {
    while (!this.stopping) {
      try {
        if (this.reconcileDue()) await this.reconcile();
        if (this.stopping) break;
        await this.reconciler.refreshServices();
        await this.sendHeartbeat();
      } catch (error) {
        this.logger.error({ err: errorMessage(error) }, 'agent loop iteration failed');
      }
      if (this.stopping) break;
      // Straight on when the heartbeat revealed a generation to reconcile now; else one interval (or less, until a retry is due).
      if (this.reconcileDue()) continue;
      const untilRetry = desiredDiffers(this.book, this.committed?.generation ?? null)
        ? Math.max(0, this.book.nextAttemptAt - Date.now())
        : Number.POSITIVE_INFINITY;
      await this.sleep(Math.min(this.heartbeatIntervalMs, untilRetry));
    }
  }

  private reconcileDue(): boolean {
    // A machine rebooting onto another root: the agent that starts there carries on.
    if (this.reconciler.switchingByReboot()) return false;
    return attemptDue(this.book, this.committed?.generation ?? null, Date.now());
  }

  private async sleep(ms: number): Promise<void> {
    if (this.stopping) return;
    await this.pause.sleep(ms);
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
    const heard = afterDesiredHeard(this.book, answer.desired_generation, this.committed?.generation ?? null);
    this.book = heard.book;
    if (heard.clearErrors) this.errors = [];
  }

  private recordFailure(generation: string | null, errors: ReconcileError[]): void {
    this.errors = errors;
    this.book = afterFailure(this.book, generation, Date.now(), { initialMs: this.config.retryInitialMs, maxMs: this.config.retryMaxMs });
    const delay = Math.max(0, this.book.nextAttemptAt - Date.now());
    this.logger.error(
      { generation, errors, retry_in_ms: delay, running_module_digests: runningModuleDigests(this.committed) },
      'reconcile failed; the current composition stays',
    );
  }

  private recordSuccess(): void {
    this.errors = [];
    this.book = afterSuccess(this.book);
  }

  // ---- reconcile ---------------------------------------------------------------------------------------------

  private async reconcile(): Promise<void> {
    if (this.credential === undefined) return;
    let desired: AgentDesiredState;
    try {
      desired = await this.deps.gateway.desired(this.credential);
    } catch (error) {
      this.recordFailure(this.book.desired, [{ module_name: null, message: errorMessage(error) }]);
      return;
    }
    this.book = { ...this.book, desired: desired.generation };
    const plan = planReconcile(this.config.instanceId, this.committed, desired);
    switch (plan.kind) {
      case 'refuse':
        this.recordFailure(desired.generation, plan.errors);
        return;
      case 'up_to_date':
        this.recordSuccess();
        return;
      case 'adopt_generation': {
        const composition = this.committed!;
        await this.exclusive(async () => {
          composition.generation = plan.generation;
          await writeAgentState(this.config.dataDir, { committed: composition, pending: null });
        });
        this.recordSuccess();
        this.logger.info({ generation: plan.generation }, 'generation adopted; the composition is unchanged');
        return;
      }
      case 'compose':
        if (desired.unresolved.length > 0)
          this.logger.info({ generation: desired.generation, unresolved: desired.unresolved }, 'modules the platform could not resolve');
        await this.reconciler.apply(desired, plan.key);
        return;
      default: {
        const unreachable: never = plan;
        return unreachable;
      }
    }
  }

  // ---- init commands -----------------------------------------------------------------------------------------

  private async runInit(
    composition: Composition,
    module: ComposedModule,
    action: InitAction,
    timeoutMs = this.config.initTimeoutMs,
  ): Promise<InitCommandResult> {
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
    const fields = {
      module_name: module.module_name,
      action,
      isolation: this.deps.boundary.kind,
      outcome: result.outcome,
      ...('argv' in result ? { argv: result.argv } : {}),
      ...('reason' in result ? { reason: result.reason } : {}),
    };
    if (result.outcome === 'failed') this.logger.warn(fields, `init.${action} failed`);
    else this.logger.info(fields, `init.${action} ${result.outcome}`);
    return result;
  }

  private exclusive<T>(operation: () => Promise<T>): Promise<T> {
    return this.serial.run('instance', operation);
  }
}
