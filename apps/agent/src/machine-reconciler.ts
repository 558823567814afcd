import { setTimeout as sleep } from 'node:timers/promises';
import type { AgentDesiredState } from '@powernode/contracts';
import { readAgentState, writeAgentState } from './agent-state-file.js';
import { planTransition, runningModuleDigests, type Composition, type ModuleRunState, type ReconcileError } from './composition-state.js';
import { runHostCommand } from './host-commands.js';
import { runStateAfterStart } from './init-commands.js';
import { StageRefused, type MachineHost } from './machine-link.js';
import { parseSystemctlShow } from './machine-services.js';
import { errorMessage, type ReconcileContext, type Reconciler } from './reconcile-context.js';

/*
 * The agent inside a machine: its host (the keeper) composes roots and boots the machine on them; here the
 * modules' init commands run and their units are read, and upgrades and rollbacks are decided — each switch
 * of root is a reboot, finished by the agent that starts on the new root.
 */

/** How long started units get before their state is judged, and how long one still activating is waited for. */
const SERVICE_SETTLE_MS = 1_000;
const SERVICE_ACTIVATION_WAIT_MS = 5_000;

function formatFailure(run: ModuleRunState): string {
  return run.state === 'failed' ? run.reason : run.state;
}

export class MachineReconciler implements Reconciler {
  private switching = false;

  constructor(
    private readonly ctx: ReconcileContext,
    private readonly machine: MachineHost,
  ) {}

  switchingByReboot(): boolean {
    return this.switching;
  }

  /**
   * Inside a machine, at every start (the machine booted, or this agent restarted): the root the machine
   * booted is the composition to run. It is the pending one of a switch (start its modules; when they do not
   * come up and there was a previous root, boot back onto it), the committed one (a reboot, a revived machine,
   * an agent restart: start its modules again), or one the host composed before any agent ran (the first
   * generation). A rollback recorded by the agent before the machine went back is reported again.
   */
  async resume(): Promise<void> {
    const machine = this.machine;
    const booted = await machine.booted();
    if (booted === null) {
      this.ctx.errors = [{ module_name: null, message: 'the host gave no record of the root this machine booted; waiting for the next generation' }];
      this.ctx.logger.error('no booted.json from the host: nothing is started');
      return;
    }
    this.ctx.address = booted.address;
    const { state, problem } = await readAgentState(this.ctx.config.dataDir);
    if (problem !== undefined) this.ctx.logger.warn({ problem }, 'ignoring the persisted agent state');
    const switching = state.pending !== null && state.pending.root_dir === booted.composition.root_dir;
    const candidate = switching ? state.pending! : state.committed?.root_dir === booted.composition.root_dir ? state.committed! : booted.composition;
    const previous = switching ? state.committed : null;
    const composition: Composition = { ...candidate, modules: candidate.modules.map((m) => ({ ...m, run: { state: 'pending' } })) };
    await this.ctx.exclusive(async () => {
      this.ctx.committed = composition;
      const failures = await this.startModules(composition);
      if (failures.length > 0 && previous !== null && previous.root_dir !== composition.root_dir) {
        const errors = failures.map((f) => ({ module_name: f.module_name, message: `rolled back to generation ${previous.generation}: ${f.message}` }));
        this.ctx.logger.error({ failures, previous_root: previous.root_dir }, 'the new root did not come up; booting the previous one again');
        await writeAgentState(this.ctx.config.dataDir, { committed: previous, pending: null, rolled_back: { generation: composition.generation, errors } });
        await this.rebootOnto(machine, previous.root_dir);
        return;
      }
      // The root asked for did not even boot: the host brought the machine back here and says why.
      const failedBoot =
        booted.failed_boot === undefined || booted.failed_boot.generation === composition.generation
          ? undefined
          : {
              generation: booted.failed_boot.generation,
              errors: [{ module_name: null, message: `rolled back to generation ${composition.generation}: ${booted.failed_boot.message}` }],
            };
      const rolledBack =
        failedBoot ?? (state.rolled_back !== undefined && state.rolled_back.generation !== composition.generation ? state.rolled_back : undefined);
      await writeAgentState(this.ctx.config.dataDir, {
        committed: composition,
        pending: null,
        ...(rolledBack === undefined ? {} : { rolled_back: rolledBack }),
      });
      if (rolledBack !== undefined) {
        this.ctx.markRolledBack(rolledBack.generation);
        this.ctx.recordFailure(rolledBack.generation, rolledBack.errors);
      }
      if (previous !== null && previous.root_dir !== composition.root_dir)
        await machine
          .release(previous.root_dir)
          .catch((error: unknown) => this.ctx.logger.warn({ err: errorMessage(error) }, 'the previous root was not released'));
      this.ctx.logger.info(
        {
          generation: composition.generation,
          root: composition.root_dir,
          running_module_digests: runningModuleDigests(composition),
          services: this.ctx.services,
        },
        'running the booted root',
      );
    });
  }

