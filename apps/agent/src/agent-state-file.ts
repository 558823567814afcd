import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { z } from 'zod';
import { writeFileAtomically } from '@powernode/host-machine';
import type { Composition, ReconcileError } from './composition-state.js';

/*
 * `<data dir>/agent-state.json`: the committed composition (what `current` names) and, while a switch is in
 * flight, the pending one. A crash between writing `pending` and moving `current` leaves both; on restart the
 * one `current` actually names is adopted (after its root hash is checked again).
 */

const digest = z.string().regex(/^sha256:[0-9a-f]{64}$/);
const runState = z.discriminatedUnion('state', [
  z.object({ state: z.literal('pending') }),
  z.object({ state: z.literal('started') }),
  z.object({ state: z.literal('stopped') }),
  z.object({ state: z.literal('failed'), reason: z.string() }),
  z.object({ state: z.literal('skipped'), reason: z.string() }),
]);
/** A composition as persisted (also what the keeper hands the agent inside a machine). */
export const compositionSchema = z.object({
  generation: z.string(),
  root_dir: z.string().regex(/^roots\/[^/]+$/),
  composed_root_hash: digest,
  composition_key: z.string(),
  modules: z.array(
    z.object({
      module_name: z.string(),
      version_id: z.string(),
      version_string: z.string(),
      oci_digest: digest,
      composefs_digest: digest,
      priority: z.number().int(),
      effective_mask: z.array(z.string()),
      init: z.object({ start: z.string().nullable(), stop: z.string().nullable(), restart: z.string().nullable() }),
      run: runState,
      units: z.array(z.string()).optional(),
    }),
  ),
});
const reconcileError = z.object({ module_name: z.string().nullable(), message: z.string() });
const stateFile = z.object({
  version: z.literal(1),
  committed: compositionSchema.nullable(),
  pending: compositionSchema.nullable(),
  rolled_back: z.object({ generation: z.string(), errors: z.array(reconcileError) }).optional(),
});

/** The persisted agent state. */
export interface AgentStateFile {
  committed: Composition | null;
  pending: Composition | null;
  /**
   * A machine's generation that did not come up and was rolled back from: the machine rebooted onto the
   * committed root meanwhile, so the agent that reports it is a new process.
   */
  rolled_back?: { generation: string; errors: ReconcileError[] };
}

/** `<data dir>/agent-state.json`. */
export function agentStatePath(dataDir: string): string {
  return path.join(dataDir, 'agent-state.json');
}

/** Reads the persisted state; a missing file is an empty state, an unreadable one too (with the problem). */
export async function readAgentState(dataDir: string): Promise<{ state: AgentStateFile; problem?: string }> {
  const empty: AgentStateFile = { committed: null, pending: null };
  let text: string;
  try {
    text = await readFile(agentStatePath(dataDir), 'utf8');
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return { state: empty };
    return { state: empty, problem: `cannot read ${agentStatePath(dataDir)}: ${(error as Error).message}` };
  }
  try {
    const parsed = stateFile.safeParse(JSON.parse(text));
    if (!parsed.success) return { state: empty, problem: `${agentStatePath(dataDir)} is not an agent state file` };
    return {
      state: {
        committed: parsed.data.committed,
        pending: parsed.data.pending,
        ...(parsed.data.rolled_back === undefined ? {} : { rolled_back: parsed.data.rolled_back }),
      },
    };
  } catch {
    return { state: empty, problem: `${agentStatePath(dataDir)} is not JSON` };
  }
}

/** Persists the state atomically. */
export async function writeAgentState(dataDir: string, state: AgentStateFile): Promise<void> {
  await writeFileAtomically(agentStatePath(dataDir), `${JSON.stringify({ version: 1, ...state }, null, 2)}\n`, 0o600);
}
