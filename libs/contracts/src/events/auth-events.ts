import { z } from 'zod';
import { lazySchema } from '../lazy-schema.js';

export const tokenRoleSchema = lazySchema(() => z.enum(['viewer', 'operator', 'approver', 'admin']));

/** A bearer token was issued; only its SHA-256 digest is ever recorded. */
export const tokenCreatedSchema = lazySchema(() =>
  z.object({
    token_id: z.string().min(1),
    name: z.string().min(1).max(100),
    role: tokenRoleSchema,
    token_sha256: z.string().regex(/^[0-9a-f]{64}$/),
    created_by: z.string().min(1),
    created_at: z.string(),
  }),
);

export const tokenRevokedSchema = lazySchema(() =>
  z.object({
    token_id: z.string().min(1),
    revoked_by: z.string().min(1),
    revoked_at: z.string(),
  }),
);

export type TokenCreated = z.infer<typeof tokenCreatedSchema>;
export type TokenRevoked = z.infer<typeof tokenRevokedSchema>;

export const authEventDefinitions = [
  { type: 'TokenCreated', schema_version: 1, schema: tokenCreatedSchema },
  { type: 'TokenRevoked', schema_version: 1, schema: tokenRevokedSchema },
] as const;
