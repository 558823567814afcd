import semver from 'semver';
import { isPowernodeError, parseRequires, PowernodeError, type NodeChannel, type PromotionState } from '@powernode/contracts';
import { dependencyClosure, isPromotedAtLeast, type CatalogView, type DependencyClosure } from '@powernode/dependencies';
import { entryOf } from '@powernode/events';
import type { DesiredStateModel, ModuleFacts, VersionFacts } from './desired-state.projection.js';

/*
 * What an instance should run, computed from the desired-state fold (./desired-state.projection.ts) each time
 * it is asked.
 *
 * The rule for one node: take its template's assigned modules, close them over `requires` (the module record's
 * spec, the same lists the catalog checks when a module is assigned), and for every module pick the highest
 * semver version that is cosign-verified, not retired, and promoted at least as far as the node's channel
 * (built < staging < blessed < live), within every range that points at the module. Whatever cannot be chosen
 * is listed in `unresolved` with its reason, and is not desired.
 */

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
    throw new PowernodeError('not_found', `node ${nodeId} not found: create it with system_create_node`, {
      details: { node_id: nodeId, rule: 'node_must_exist' },
    });
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
      problems.push({
        reason: 'module_missing',
        module: m.module,
        required_by: m.required_by,
        range: m.range,
        message: `${m.module} (${describeRequirer(m.required_by)}) is not in the catalog`,
      });
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
