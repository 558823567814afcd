import type { z } from 'zod';
import { PowernodeError } from './errors.js';

export interface FieldIssue {
  path: string;
  message: string;
}

/** Dotted/indexed path of a zod issue (`dependencies.requires[0]`), `(root)` for the value itself. */
export function issuePath(path: readonly PropertyKey[]): string {
  let out = '';
  for (const part of path) {
    if (typeof part === 'number') out += `[${part}]`;
    else out += out ? `.${String(part)}` : String(part);
  }
  return out || '(root)';
}

/**
 * Parses `value` with `schema` or throws `validation_failed` whose message names every bad field and why,
 * and whose details carry `issues: [{path, message}]` for machines.
 */
export function parseOrThrow<T>(schema: z.ZodType<T>, value: unknown, what: string): T {
  const result = schema.safeParse(value);
  if (result.success) return result.data;
  const issues: FieldIssue[] = result.error.issues.map((i) => ({ path: issuePath(i.path), message: i.message }));
  throw new PowernodeError('validation_failed', `invalid ${what}: ${issues.map((i) => `${i.path}: ${i.message}`).join('; ')}`, { details: { issues } });
}
