import { rm } from 'node:fs/promises';
import path from 'node:path';
import type { Logger } from 'pino';
import { isPowernodeError, type AgentDesiredState } from '@powernode/contracts';
import { readAgentState, writeAgentState } from './agent-state-file.js';
import { publishRoot, readCurrentRoot, removeRoot, removeStaleRoots, stagingPathFor, switchCurrentRoot } from './composed-roots.js';
import { composedModulesOf, planTransition, runningModuleDigests, type Composition, type ReconcileError } from './composition-state.js';
import { pullDesiredModule, type VerifiedModule } from './desired-module-pull.js';
import { runStateAfterStart } from './init-commands.js';
import { isMissingCachedLayer } from './layer-extraction.js';
import { errorMessage, type ReconcileContext, type Reconciler } from './reconcile-context.js';
import { composeRoot, describeComposedRoot, type ComposedRoot } from './root-composition.js';
import { unitsOfModule } from './service-units.js';

/*
 * A sandbox instance (the local driver): each generation's root is composed in the instance's sandbox on the
 * host, `current` is switched to it atomically, and the modules' init commands run in the isolation boundary
 * rooted there.
 */

/** Compositions of one generation whose cached layers keep disappearing before they are extracted. */
const COMPOSE_ATTEMPTS = 3;

function errorCode(error: unknown): string | undefined {
  return isPowernodeError(error) ? error.code : undefined;
}

export class SandboxReconciler implements Reconciler {
  constructor(private readonly ctx: ReconcileContext) {}

  switchingByReboot(): boolean {
    return false;
  }

  async refreshServices(): Promise<void> {
    this.ctx.services = [];
  }

  /**
   * Adopts the composition `current` names when its root still hashes to what was recorded, and starts its
   * modules again; a root that changed is not trusted (nothing counts as running until a new one is composed).
   */
  async resume(): Promise<void> {
    const { state, problem } = await readAgentState(this.ctx.config.dataDir);
    if (problem !== undefined) this.ctx.logger.warn({ problem }, 'ignoring the persisted agent state');
    const current = await readCurrentRoot(this.ctx.config.sandboxDir);
    const candidate = [state.committed, state.pending].find((c) => c !== null && c.root_dir === current) ?? null;
    if (candidate !== null) {
      const rootDir = path.join(this.ctx.config.sandboxDir, candidate.root_dir);
      const { rootHash } = await describeComposedRoot(rootDir).catch((error: unknown) => ({ rootHash: `unreadable: ${errorMessage(error)}` }));
      if (rootHash === candidate.composed_root_hash) {
        this.ctx.committed = { ...candidate, modules: candidate.modules.map((m) => ({ ...m, run: { state: 'pending' } })) };
        await writeAgentState(this.ctx.config.dataDir, { committed: this.ctx.committed, pending: null });
        this.ctx.logger.info({ generation: candidate.generation, root: candidate.root_dir, composed_root_hash: rootHash }, 'resumed the composed root');
      } else {
        const message = `composed root ${candidate.root_dir} changed since it was composed (root hash ${rootHash}, recorded ${candidate.composed_root_hash}); composing again`;
        this.ctx.errors = [{ module_name: null, message }];
        this.ctx.logger.error({ root: candidate.root_dir }, message);
        await writeAgentState(this.ctx.config.dataDir, { committed: null, pending: null });
      }
    }
    const removed = await removeStaleRoots(this.ctx.config.sandboxDir);
    if (removed.length > 0) this.ctx.logger.info({ roots: removed }, 'removed roots left by an earlier run');
    const composition = this.ctx.committed;
    if (composition !== null) {
      await this.ctx.exclusive(async () => {
        for (const module of [...composition.modules].sort((a, b) => a.priority - b.priority)) {
          if (this.ctx.stopping()) break;
          module.run = runStateAfterStart(await this.ctx.runInit(composition, module, 'start'));
        }
        await writeAgentState(this.ctx.config.dataDir, { committed: composition, pending: null });
      });
    }
  }

