import { PowernodeError } from '@powernode/contracts';
import { compileGlob } from '@powernode/globs';

/** The spec fields that hold rsync globs (package_spec holds package names). */
export const GLOB_FIELDS = ['mask', 'file_spec', 'dependency_spec', 'protected_spec'] as const;

/** Refuses with `validation_failed` the first glob rsync would not read as written, naming its field and index. */
export function assertSpecGlobsValid(spec: Partial<Record<(typeof GLOB_FIELDS)[number], readonly string[]>>, prefix: string): void {
  for (const field of GLOB_FIELDS) {
    spec[field]?.forEach((glob, index) => {
      try {
        compileGlob(glob);
      } catch (error) {
        throw new PowernodeError('validation_failed', `${prefix}${field}[${index}]: ${(error as Error).message}`, {
          details: { field: `${prefix}${field}[${index}]`, glob, rule: 'glob_valid' },
          cause: error,
        });
      }
    });
  }
}
