import semver from 'semver';
import { isPowernodeError, parseRequires, PowernodeError, type NodeChannel, type PromotionState } from '@powernode/contracts';
import { dependencyClosure, isPromotedAtLeast, type CatalogView, type DependencyClosure } from '@powernode/dependencies';
import { entryOf, setEntry } from '@powernode/events';
import { provisionerProjection } from './provisioner-projection.js';

/*
 * What every instance should run, folded from catalog and provisioner events. Nothing is materialised per
 * node: the answer is computed from the fold whenever it is asked for, so an assignment, a promotion, a
 * retirement, a module deletion or a node's new channel changes the next reconcile without anyone applying
 * anything.
 *
 * The rule for one node: take its template's assigned modules, close them over `requires` (the module record's
 * spec, the same lists the catalog checks when a module is assigned), and for every module pick the highest
 * semver version that is cosign-verified, not retired, and promoted at least as far as the node's channel
 * (built < staging < blessed < live), within every range that points at the module. Whatever cannot be chosen
 * is listed in `unresolved` with its reason, and is not desired.
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

/** One module an instance should run, with the version chosen for it. */
export interface DesiredModule {
  module_id: string;
  version_id: string;
  version_string: string;
  promotion_state: PromotionState;
  composefs_digest: string;
  oci_ref: string;
  oci_digest: string;
  priority: number;
  category: string;
}

/** Why a module that belongs to the closure is not desired (or why a chosen version may not work). */
export type UnresolvedReason =
  | { reason: 'template_missing'; template_id: string; message: string }
  | { reason: 'module_missing'; module: string; required_by: string | null; range: string; message: string }
  | { reason: 'no_version_in_range'; module: string; required_by: string | null; range: string; available: string[]; message: string }
  | {
      reason: 'no_eligible_version';
      module: string;
      required_by: string | null;
      range: string;
      channel: NodeChannel;
      candidates: { version: string; promotion_state: PromotionState; cosign_verified: boolean }[];
      message: string;
    }
  | { reason: 'range_conflict'; module: string; requirements: { required_by: string | null; range: string }[]; message: string }
  | { reason: 'dependency_cycle'; path: string[]; message: string }
  | { reason: 'invalid_requirement'; module: string; entry: string; message: string }
  | { reason: 'version_requirement_unmet'; module: string; version_string: string; requirement: string; have: string | null; message: string };