  /** Pulls and verifies every desired module, composes a new root, switches to it, stops and starts modules. */
  async apply(desired: AgentDesiredState, key: string): Promise<void> {
    const log = this.ctx.logger.child({ generation: desired.generation });
    log.info({ modules: desired.modules.map((m) => `${m.module_name}@${m.version_string}`) }, 'reconciling');
    const verified: VerifiedModule[] = [];
    const errors: ReconcileError[] = [];
    for (const module of desired.modules) {
      if (this.ctx.stopping()) return;
      try {
        const pulled = await pullDesiredModule(this.ctx.registries, module, this.ctx.config.cacheDir, (step, detail) =>
          log.debug({ module_name: module.module_name, step, detail }, 'pull progress'),
        );
        verified.push(pulled);
        log.info(
          { module_name: module.module_name, oci_digest: pulled.manifestDigest, composefs_digest: pulled.composefsDigest, root_hash: pulled.rootHash },
          'module pulled and verified',
        );
      } catch (error) {
        errors.push({ module_name: module.module_name, message: errorMessage(error) });
        log.error({ module_name: module.module_name, code: errorCode(error), err: errorMessage(error) }, 'module not usable');
      }
    }
    if (errors.length > 0) {
      this.ctx.recordFailure(desired.generation, errors);
      return;
    }
    if (this.ctx.stopping()) return;

    const staging = stagingPathFor(this.ctx.config.sandboxDir, desired.generation);
    const composition = await this.composeVerified(staging, verified, log);
    if ('failure' in composition) {
      this.ctx.recordFailure(desired.generation, [composition.failure]);
      return;
    }
    const composed = composition.root;
    log.info({ composed_root_hash: composed.rootHash, masked: composed.masked }, 'root composed');

    await this.ctx.exclusive(async () => {
      if (this.ctx.stopping()) {
        await rm(staging, { recursive: true, force: true });
        return;
      }
      const previous = this.ctx.committed;
      const previousRoot = await readCurrentRoot(this.ctx.config.sandboxDir);
      let rootDir: string;
      let next: Composition;
      try {
        rootDir = await publishRoot(this.ctx.config.sandboxDir, staging, desired.generation);
        next = {
          generation: desired.generation,
          root_dir: rootDir,
          composed_root_hash: composed.rootHash,
          composition_key: key,
          modules: composedModulesOf(desired.modules),
        };
        for (const module of next.modules) {
          const services = verified.find((v) => v.desired.module_name === module.module_name)?.services ?? [];
          module.units = unitsOfModule(services, module.init.start);
        }
        await writeAgentState(this.ctx.config.dataDir, { committed: previous, pending: next });
        await switchCurrentRoot(this.ctx.config.sandboxDir, rootDir);
      } catch (error) {
        await rm(staging, { recursive: true, force: true });
        this.ctx.recordFailure(desired.generation, [{ module_name: null, message: `cannot switch to the new root: ${errorMessage(error)}` }]);
        return;
      }
      const plan = planTransition(previous, next.modules);
      for (const module of next.modules) {
        const kept = plan.keep.get(module.module_name);
        if (kept !== undefined) module.run = kept;
      }
      this.ctx.committed = next;
      this.ctx.recordSuccess();
      await writeAgentState(this.ctx.config.dataDir, { committed: next, pending: null });
      log.info(
        { root: rootDir, previous_root: previousRoot, stop: plan.stop.map((m) => m.module_name), restart: plan.restart, start: plan.start },
        'switched to the new root',
      );

      if (previous !== null) {
        for (const module of plan.stop) {
          const result = await this.ctx.runInit(previous, module, 'stop');
          module.run = result.outcome === 'failed' ? { state: 'failed', reason: `stop: ${result.reason}` } : { state: 'stopped' };
        }
      }
      for (const name of plan.restart) {
        if (this.ctx.stopping()) break;
        const module = next.modules.find((m) => m.module_name === name)!;
        const result = await this.ctx.runInit(next, module, 'restart');
        // A restart that cannot run leaves the service as it was; one that ran and failed means it is down.
        if (result.outcome === 'failed') module.run = { state: 'failed', reason: `restart: ${result.reason}` };
      }
      for (const name of plan.start) {
        if (this.ctx.stopping()) break;
        const module = next.modules.find((m) => m.module_name === name)!;
        module.run = runStateAfterStart(await this.ctx.runInit(next, module, 'start'));
      }
      await writeAgentState(this.ctx.config.dataDir, { committed: next, pending: null });
      if (previousRoot !== null && previousRoot !== rootDir) await removeRoot(this.ctx.config.sandboxDir, previousRoot);
      log.info({ running_module_digests: runningModuleDigests(next), module_states: this.ctx.heartbeat().module_states }, 'reconciled');
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
        if (!isMissingCachedLayer(error) || index < 0 || attempt >= COMPOSE_ATTEMPTS || this.ctx.stopping())
          return { failure: { module_name: moduleName, message: errorMessage(error) } };
        log.warn({ module_name: moduleName, blob: error.details.blob }, 'a cached layer disappeared before it was composed; pulling it again');
        try {
          verified[index] = await pullDesiredModule(this.ctx.registries, verified[index]!.desired, this.ctx.config.cacheDir);
        } catch (pullError) {
          log.error({ module_name: moduleName, code: errorCode(pullError), err: errorMessage(pullError) }, 'module not usable');
          return { failure: { module_name: moduleName, message: errorMessage(pullError) } };
        }
      }
    }
  }
}
