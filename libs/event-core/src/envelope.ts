import { z } from 'zod';

/** A stored event as every reader sees it: identity, place in its stream and in the global log, provenance. */
export interface EventEnvelope<TData = unknown, TType extends string = string> {
  /** Time-ordered UUID (v7); unique across the store. */
  id: string;
  stream: string;
  type: TType;
  /** 1-based position of the event inside its stream. */
  version: number;
  /** 1-based position in the global log; strictly increasing in commit order. */
  position: number;
  occurred_at: string;
  correlation_id: string;
  causation_id: string | null;
  actor: string;
  schema_version: number;
  data: TData;
}

/** What a writer hands to `append`: the store assigns version and position. */
export interface NewEvent<TData = unknown> {
  /** Supply a deterministic id to make the append idempotent (a retried append of the same ids is a no-op). */
  id?: string;
  type: string;
  data: TData;
  schema_version?: number;
  occurred_at?: string;
  correlation_id?: string;
  causation_id?: string | null;
  actor?: string;
}

export const eventEnvelopeSchema = z.object({
  id: z.string().uuid(),
  stream: z.string().min(1),
  type: z.string().min(1),
  version: z.number().int().positive(),
  position: z.number().int().positive(),
  occurred_at: z.string(),
  correlation_id: z.string(),
  causation_id: z.string().nullable(),
  actor: z.string(),
  schema_version: z.number().int().positive(),
  data: z.unknown(),
});
