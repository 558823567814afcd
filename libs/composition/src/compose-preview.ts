import { PowernodeError } from '@powernode/contracts';
import { effectiveMask, type MaskSource } from './effective-mask.js';
import { effectivePriority } from './layer-priority.js';
import { findProtectedOverlaps, type ProtectedOverlapConflict } from './protected-overlaps.js';
import { findProvidesConflicts, type ProvidesConflict } from './provides-conflicts.js';

/** One module as the composer sees it (its platform-record spec). */
export interface ComposableModule {
  name: string;
  category: string;
  /** The module's own priority inside its category, 0–999 (0 when the record sets none). */
  priority: number;
  mask: readonly string[];
  protected_spec: readonly string[];
  provides?: readonly string[];
  file_spec?: readonly string[];
  /** The shipped file paths of the version being composed, when known. */
  files?: readonly string[];
}

export interface ComposeInput {
  modules: readonly ComposableModule[];
  /** Category names in layer order; position = index + 1. */
  categories: readonly string[];
}

export interface ComposedLayer {
  module: string;
  category: string;
  priority: number;
  effective_mask: string[];
}

export type CompositionConflict = ProtectedOverlapConflict | ProvidesConflict;

export interface ComposePreview {
  /** Bottom layer first (lowest priority); ties ordered by module name. */
  layers: ComposedLayer[];
  /** Provides conflicts first (errors), then protected-path overlaps. */
  conflicts: CompositionConflict[];
}

/**
 * How a set of modules composes into one root filesystem: layer order by priority (category position × 1000 +
 * module priority), each module's effective mask, and the conflicts between them. Refuses duplicate module
 * names, unknown categories and out-of-band priorities with `validation_failed`.
 */
export function composePreview(input: ComposeInput): ComposePreview {
  const seen = new Set<string>();
  for (const module of input.modules) {
    if (seen.has(module.name)) {
      throw new PowernodeError('validation_failed', `module "${module.name}" appears twice in one composition`, {
        details: { module: module.name, rule: 'module_once_per_composition' },
      });
    }
    seen.add(module.name);
  }
  const sources: (MaskSource & { category: string })[] = input.modules.map((m) => ({
    name: m.name,
    category: m.category,
    priority: effectivePriority(m.category, m.priority, input.categories),
    mask: m.mask,
    protected_spec: m.protected_spec,
  }));
  const layers = sources
    .map((s) => ({ module: s.name, category: s.category, priority: s.priority, effective_mask: effectiveMask(s, sources) }))
    .sort((a, b) => a.priority - b.priority || (a.module < b.module ? -1 : a.module > b.module ? 1 : 0));
  const conflicts: CompositionConflict[] = [
    ...findProvidesConflicts(input.modules.map((m) => ({ name: m.name, provides: m.provides ?? [] }))),
    ...findProtectedOverlaps(input.modules),
  ];
  return { layers, conflicts };
}
