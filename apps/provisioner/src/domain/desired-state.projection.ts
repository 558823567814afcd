import type { NodeChannel, PromotionState } from '@powernode/contracts';
import { entryOf, setEntry } from '@powernode/events';
import { provisionerProjection } from './provisioner-projection.js';

/*
 * The facts that decide what every instance should run, folded from catalog and provisioner events: modules,
 * their verified versions and promotion states, templates and their assignments, nodes and their channels.
 * Nothing is materialised per node: desiredModulesFor (./desired-modules.ts) computes an instance's modules
 * from this fold whenever it is asked, so an assignment, a promotion, a retirement, a module deletion or a
 * node's new channel changes the next reconcile without anyone applying anything.
 */

/** What the fold keeps about one version of a module. */
export interface VersionFacts {
  version_id: string;
  module_id: string;
  version_string: string;
  promotion_state: PromotionState;
  cosign_verified: boolean;
  composefs_digest: string;
  oci_ref: string;
  oci_digest: string;
  /** `dependencies.requires` of the version's own manifest. */
  requires: string[];
}

/** What the fold keeps about one registered module. */
export interface ModuleFacts {
  module_id: string;
  name: string;
  category: string;
  priority: number;
  /** The record's `requires` (authoritative; seeded from the first manifest, editable by operators). */
  requires: string[];
}

export interface DesiredStateModel {
  /** module name → the module registered under it */
  modules: Record<string, ModuleFacts>;
  /** module id → version id → version (a rejected build is never here) */
  versions: Record<string, Record<string, VersionFacts>>;
  /** template id → assigned module names in assignment order */
  templates: Record<string, { template_id: string; name: string; modules: string[] }>;
  /** module name → ids of the templates listing it (as a set: template id → true), so a deletion touches only those */
  template_ids_by_module: Record<string, Record<string, true>>;
  nodes: Record<string, { node_id: string; node_template_id: string; channel: NodeChannel }>;
  /** instance id → node id */
  instances: Record<string, string>;
}