  /**
   * Inside a machine, a new generation: the host composes its root (make-before-break: the running root stays
   * until the new one is complete and verified), the modules that leave are stopped, the switch is recorded as
   * pending, and the machine reboots onto the new root. The agent that starts there finishes the switch.
   */
  async apply(desired: AgentDesiredState): Promise<void> {
    const machine = this.machine;
    const log = this.ctx.logger.child({ generation: desired.generation });
    log.info({ modules: desired.modules.map((m) => `${m.module_name}@${m.version_string}`) }, 'reconciling: the host composes the new root');
    let next: Composition;
    try {
      next = await machine.stage(desired.generation);
    } catch (error) {
      const errors = error instanceof StageRefused ? error.errors : [{ module_name: null, message: errorMessage(error) }];
      this.ctx.recordFailure(desired.generation, errors);
      return;
    }
    if (this.ctx.stopping()) return;
    log.info({ root: next.root_dir, composed_root_hash: next.composed_root_hash }, 'root composed by the host');
    await this.ctx.exclusive(async () => {
      if (this.ctx.stopping()) return;
      const previous = this.ctx.committed;
      const plan = planTransition(previous, next.modules);
      if (previous !== null) {
        for (const module of plan.stop) {
          const result = await this.ctx.runInit(previous, module, 'stop');
          module.run = result.outcome === 'failed' ? { state: 'failed', reason: `stop: ${result.reason}` } : { state: 'stopped' };
        }
      }
      await writeAgentState(this.ctx.config.dataDir, { committed: previous, pending: next });
      log.info({ root: next.root_dir, stop: plan.stop.map((m) => m.module_name) }, 'rebooting onto the new root');
      await this.rebootOnto(machine, next.root_dir);
    });
  }

  /** Asks the host to boot the machine on `rootDir`; the machine's shutdown then stops this agent. */
  private async rebootOnto(machine: MachineHost, rootDir: string): Promise<void> {
    this.switching = true;
    try {
      await machine.boot(rootDir);
    } catch (error) {
      this.switching = false;
      this.ctx.recordFailure(this.ctx.desiredGeneration(), [{ module_name: null, message: `cannot reboot onto ${rootDir}: ${errorMessage(error)}` }]);
    }
  }

  /** Runs init.start of every module in priority order, then reads the units' states; returns what failed (empty: all up). */
  private async startModules(composition: Composition): Promise<ReconcileError[]> {
    for (const module of [...composition.modules].sort((a, b) => a.priority - b.priority)) {
      if (this.ctx.stopping()) break;
      module.run = runStateAfterStart(await this.ctx.runInit(composition, module, 'start'));
    }
    // A unit can be active for a moment and then fail (a simple service whose program exits at once): give
    // them a moment, then wait out any still activating before judging the generation.
    await sleep(SERVICE_SETTLE_MS);
    await this.refreshServices(composition);
    for (let waited = 0; waited < SERVICE_ACTIVATION_WAIT_MS && this.ctx.services.some((s) => s.state === 'activating'); waited += 250) {
      await sleep(250);
      await this.refreshServices(composition);
    }
    const failures: ReconcileError[] = composition.modules
      .filter((m) => m.run.state === 'failed')
      .map((m) => ({ module_name: m.module_name, message: formatFailure(m.run) }));
    for (const service of this.ctx.services.filter((s) => s.state === 'failed'))
      failures.push({ module_name: service.module, message: `service ${service.name} failed` });
    return failures;
  }

  /** Reads the state of every composed module's units (one systemctl call, in this machine). */
  async refreshServices(composition: Composition | null = this.ctx.committed): Promise<void> {
    if (composition === null) {
      this.ctx.services = [];
      return;
    }
    const owner = new Map<string, string>();
    for (const module of composition.modules) for (const unit of module.units ?? []) owner.set(unit, module.module_name);
    if (owner.size === 0) {
      this.ctx.services = [];
      return;
    }
    const shown = await runHostCommand(['systemctl', 'show', '--timestamp=unix', '-p', 'Id,ActiveState,StateChangeTimestamp', ...owner.keys()], 10_000);
    if (shown.code !== 0) {
      this.ctx.logger.warn({ code: shown.code, stderr: shown.stderr.trim() }, 'cannot read the service states');
      return;
    }
    this.ctx.services = parseSystemctlShow(shown.stdout)
      .map((unit) => ({ module: owner.get(unit.unit) ?? '', name: unit.unit, state: unit.state, since: unit.since }))
      .filter((s) => s.module !== '');
  }
}
