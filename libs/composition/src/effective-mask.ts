/** What the effective mask of a module depends on. */
export interface MaskSource {
  name: string;
  /** Layer priority (see effectivePriority). */
  priority: number;
  mask: readonly string[];
  protected_spec: readonly string[];
}

/**
 * The globs excluded from `target`'s layer when it is composed with `neighbours`: its own mask, every
 * neighbour's protected_spec whatever their priority (a protected path is shipped only by its claimer), and
 * the masks of neighbours with a strictly higher priority. Equal priority shares protected paths only. Sorted,
 * without duplicates; the target's own protected_spec is not in it.
 */
export function effectiveMask(target: MaskSource, neighbours: readonly MaskSource[]): string[] {
  const out = new Set<string>(target.mask);
  for (const neighbour of neighbours) {
    if (neighbour.name === target.name) continue;
    for (const glob of neighbour.protected_spec) out.add(glob);
    if (neighbour.priority > target.priority) for (const glob of neighbour.mask) out.add(glob);
  }
  return [...out].sort();
}
