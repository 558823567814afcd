import type { z } from 'zod';
import { PowernodeError, issuePath } from '@powernode/contracts';

/**
 * Parses one command field with `schema`, or refuses with `validation_failed` naming the field, what is wrong
 * and the rule, so a person can fix the input.
 */
export function validField<T>(schema: z.ZodType<T>, value: unknown, field: string, rule: string): T {
  const result = schema.safeParse(value);
  if (result.success) return result.data;
  const issues = result.error.issues.map((i) => ({ path: i.path.length === 0 ? field : `${field}.${issuePath(i.path)}`, message: i.message }));
  throw new PowernodeError('validation_failed', `${issues.map((i) => `${i.path}: ${i.message}`).join('; ')}`, { details: { field, rule, issues } });
}
