import { PowernodeError } from '@powernode/contracts';
import { compileGlob, globsMayOverlap, GlobOverlapBudgetError, OverlapBudget, type CompiledGlob } from '@powernode/globs';

/** What protected-path conflict detection looks at in one module. */
export interface ProtectedPathSource {
  name: string;
  protected_spec: readonly string[];
  file_spec?: readonly string[];
  /** The module's shipped file paths, when its artifact is known. */
  files?: readonly string[];
}

export interface ProtectedPathOverlap {
  /** The claimer's protected_spec glob. */
  protected: string;
  /** The other module's glob or file that meets it. */
  other_path: string;
  other_field: 'file_spec' | 'files' | 'protected_spec';
}

/**
 * A module claims paths another module ships or claims too. Against file_spec / files it is a warning (the
 * build drops them from the other module's layer); two modules protecting the same path is an error, because
 * each is masked out of the other and neither ships it.
 */
export interface ProtectedOverlapConflict {
  kind: 'protected_overlap';
  severity: 'warning' | 'error';
  claimer: string;
  other: string;
  overlaps: ProtectedPathOverlap[];
  detail: string;
}

/**
 * Every protected-path overlap between distinct modules, in both priority directions. The glob comparisons
 * of one call share one OverlapBudget; when it runs out the composition is refused (`validation_failed`
 * naming the two modules and globs) rather than reported free of overlaps.
 */
export function findProtectedOverlaps(modules: readonly ProtectedPathSource[], budget: OverlapBudget = new OverlapBudget()): ProtectedOverlapConflict[] {
  const compiled = new Map<string, CompiledGlob>();
  const glob = (pattern: string): CompiledGlob => {
    let g = compiled.get(pattern);
    if (g === undefined) {
      g = compileGlob(pattern);
      compiled.set(pattern, g);
    }
    return g;
  };
  // The same pair of globs recurs across modules (shared file_spec entries): decide it, and pay for it, once.
  const decided = new Map<string, boolean>();
  const overlap = (claimer: string, p: string, other: string, otherField: ProtectedPathOverlap['other_field'], q: string): boolean => {
    const key = JSON.stringify([p, q]);
    let answer = decided.get(key);
    if (answer === undefined) {
      try {
        answer = globsMayOverlap(glob(p), glob(q), budget);
      } catch (error) {
        if (!(error instanceof GlobOverlapBudgetError)) throw error;
        throw new PowernodeError(
          'validation_failed',
          `cannot decide whether ${claimer}'s protected_spec "${error.a}" overlaps ${other}'s ${otherField} "${error.b}" within ${budget.limit} automaton states (limit overlap_states, for the whole composition): simplify these globs (fewer wildcards, shorter) in one of the modules`,
          { details: { claimer, other, protected: p, other_path: q, other_field: otherField, limit: 'overlap_states', max: budget.limit }, cause: error },
        );
      }
      decided.set(key, answer);
    }
    return answer;
  };
  const conflicts: ProtectedOverlapConflict[] = [];
  for (const claimer of modules) {
    if (claimer.protected_spec.length === 0) continue;
    for (const other of modules) {
      if (other.name === claimer.name) continue;
      const shipped: ProtectedPathOverlap[] = [];
      const claimedTwice: ProtectedPathOverlap[] = [];
      for (const p of claimer.protected_spec) {
        for (const f of other.file_spec ?? [])
          if (overlap(claimer.name, p, other.name, 'file_spec', f)) shipped.push({ protected: p, other_path: f, other_field: 'file_spec' });
        for (const file of other.files ?? []) if (glob(p).match(file)) shipped.push({ protected: p, other_path: file, other_field: 'files' });
        // Reported once per pair: from the claimer whose name sorts first.
        if (claimer.name < other.name) {
          for (const q of other.protected_spec)
            if (overlap(claimer.name, p, other.name, 'protected_spec', q)) claimedTwice.push({ protected: p, other_path: q, other_field: 'protected_spec' });
        }
      }
      if (shipped.length > 0) {
        conflicts.push({
          kind: 'protected_overlap',
          severity: 'warning',
          claimer: claimer.name,
          other: other.name,
          overlaps: shipped,
          detail: `${other.name} ships paths ${claimer.name} protects (${[...new Set(shipped.map((o) => o.protected))].join(', ')}); the build excludes them from ${other.name}'s layer, only ${claimer.name} ships them`,
        });
      }
      if (claimedTwice.length > 0) {
        conflicts.push({
          kind: 'protected_overlap',
          severity: 'error',
          claimer: claimer.name,
          other: other.name,
          overlaps: claimedTwice,
          detail: `${claimer.name} and ${other.name} both protect ${[...new Set(claimedTwice.map((o) => o.protected))].join(', ')}; each is masked out of the other, so neither ships them: keep the path in one protected_spec`,
        });
      }
    }
  }
  return conflicts;
}
