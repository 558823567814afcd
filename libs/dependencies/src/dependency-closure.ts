import semver from 'semver';
import { isPowernodeError, parseRequires, type PromotionState } from '@powernode/contracts';
import { isPromotedAtLeast } from './promotion-order.js';
import { resolveRequirement, type VersionCandidate } from './resolve-requirement.js';

/** What the closure needs to know about one module: its `requires` entries and its versions. */
export interface CatalogModuleView {
  requires: readonly string[];
  versions: readonly VersionCandidate[];
}

/** The modules of the catalog by name (plain data, prepared by the caller from its read model). */
export type CatalogView = Readonly<Record<string, CatalogModuleView>>;

export interface DependencyEdge {
  from: string;
  to: string;
  range: string;
}

export interface MissingDependency {
  module: string;
  /** The module whose `requires` named it, or null for a root. */
  required_by: string | null;
  range: string;
  /** `module_missing`: no such module in the catalog; `no_version_in_range`: it exists, but no version fits. */
  reason: 'module_missing' | 'no_version_in_range';
  available: string[];
}

export interface UnpromotedDependency {
  module: string;
  required_by: string | null;
  range: string;
  min_state: PromotionState;
  /** The versions that satisfy the range, none of them promoted far enough. */
  in_range: VersionCandidate[];
}

export interface InvalidRequirement {
  module: string;
  entry: string;
  message: string;
}

/** Several modules require the same dependency with ranges that no single promoted version satisfies together. */
export interface RangeConflict {
  module: string;
  requirements: { required_by: string | null; range: string }[];
}

export interface DependencyClosure {
  /** Every module reached, dependencies before their dependents (missing modules excluded). */
  order: string[];
  edges: DependencyEdge[];
  /** The highest promoted version of each module that satisfies every range pointing at it, or null. */
  selected: Record<string, string | null>;
  missing: MissingDependency[];
  unpromoted: UnpromotedDependency[];
  /** Each cycle as its path, first module repeated at the end: `[a, b, a]`. */
  cycles: string[][];
  invalid: InvalidRequirement[];
  range_conflicts: RangeConflict[];
}

export interface ClosureOptions {
  /** The least promotion state a version must reach to count (default `staging`). */
  min_state?: PromotionState;
}

/** A closure with nothing missing, unpromoted, cyclic, invalid or conflicting. */
export function isClosureComplete(closure: DependencyClosure): boolean {
  return (
    closure.missing.length === 0 &&
    closure.unpromoted.length === 0 &&
    closure.cycles.length === 0 &&
    closure.invalid.length === 0 &&
    closure.range_conflicts.length === 0
  );
}

/**
 * The transitive closure of `roots` over `requires`: a dependency-first order, the version each module resolves
 * to, and every problem found on the way (missing modules, ranges no promoted version satisfies, cycles with
 * their path, malformed entries). It never throws on catalog content: callers decide which problems refuse.
 */
export function dependencyClosure(roots: readonly string[], catalog: CatalogView, options: ClosureOptions = {}): DependencyClosure {
  const minState = options.min_state ?? 'staging';
  const result: DependencyClosure = { order: [], edges: [], selected: {}, missing: [], unpromoted: [], cycles: [], invalid: [], range_conflicts: [] };
  const marks = new Map<string, 'visiting' | 'done'>();
  const stack: string[] = [];
  const cycleKeys = new Set<string>();
  const incoming = new Map<string, { required_by: string | null; range: string }[]>();

  const check = (module: string, requiredBy: string | null, range: string): void => {
    const view = lookup(catalog, module);
    if (view === undefined) {
      result.missing.push({ module, required_by: requiredBy, range, reason: 'module_missing', available: [] });
      return;
    }
    const list = incoming.get(module) ?? [];
    list.push({ required_by: requiredBy, range });
    incoming.set(module, list);
    const resolution = resolveRequirement(range, view.versions, minState);
    switch (resolution.status) {
      case 'satisfied':
        return;
      case 'not_promoted':
        result.unpromoted.push({ module, required_by: requiredBy, range, min_state: minState, in_range: resolution.in_range });
        return;
      case 'no_version_in_range':
        result.missing.push({ module, required_by: requiredBy, range, reason: 'no_version_in_range', available: resolution.available });
        return;
      default:
        return assertNever(resolution);
    }
  };

  const visit = (module: string): void => {
    const view = lookup(catalog, module);
    if (view === undefined) return;
    marks.set(module, 'visiting');
    stack.push(module);
    for (const entry of view.requires) {
      let target: string;
      let range: string;
      try {
        ({ module: target, range } = parseRequires(entry));
      } catch (error) {
        result.invalid.push({ module, entry, message: isPowernodeError(error) ? error.message : String(error) });
        continue;
      }
      result.edges.push({ from: module, to: target, range });
      check(target, module, range);
      const mark = marks.get(target);
      if (mark === 'visiting') {
        const path = [...stack.slice(stack.indexOf(target)), target];
        const key = canonicalCycleKey(path);
        if (!cycleKeys.has(key)) {
          cycleKeys.add(key);
          result.cycles.push(path);
        }
      } else if (mark === undefined) {
        visit(target);
      }
    }
    stack.pop();
    marks.set(module, 'done');
    result.order.push(module);
  };

  for (const root of new Set(roots)) {
    check(root, null, '*');
    if (!marks.has(root)) visit(root);
  }

  for (const module of result.order) {
    const requirements = incoming.get(module) ?? [];
    const versions = lookup(catalog, module)?.versions ?? [];
    const eligible = versions
      .filter((v) => semver.valid(v.version) !== null && isPromotedAtLeast(v.promotion_state, minState))
      .filter((v) => requirements.every((r) => semver.satisfies(v.version, r.range)))
      .sort((a, b) => semver.rcompare(a.version, b.version));
    result.selected[module] = eligible[0]?.version ?? null;
    const eachSatisfiable = requirements.every((r) => resolveRequirement(r.range, versions, minState).status === 'satisfied');
    if (eligible.length === 0 && eachSatisfiable && requirements.length > 1) {
      result.range_conflicts.push({ module, requirements });
    }
  }
  return result;
}

function lookup(catalog: CatalogView, module: string): CatalogModuleView | undefined {
  return Object.prototype.hasOwnProperty.call(catalog, module) ? catalog[module] : undefined;
}

/** The same cycle entered at a different module is the same cycle: key it by its smallest rotation. */
function canonicalCycleKey(path: readonly string[]): string {
  const ring = path.slice(0, -1);
  let best = ring;
  for (let i = 1; i < ring.length; i++) {
    const rotation = [...ring.slice(i), ...ring.slice(0, i)];
    if (rotation.join('\u0000') < best.join('\u0000')) best = rotation;
  }
  return best.join('\u0000');
}

function assertNever(value: never): never {
  throw new Error(`unhandled case: ${JSON.stringify(value)}`);
}
