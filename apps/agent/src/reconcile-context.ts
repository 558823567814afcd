import type { Logger } from 'pino';
import type { AgentServiceStatus } from '@powernode/contracts';
import type { AgentConfig } from './agent-config.js';
import type { ComposedModule, Composition, ReconcileError } from './composition-state.js';
import type { heartbeatOf } from './composition-state.js';
import type { InitAction, InitCommandResult } from './init-commands.js';
import type { RegistryClients } from './registry-clients.js';

/*
 * What a reconciler (sandbox-reconciler.ts, machine-reconciler.ts) works with: the agent's state and its
 * bookkeeping, lent by the agent. The agent owns the loop, enrolment and heartbeats; a reconciler owns how a
 * composition is resumed, applied and observed where the instance runs.
 */

export interface ReconcileContext {
  readonly config: AgentConfig;
  readonly logger: Logger;
  readonly registries: RegistryClients;
  /** The composition that runs (or is being started). */
  committed: Composition | null;
  /** The last reconcile's problems, as heartbeats carry them. */
  errors: ReconcileError[];
  /** The units of the composed modules as last read. */
  services: AgentServiceStatus[];
  /** The instance's address, when it has one of its own. */
  address: string | null;
  stopping(): boolean;
  desiredGeneration(): string | null;
  recordFailure(generation: string | null, errors: ReconcileError[]): void;
  recordSuccess(): void;
  /** `generation` did not come up and was rolled back from: not tried again until another one is desired. */
  markRolledBack(generation: string): void;
  heartbeat(): ReturnType<typeof heartbeatOf>;
  /** Serialises what touches the running composition and runs init commands. */
  exclusive<T>(operation: () => Promise<T>): Promise<T>;
  runInit(composition: Composition, module: ComposedModule, action: InitAction, timeoutMs?: number): Promise<InitCommandResult>;
}

/** How an instance's compositions are resumed, applied and observed. */
export interface Reconciler {
  /** At start: the composition that ran before, started again. */
  resume(): Promise<void>;
  /** A new composition for the desired state (`key`: its composition key). */
  apply(desired: import('@powernode/contracts').AgentDesiredState, key: string): Promise<void>;
  /** Reads the state of the composed modules' services (nothing where there are none). */
  refreshServices(): Promise<void>;
  /** True while the instance is switching roots by rebooting: a stop must leave the recorded switch as it is. */
  switchingByReboot(): boolean;
}

export function errorMessage(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}
