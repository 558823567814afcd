import { z } from 'zod';
import { lazySchema } from '../lazy-schema.js';

/** The authenticated principal a command runs for; recorded in every event it appends. */
export const actorSchema = lazySchema(() =>
  z.object({
    id: z.string().min(1),
    name: z.string().min(1),
    role: z.enum(['viewer', 'operator', 'approver', 'admin']),
  }),
);
export type Actor = z.infer<typeof actorSchema>;

/** Wraps an operation's input with who asks: the payload of every command and query over NATS. */
export function rpcRequestSchema<S extends z.ZodType>(input: S) {
  return z.object({ actor: actorSchema, input });
}
