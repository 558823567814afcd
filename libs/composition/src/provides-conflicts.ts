/** A module's declared capabilities. */
export interface CapabilityClaim {
  name: string;
  provides: readonly string[];
}

/** Two or more modules of one composition claim the same capability (e.g. apache and nginx both `http.port:80`). */
export interface ProvidesConflict {
  kind: 'provides_conflict';
  severity: 'error';
  capability: string;
  modules: string[];
  detail: string;
}

/** Every capability claimed by more than one module, with the claimants sorted; sorted by capability. */
export function findProvidesConflicts(modules: readonly CapabilityClaim[]): ProvidesConflict[] {
  const claimants = new Map<string, Set<string>>();
  for (const module of modules) {
    for (const capability of module.provides) {
      const set = claimants.get(capability) ?? new Set<string>();
      set.add(module.name);
      claimants.set(capability, set);
    }
  }
  return [...claimants.entries()]
    .filter(([, names]) => names.size > 1)
    .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
    .map(([capability, names]) => {
      const list = [...names].sort();
      return {
        kind: 'provides_conflict',
        severity: 'error',
        capability,
        modules: list,
        detail: `${list.join(' and ')} all provide ${capability}; a template may hold only one of them`,
      };
    });
}

/** Stable identity of a conflict, to compare the conflicts of two compositions. */
export function providesConflictKey(conflict: ProvidesConflict): string {
  return `${conflict.capability}\u0000${conflict.modules.join('\u0000')}`;
}
