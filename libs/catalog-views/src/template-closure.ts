import { SEEDED_MODULE_CATEGORIES } from '@powernode/contracts';
import { composePreview, type CapabilityClaim, type ComposePreview } from '@powernode/composition';
import { dependencyClosure, type DependencyClosure } from '@powernode/dependencies';
import { dependencyView, type CatalogFacts } from './catalog-facts.js';

/** What assigning a module needs to know of a template's dependency closure (AssignModule's `closure`). */
export interface ClosureFacts {
  /** Capabilities of every module in the closure. */
  provides: CapabilityClaim[];
  /** Dependency cycles in the closure, as paths. */
  cycles: string[][];
}

/** The dependency closure of a set of template modules (min state staging). */
export function templateClosure(moduleNames: readonly string[], catalog: CatalogFacts): DependencyClosure {
  return dependencyClosure(moduleNames, dependencyView(catalog), { min_state: 'staging' });
}

/** Closure facts of `moduleNames` for AssignModule: the capabilities and cycles of their closure. */
export function closureFacts(moduleNames: readonly string[], catalog: CatalogFacts): ClosureFacts {
  const closure = templateClosure(moduleNames, catalog);
  return {
    provides: closure.order.map((name) => ({ name, provides: catalog[name]?.spec.provides ?? [] })),
    cycles: closure.cycles,
  };
}

/** AssignModule's `closure` argument: the template's closure without and with `moduleName`. */
export function assignmentClosureFacts(assigned: readonly string[], moduleName: string, catalog: CatalogFacts): { before: ClosureFacts; after: ClosureFacts } {
  return { before: closureFacts(assigned, catalog), after: closureFacts([...assigned, moduleName], catalog) };
}

export interface TemplateComposePreview extends ComposePreview {
  /** The dependency closure: order, selected versions and what is missing, unpromoted or cyclic. */
  closure: DependencyClosure;
}

/**
 * The compose preview of a template: the dependency closure of its modules, the layer order with each module's
 * effective mask, and conflicts (protected-path overlaps, provides conflicts). Modules missing from the catalog
 * appear in `closure.missing` and not as layers.
 */
export function templateComposePreview(
  moduleNames: readonly string[],
  catalog: CatalogFacts,
  categories: readonly string[] = SEEDED_MODULE_CATEGORIES,
): TemplateComposePreview {
  const closure = templateClosure(moduleNames, catalog);
  const modules = closure.order.map((name) => {
    const facts = catalog[name]!;
    return {
      name,
      category: facts.category,
      priority: facts.spec.priority,
      mask: facts.spec.mask,
      protected_spec: facts.spec.protected_spec,
      file_spec: facts.spec.file_spec,
      provides: facts.spec.provides,
    };
  });
  return { closure, ...composePreview({ modules, categories }) };
}