/** Catalog + provisioner facts that decide what each instance should run. Updates its state in place. */
export const desiredStateProjection = provisionerProjection<DesiredStateModel>({
  name: 'provisioner-desired-state',
  // 2: template_ids_by_module added.
  version: 2,
  initialState: () => ({ modules: {}, versions: {}, templates: {}, template_ids_by_module: {}, nodes: {}, instances: {} }),
  handlers: {
    NodeCreated(state, event) {
      const d = event.data;
      setEntry(state.nodes, d.node_id, { node_id: d.node_id, node_template_id: d.node_template_id, channel: d.channel });
      return state;
    },
    NodeChannelChanged(state, event) {
      const node = entryOf(state.nodes, event.data.node_id);
      if (node !== undefined) setEntry(state.nodes, node.node_id, { ...node, channel: event.data.to });
      return state;
    },
    InstanceProvisionRequested(state, event) {
      setEntry(state.instances, event.data.instance_id, event.data.node_id);
      return state;
    },
    ModuleRegistered(state, event) {
      const d = event.data;
      setEntry(state.modules, d.name, {
        module_id: d.module_id,
        name: d.name,
        category: d.category,
        priority: d.spec.priority,
        requires: [...d.spec.requires],
      });
      if (entryOf(state.versions, d.module_id) === undefined) setEntry(state.versions, d.module_id, {});
      return state;
    },
    ModuleSpecSeeded: (state, event) =>
      withModule(state, event.data.module_id, event.data.name, (m) => ({ ...m, priority: event.data.spec.priority, requires: [...event.data.spec.requires] })),
    ModuleUpdated(state, event) {
      const c = event.data.changes;
      return withModule(state, event.data.module_id, event.data.name, (m) => ({
        ...m,
        ...(c.priority !== undefined ? { priority: c.priority } : {}),
        ...(c.category !== undefined ? { category: c.category } : {}),
        ...(c.requires !== undefined ? { requires: [...c.requires] } : {}),
      }));
    },
    ModuleDeleted(state, event) {
      const { module_id, name } = event.data;
      if (entryOf(state.modules, name)?.module_id === module_id) delete state.modules[name];
      delete state.versions[module_id];
      // The catalog refuses to delete an assigned module; should history say otherwise, the module still vanishes.
      for (const templateId of Object.keys(entryOf(state.template_ids_by_module, name) ?? {})) {
        const template = entryOf(state.templates, templateId);
        if (template !== undefined) setEntry(state.templates, templateId, { ...template, modules: template.modules.filter((n) => n !== name) });
      }
      delete state.template_ids_by_module[name];
      return state;
    },
    ModuleVersionBuilt(state, event) {
      const d = event.data;
      const versions = entryOf(state.versions, d.module_id);
      // Versions of a module that is not registered (deleted meanwhile) are never desired.
      if (versions === undefined) return state;
      const previous = entryOf(versions, d.version_id);
      const facts: VersionFacts = {
        version_id: d.version_id,
        module_id: d.module_id,
        version_string: d.version_string,
        // A redelivered build must not undo promotions recorded since.
        promotion_state: previous?.promotion_state ?? 'built',
        cosign_verified: d.cosign_verified,
        composefs_digest: d.composefs_digest,
        oci_ref: d.oci_ref,
        oci_digest: d.oci_digest,
        requires: manifestRequires(d.manifest),
      };
      setEntry(versions, d.version_id, facts);
      return state;
    },
    ModuleVersionRejected(state, event) {
      const versions = entryOf(state.versions, event.data.module_id);
      if (versions !== undefined) delete versions[event.data.version_id];
      return state;
    },
    ModuleVersionPromoted(state, event) {
      const versions = entryOf(state.versions, event.data.module_id);
      const version = versions === undefined ? undefined : entryOf(versions, event.data.version_id);
      if (versions === undefined || version === undefined) return state;
      setEntry(versions, version.version_id, { ...version, promotion_state: event.data.to });
      return state;
    },
    ModuleVersionReverified(state, event) {
      // A signature that no longer passes the module's trust policy takes the version out of every desired state.
      const versions = entryOf(state.versions, event.data.module_id);
      const version = versions === undefined ? undefined : entryOf(versions, event.data.version_id);
      if (versions === undefined || version === undefined || version.oci_digest !== event.data.oci_digest) return state;
      setEntry(versions, version.version_id, { ...version, cosign_verified: event.data.cosign_verified });
      return state;
    },
    TemplateCreated(state, event) {
      const d = event.data;
      const existing = entryOf(state.templates, d.template_id);
      setEntry(state.templates, d.template_id, { template_id: d.template_id, name: d.name, modules: existing?.modules ?? [] });
      return state;
    },
    ModuleAssignedToTemplate(state, event) {
      const d = event.data;
      const template = entryOf(state.templates, d.template_id) ?? { template_id: d.template_id, name: d.template_name, modules: [] };
      if (template.modules.includes(d.module_name)) return state;
      // A template lists a handful of modules: the new list is a copy, so a list a caller holds stays as it was.
      setEntry(state.templates, d.template_id, { ...template, modules: [...template.modules, d.module_name] });
      let templateIds = entryOf(state.template_ids_by_module, d.module_name);
      if (templateIds === undefined) setEntry(state.template_ids_by_module, d.module_name, (templateIds = {}));
      setEntry(templateIds, d.template_id, true);
      return state;
    },
    ModuleUnassignedFromTemplate(state, event) {
      const { template_id, module_name } = event.data;
      const template = entryOf(state.templates, template_id);
      if (template === undefined || !template.modules.includes(module_name)) return state;
      setEntry(state.templates, template.template_id, { ...template, modules: template.modules.filter((n) => n !== module_name) });
      const templateIds = entryOf(state.template_ids_by_module, module_name);
      if (templateIds !== undefined) {
        delete templateIds[template.template_id];
        // An emptied set is dropped, so the state depends on what is assigned, not on what once was.
        if (Object.keys(templateIds).length === 0) delete state.template_ids_by_module[module_name];
      }
      return state;
    },
  },
});

/** Stores the changed facts in place of the module's facts (facts are never changed once stored). */
function withModule(state: DesiredStateModel, moduleId: string, name: string, change: (m: ModuleFacts) => ModuleFacts): DesiredStateModel {
  const module = entryOf(state.modules, name);
  if (module !== undefined && module.module_id === moduleId) setEntry(state.modules, name, change(module));
  return state;
}

/** `dependencies.requires` of a manifest document; tolerant, because old events must still fold. */
function manifestRequires(manifest: Readonly<Record<string, unknown>>): string[] {
  const dependencies = manifest['dependencies'];
  if (typeof dependencies !== 'object' || dependencies === null) return [];
  const requires = (dependencies as Record<string, unknown>)['requires'];
  return Array.isArray(requires) ? requires.filter((r): r is string => typeof r === 'string') : [];
}
