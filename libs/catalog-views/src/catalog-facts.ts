import type { ModuleSpec } from '@powernode/contracts';
import type { CatalogView, VersionCandidate } from '@powernode/dependencies';
import type { ModulesReadModel } from './modules.projection.js';
import { versionCandidates, type VersionsReadModel } from './versions.projection.js';

/** What the catalog knows about one module for closure and composition: its record's spec and its versions. */
export interface CatalogModuleFacts {
  name: string;
  category: string;
  spec: ModuleSpec;
  versions: VersionCandidate[];
}

/** Catalog modules by name. */
export type CatalogFacts = Readonly<Record<string, CatalogModuleFacts>>;

/** Catalog facts for every registered module, from the modules and versions read models. */
export function catalogFactsFromReadModels(modules: ModulesReadModel, versions: VersionsReadModel): Record<string, CatalogModuleFacts> {
  const facts: Record<string, CatalogModuleFacts> = {};
  for (const m of Object.values(modules.modules)) {
    facts[m.name] = {
      name: m.name,
      category: m.category,
      spec: {
        mask: m.mask,
        file_spec: m.file_spec,
        package_spec: m.package_spec,
        dependency_spec: m.dependency_spec,
        protected_spec: m.protected_spec,
        requires: m.requires,
        provides: m.provides,
        priority: m.priority,
      },
      versions: versionCandidates(versions, m.name),
    };
  }
  return facts;
}

/** The dependency view of the catalog (requires + versions per module): PromoteVersion's `dependencies`. */
export function dependencyView(catalog: CatalogFacts): CatalogView {
  const view: Record<string, { requires: readonly string[]; versions: readonly VersionCandidate[] }> = {};
  for (const [name, facts] of Object.entries(catalog)) view[name] = { requires: facts.spec.requires, versions: facts.versions };
  return view;
}
