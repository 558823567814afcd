import { canonicalJson, type AgentDesiredModule, type AgentHeartbeat, type AgentServiceStatus } from '@powernode/contracts';

/*
 * What the agent has composed and started, as plain data with pure functions over it: the reconciler decides
 * with these, the state file persists them, the heartbeat reports them.
 */

/** Where a composed module stands. */
export type ModuleRunState =
  { state: 'pending' } | { state: 'started' } | { state: 'stopped' } | { state: 'failed'; reason: string } | { state: 'skipped'; reason: string };

/** A module of the composed root. */
export interface ComposedModule {
  module_name: string;
  version_id: string;
  version_string: string;
  oci_digest: string;
  composefs_digest: string;
  priority: number;
  effective_mask: string[];
  init: AgentDesiredModule['init'];
  run: ModuleRunState;
  /** The systemd units whose state is reported for this module (machine instances). */
  units?: string[];
}

/** One composed root and what runs from it. */
export interface Composition {
  generation: string;
  /** The root relative to the sandbox (`roots/<generation>`). */
  root_dir: string;
  composed_root_hash: string;
  /** Identity of what was composed (see compositionKey): a new generation with the same key needs no new root. */
  composition_key: string;
  modules: ComposedModule[];
}

/** The heartbeat's text for a module state: `started`, `stopped`, `pending`, `failed: <reason>`, `skipped: <reason>`. */
export function formatModuleState(run: ModuleRunState): string {
  switch (run.state) {
    case 'pending':
    case 'started':
    case 'stopped':
      return run.state;
    case 'failed':
    case 'skipped':
      return `${run.state}: ${run.reason}`;
    default: {
      const unreachable: never = run;
      return unreachable;
    }
  }
}

/**
 * True when a composed module counts as running: its start succeeded, or it could not be run at all for lack
 * of a boundary or a program in the root (skipped: its verified files are composed and in use). A start that
 * ran and failed does not count, nor does a module not started yet or stopped.
 */
export function countsAsRunning(run: ModuleRunState): boolean {
  switch (run.state) {
    case 'started':
    case 'skipped':
      return true;
    case 'pending':
    case 'stopped':
    case 'failed':
      return false;
    default: {
      const unreachable: never = run;
      return unreachable;
    }
  }
}

/** module name → composefs digest of every composed module that counts as running. */
export function runningModuleDigests(composition: Composition | null): Record<string, string> {
  const out: Record<string, string> = {};
  for (const module of composition?.modules ?? []) if (countsAsRunning(module.run)) out[module.module_name] = module.composefs_digest;
  return out;
}

/**
 * Identity of a desired module set as far as composing and starting go (order-independent). Unlike the desired
 * generation, which keeps layer order, masks and modules are sorted first: listing order changes no root.
 */
export function compositionKey(
  modules: readonly Pick<AgentDesiredModule, 'module_name' | 'oci_digest' | 'composefs_digest' | 'priority' | 'effective_mask' | 'init'>[],
): string {
  const essential = modules
    .map((m) => ({
      module_name: m.module_name,
      oci_digest: m.oci_digest,
      composefs_digest: m.composefs_digest,
      priority: m.priority,
      effective_mask: [...m.effective_mask].sort(),
      init: m.init,
    }))
    .sort((a, b) => (a.module_name < b.module_name ? -1 : a.module_name > b.module_name ? 1 : 0));
  return canonicalJson(essential);
}

/** What a switch to a new composition does to modules: which to stop (in the old root) and which to start (in the new one). */
export interface TransitionPlan {
  /** Old modules to stop, highest priority first: gone from the desired set, or replaced by another version or init. */
  stop: ComposedModule[];
  /** New modules to start, lowest priority first. */
  start: string[];
  /** Modules that stay as they are (same artifact, same init), with their run state carried over. */
  keep: Map<string, ModuleRunState>;
  /** Kept modules that were started and have an init.restart: restarted in the new root, lowest priority first. */
  restart: string[];
}

