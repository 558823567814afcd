import { createHash } from 'node:crypto';
import { SEEDED_MODULE_CATEGORIES, canonicalJson, type AgentDesiredModule, type AgentDesiredState } from '@powernode/contracts';
import { composePreview, type ComposableModule, type CompositionConflict } from '@powernode/composition';
import { assertNever } from '@powernode/events';
import type { DesiredModules, UnresolvedReason } from './desired-modules.js';
import { NO_INIT, type ModuleCompositionModel } from './module-composition.projection.js';

/*
 * The desired state as the agent receives it (`provisioner.agent.desired`, GET /api/v1/agent/desired): every
 * module of the node's desired set with the version to run, its layer priority and effective mask among the
 * other modules of the same set, and its init commands. `generation` names the set: the agent reconciles when
 * it differs from the generation it last composed, and every heartbeat answer carries the current one.
 */

type AgentUnresolved = AgentDesiredState['unresolved'][number];

/** The agent's desired state of one instance, from its node's desired modules and the modules' composition facts. */
export function agentDesiredState(
  instanceId: string,
  desired: DesiredModules,
  composition: ModuleCompositionModel,
  categories: readonly string[] = SEEDED_MODULE_CATEGORIES,
): AgentDesiredState {
  const composable: ComposableModule[] = Object.entries(desired.modules).map(([name, module]) => {
    const spec = composition.modules[module.module_id];
    return {
      name,
      category: module.category,
      priority: module.priority,
      mask: spec?.mask ?? [],
      protected_spec: spec?.protected_spec ?? [],
      provides: spec?.provides ?? [],
    };
  });
  const preview = composePreview({ modules: composable, categories });
  // Bottom layer first, as the agent stacks them.
  const modules: AgentDesiredModule[] = preview.layers.map((layer) => {
    const module = desired.modules[layer.module]!;
    return {
      module_name: layer.module,
      version_id: module.version_id,
      version_string: module.version_string,
      oci_ref: module.oci_ref,
      oci_digest: module.oci_digest,
      composefs_digest: module.composefs_digest,
      priority: layer.priority,
      effective_mask: layer.effective_mask,
      init: { ...(composition.init[module.version_id] ?? NO_INIT) },
    };
  });
  const unresolved: AgentUnresolved[] = [
    ...desired.unresolved.map(agentUnresolved),
    ...preview.conflicts.filter((c) => c.severity === 'error').map(conflictUnresolved),
  ];
  return { instance_id: instanceId, generation: desiredGeneration(modules), modules, unresolved };
}

/**
 * `sha256:<hex>` of the canonical JSON of the desired modules (sorted keys, layer order kept): the same set
 * always has the same generation, and any change of version, digest, mask, priority or init changes it.
 */
export function desiredGeneration(modules: readonly AgentDesiredModule[]): string {
  return `sha256:${createHash('sha256').update(canonicalJson(modules)).digest('hex')}`;
}

function agentUnresolved(reason: UnresolvedReason): AgentUnresolved {
  switch (reason.reason) {
    case 'template_missing':
      return { module_name: reason.template_id, code: reason.reason, message: reason.message };
    case 'dependency_cycle':
      return { module_name: reason.path[0] ?? '', code: reason.reason, message: reason.message };
    case 'module_missing':
    case 'no_version_in_range':
    case 'no_eligible_version':
    case 'range_conflict':
    case 'invalid_requirement':
    case 'version_requirement_unmet':
      return { module_name: reason.module, code: reason.reason, message: reason.message };
    default:
      return assertNever(reason);
  }
}

function conflictUnresolved(conflict: CompositionConflict): AgentUnresolved {
  switch (conflict.kind) {
    case 'provides_conflict':
      return { module_name: conflict.modules[0] ?? '', code: conflict.kind, message: conflict.detail };
    case 'protected_overlap':
      return { module_name: conflict.claimer, code: conflict.kind, message: conflict.detail };
    default:
      return assertNever(conflict);
  }
}