export interface DesiredModules {
  node_id: string;
  node_template_id: string;
  channel: NodeChannel;
  /** module name → chosen version, dependencies before their dependents */
  modules: Record<string, DesiredModule>;
  unresolved: UnresolvedReason[];
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
      setEntry(state.modules, d.name, { module_id: d.module_id, name: d.name, category: d.category, priority: d.spec.priority, requires: [...d.spec.requires] });
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

/** Which node's desired state to compute: a node's own, or the node of an instance. */
export type DesiredStateTarget = { node_id: string } | { instance_id: string };

/**
 * The modules an instance (or every instance of a node) should run, each with its chosen version, and the
 * reasons for whatever in the template's closure could not be chosen. Refuses an unknown node or instance
 * with `not_found`.
 */
export function desiredModulesFor(state: DesiredStateModel, target: DesiredStateTarget): DesiredModules {
  const nodeId = 'instance_id' in target ? nodeOfInstance(state, target.instance_id) : target.node_id;
  const node = entryOf(state.nodes, nodeId);
  if (node === undefined) {
    throw new PowernodeError('not_found', `node ${nodeId} not found: create it with system_create_node`, { details: { node_id: nodeId, rule: 'node_must_exist' } });
  }
  const result: DesiredModules = { node_id: node.node_id, node_template_id: node.node_template_id, channel: node.channel, modules: {}, unresolved: [] };
  const template = entryOf(state.templates, node.node_template_id);
  if (template === undefined) {
    result.unresolved.push({
      reason: 'template_missing',
      template_id: node.node_template_id,
      message: `template ${node.node_template_id} of node ${node.node_id} is not in the catalog: nothing can be desired until it exists`,
    });
    return result;
  }

  const closure = dependencyClosure(template.modules, eligibleCatalogView(state), { min_state: node.channel });
  for (const name of closure.order) {
    const selected = closure.selected[name];
    if (selected === null || selected === undefined) continue;
    const module = state.modules[name]!;
    const version = chosenVersion(state, module, selected, node.channel);
    if (version === undefined) continue;
    result.modules[name] = {
      module_id: module.module_id,
      version_id: version.version_id,
      version_string: version.version_string,
      promotion_state: version.promotion_state,
      composefs_digest: version.composefs_digest,
      oci_ref: version.oci_ref,
      oci_digest: version.oci_digest,
      priority: module.priority,
      category: module.category,
    };
  }
  result.unresolved.push(...closureProblems(state, closure, node.channel));
  result.unresolved.push(...unmetVersionRequirements(state, result.modules, closure));
  return result;
}

function nodeOfInstance(state: DesiredStateModel, instanceId: string): string {
  const nodeId = entryOf(state.instances, instanceId);
  if (nodeId === undefined) {
    throw new PowernodeError('not_found', `instance ${instanceId} not found: provision one with system_provision_instance`, {
      details: { instance_id: instanceId, rule: 'instance_must_exist' },
    });
  }
  return nodeId;
}

/** The catalog as the closure sees it: only cosign-verified versions can ever be chosen. */
function eligibleCatalogView(state: DesiredStateModel): CatalogView {
  const view: Record<string, { requires: readonly string[]; versions: { version: string; promotion_state: PromotionState }[] }> = {};
  for (const module of Object.values(state.modules)) {
    const versions = Object.values(state.versions[module.module_id] ?? {})
      .filter((v) => v.cosign_verified)
      .map((v) => ({ version: v.version_string, promotion_state: v.promotion_state }));
    view[module.name] = { requires: module.requires, versions };
  }
  return view;
}

/** The version record behind a selected version string (several tags may name one version; the first recorded wins). */
function chosenVersion(state: DesiredStateModel, module: ModuleFacts, versionString: string, channel: NodeChannel): VersionFacts | undefined {
  return Object.values(state.versions[module.module_id] ?? {}).find(
    (v) => v.version_string === versionString && v.cosign_verified && isPromotedAtLeast(v.promotion_state, channel),
  );
}

function allVersionsInRange(state: DesiredStateModel, moduleName: string, range: string): VersionFacts[] {
  const module = state.modules[moduleName];
  if (module === undefined) return [];
  return Object.values(state.versions[module.module_id] ?? {})
    .filter((v) => semver.valid(v.version_string) !== null && semver.satisfies(v.version_string, range))
    .sort((a, b) => semver.rcompare(a.version_string, b.version_string));
}

function describeRequirer(requiredBy: string | null): string {
  return requiredBy === null ? 'assigned to the template' : `required by ${requiredBy}`;
}

function closureProblems(state: DesiredStateModel, closure: DependencyClosure, channel: NodeChannel): UnresolvedReason[] {
  const problems: UnresolvedReason[] = [];
  const notEligible = (module: string, requiredBy: string | null, range: string): UnresolvedReason | null => {
    const inRange = allVersionsInRange(state, module, range);
    if (inRange.length === 0) return null;
    return {
      reason: 'no_eligible_version',
      module,
      required_by: requiredBy,
      range,
      channel,
      candidates: inRange.map((v) => ({ version: v.version_string, promotion_state: v.promotion_state, cosign_verified: v.cosign_verified })),
      message: `${module} (${describeRequirer(requiredBy)}, range ${range}) has no version that is cosign-verified, not retired and promoted to ${channel} or beyond`,
    };
  };
  for (const m of closure.missing) {
    if (m.reason === 'module_missing') {
      problems.push({ reason: 'module_missing', module: m.module, required_by: m.required_by, range: m.range, message: `${m.module} (${describeRequirer(m.required_by)}) is not in the catalog` });
      continue;
    }
    problems.push(
      notEligible(m.module, m.required_by, m.range) ?? {
        reason: 'no_version_in_range',
        module: m.module,
        required_by: m.required_by,
        range: m.range,
        available: m.available,
        message: `${m.module} (${describeRequirer(m.required_by)}) has no version in range ${m.range}`,
      },
    );
  }
  for (const u of closure.unpromoted) {
    const problem = notEligible(u.module, u.required_by, u.range);
    if (problem !== null) problems.push(problem);
  }
  for (const c of closure.range_conflicts) {
    problems.push({
      reason: 'range_conflict',
      module: c.module,
      requirements: c.requirements,
      message: `no eligible version of ${c.module} satisfies every range at once: ${c.requirements.map((r) => `${r.range} (${describeRequirer(r.required_by)})`).join(', ')}`,
    });
  }
  for (const path of closure.cycles) problems.push({ reason: 'dependency_cycle', path, message: `dependency cycle ${path.join(' → ')}` });
  for (const i of closure.invalid) problems.push({ reason: 'invalid_requirement', module: i.module, entry: i.entry, message: i.message });
  return problems;
}

/**
 * Requirements a chosen version's own manifest states that the desired set does not meet (the record's
 * `requires` drove the closure; a newer build may need more). The version stays desired; the reason says why
 * it may fail on the instance.
 */
function unmetVersionRequirements(state: DesiredStateModel, chosen: Readonly<Record<string, DesiredModule>>, closure: DependencyClosure): UnresolvedReason[] {
  const problems: UnresolvedReason[] = [];
  const reportedInvalid = new Set(closure.invalid.map((i) => `${i.module}\u0000${i.entry}`));
  for (const [name, desired] of Object.entries(chosen)) {
    const version = state.versions[desired.module_id]?.[desired.version_id];
    for (const entry of version?.requires ?? []) {
      let target: string;
      let range: string;
      try {
        ({ module: target, range } = parseRequires(entry));
      } catch (error) {
        if (!reportedInvalid.has(`${name}\u0000${entry}`)) {
          problems.push({ reason: 'invalid_requirement', module: name, entry, message: isPowernodeError(error) ? error.message : String(error) });
        }
        continue;
      }
      const have = chosen[target]?.version_string ?? null;
      if (have !== null && semver.satisfies(have, range)) continue;
      problems.push({
        reason: 'version_requirement_unmet',
        module: name,
        version_string: desired.version_string,
        requirement: entry,
        have,
        message:
          have === null
            ? `${name} ${desired.version_string} requires ${entry}, but ${target} is not desired on this node (add it to the module's requires or the template)`
            : `${name} ${desired.version_string} requires ${entry}, but ${target} ${have} is chosen`,
      });
    }
  }
  return problems;
}