function sameModule(
  a: Pick<ComposedModule, 'oci_digest' | 'composefs_digest' | 'init'>,
  b: Pick<ComposedModule, 'oci_digest' | 'composefs_digest' | 'init'>,
): boolean {
  return a.oci_digest === b.oci_digest && a.composefs_digest === b.composefs_digest && canonicalJson(a.init) === canonicalJson(b.init);
}

const byPriority = (a: { priority: number; module_name: string }, b: { priority: number; module_name: string }): number =>
  a.priority - b.priority || (a.module_name < b.module_name ? -1 : a.module_name > b.module_name ? 1 : 0);

/**
 * Plans the switch from `current` (null: nothing composed) to `next`: a module whose artifact and init are
 * unchanged keeps its state unless it never came up (then it is started again), and is restarted when it was
 * started and has an init.restart; anything else old is stopped and anything else new is started.
 */
export function planTransition(current: Composition | null, next: readonly ComposedModule[]): TransitionPlan {
  const old = new Map((current?.modules ?? []).map((m) => [m.module_name, m]));
  const keep = new Map<string, ModuleRunState>();
  const start: ComposedModule[] = [];
  for (const module of next) {
    const before = old.get(module.module_name);
    if (before !== undefined && sameModule(before, module) && countsAsRunning(before.run)) keep.set(module.module_name, before.run);
    else start.push(module);
  }
  const stop = (current?.modules ?? []).filter((m) => !keep.has(m.module_name) && m.run.state === 'started');
  // A service that keeps running across a switch still sees the old root until it is restarted.
  const restart = next.filter((m) => keep.get(m.module_name)?.state === 'started' && m.init.restart !== null && m.init.restart.trim() !== '');
  return {
    stop: stop.sort(byPriority).reverse(),
    start: start.sort(byPriority).map((m) => m.module_name),
    keep,
    restart: restart.sort(byPriority).map((m) => m.module_name),
  };
}

/** The composed modules of a desired set, not started yet. */
export function composedModulesOf(desired: readonly AgentDesiredModule[]): ComposedModule[] {
  return desired.map((m) => ({
    module_name: m.module_name,
    version_id: m.version_id,
    version_string: m.version_string,
    oci_digest: m.oci_digest,
    composefs_digest: m.composefs_digest,
    priority: m.priority,
    effective_mask: [...m.effective_mask],
    init: { ...m.init },
    run: { state: 'pending' },
  }));
}

/** A problem of the last reconcile, as the heartbeat carries it. */
export interface ReconcileError {
  module_name: string | null;
  message: string;
}

const MAX_HEARTBEAT_ERRORS = 100;

/** The heartbeat for what is composed now and the last reconcile's problems. */
export function heartbeatOf(
  composition: Composition | null,
  errors: readonly ReconcileError[],
  agent: { version: string; bootId: string },
  services: readonly AgentServiceStatus[] = [],
  address: string | null = null,
  integrity: AgentHeartbeat['integrity'] = [],
): AgentHeartbeat {
  const module_states: Record<string, string> = {};
  for (const module of composition?.modules ?? []) module_states[module.module_name] = formatModuleState(module.run);
  return {
    running_module_digests: runningModuleDigests(composition),
    composed_root_hash: composition?.composed_root_hash ?? null,
    generation: composition?.generation ?? null,
    errors: errors.slice(0, MAX_HEARTBEAT_ERRORS).map((e) => ({ module_name: e.module_name, message: e.message.slice(0, 2000) })),
    module_states,
    services: [...services],
    address,
    integrity: integrity.slice(0, 100).map((v) => ({ path: v.path, module: v.module, detected_at: v.detected_at })),
    agent_version: agent.version,
    boot_id: agent.bootId,
  };
}

/** Delay before reconcile attempt number `attempt` (1 = the first retry): doubling from `initialMs`, capped at `maxMs`. */
export function retryDelayMs(attempt: number, initialMs: number, maxMs: number): number {
  return Math.min(maxMs, initialMs * 2 ** Math.max(0, attempt - 1));
}
