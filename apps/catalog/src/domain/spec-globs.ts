import { PowernodeError } from '@powernode/contracts';
import { compileGlob, GLOB_LIMITS, GlobLimitError } from '@powernode/globs';

/** The spec fields that hold rsync globs (package_spec holds package names). */
export const GLOB_FIELDS = ['mask', 'file_spec', 'dependency_spec', 'protected_spec'] as const;

/**
 * Refuses with `validation_failed` the first glob rsync would not read as written, or beyond the glob limits
 * (GLOB_LIMITS: length, wildcards, globs per list), naming its field and index and, for a limit, which one.
 */
export function assertSpecGlobsValid(spec: Partial<Record<(typeof GLOB_FIELDS)[number], readonly string[]>>, prefix: string): void {
  for (const field of GLOB_FIELDS) {
    const globs = spec[field];
    if (globs !== undefined && globs.length > GLOB_LIMITS.maxGlobsPerList) {
      throw new PowernodeError(
        'validation_failed',
        `${prefix}${field} has ${globs.length} globs; a list may have at most ${GLOB_LIMITS.maxGlobsPerList} (limit globs_per_list): cover whole directories with "dir/**" instead of listing their files`,
        { details: { field: `${prefix}${field}`, rule: 'globs_per_list', max: GLOB_LIMITS.maxGlobsPerList, actual: globs.length } },
      );
    }
    globs?.forEach((glob, index) => {
      try {
        compileGlob(glob);
      } catch (error) {
        const limit = error instanceof GlobLimitError ? { rule: error.limit, max: error.max, actual: error.actual } : { rule: 'glob_valid' };
        throw new PowernodeError('validation_failed', `${prefix}${field}[${index}]: ${(error as Error).message}`, {
          details: { field: `${prefix}${field}[${index}]`, glob, ...limit },
          cause: error,
        });
      }
    });
  }
}
