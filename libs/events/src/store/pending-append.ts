import type { NewEvent } from '@powernode/event-core';
import type { AppendResult, ExpectedVersion } from './event-store.js';

/** An append waiting in a group-commit queue, with the callbacks that settle its caller's promise. */
export interface PendingAppend {
  stream: string;
  events: (NewEvent & { schema_version: number })[];
  expected: ExpectedVersion;
  resolve: (result: AppendResult) => void;
  reject: (error: unknown) => void;
}

/** How one append of a committed group came out: each is judged on its own, so one refusal fails only its caller. */
export type AppendOutcome = { ok: true; result: AppendResult } | { ok: false; error: unknown };
