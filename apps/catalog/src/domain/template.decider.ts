import { PowernodeError, catalogNameSchema, templateIdFor, type CatalogEventOf } from '@powernode/contracts';
import type { ClosureFacts } from '@powernode/catalog-views';
import { findProvidesConflicts, providesConflictKey } from '@powernode/composition';
import { assertNever, type Decider } from '@powernode/events';
import { validField } from './field-validation.js';

/*
 * NodeTemplate (stream `template-<template_id>`, id = templateIdFor(name), so a name is taken once and seeding
 * is idempotent): creation and module assignment by module name. Assignment is refused when it would bring a
 * new provides conflict or a new dependency cycle into the template's closure; the handler computes the closure
 * before and after (closureFacts of @powernode/catalog-views) and passes both in.
 */

export type TemplateEvent = CatalogEventOf<'TemplateCreated'> | CatalogEventOf<'ModuleAssignedToTemplate'> | CatalogEventOf<'ModuleUnassignedFromTemplate'>;

export type TemplateCommand =
  | { type: 'CreateTemplate'; template_id: string; name: string; description?: string | null; now: string }
  | {
      type: 'AssignModule';
      module_name: string;
      /** The module registered under that name (from the modules read model), or null. */
      module: { module_id: string; name: string } | null;
      /** The template's closure without and with the module. */
      closure: { before: ClosureFacts; after: ClosureFacts };
      now: string;
    }
  | { type: 'UnassignModule'; module_name: string; now: string };

export interface TemplateRecord {
  template_id: string;
  name: string;
  description: string;
  /** Assigned modules in assignment order. */
  modules: { module_id: string; module_name: string }[];
  created_at: string;
  updated_at: string;
}

export type TemplateState = { status: 'absent' } | { status: 'active'; template: TemplateRecord };

export const templateDecider: Decider<TemplateCommand, TemplateState, TemplateEvent> = {
  initialState: () => ({ status: 'absent' }),

  decide(command, state) {
    switch (command.type) {
      case 'CreateTemplate': {
        const name = validField(catalogNameSchema, command.name, 'name', 'template_name_format');
        if (state.status === 'active') {
          throw new PowernodeError('already_exists', `a template named "${state.template.name}" already exists: pick another name`, {
            details: { template_id: state.template.template_id, name: state.template.name, rule: 'template_name_unique' },
          });
        }
        const expectedId = templateIdFor(name);
        if (command.template_id !== expectedId) {
          throw new PowernodeError(
            'validation_failed',
            `template_id ${command.template_id} is not the id of template "${name}" (expected ${expectedId}): derive it with templateIdFor`,
            {
              details: { field: 'template_id', expected: expectedId, rule: 'template_id_derived' },
            },
          );
        }
        return [{ type: 'TemplateCreated', data: { template_id: command.template_id, name, description: command.description ?? '', created_at: command.now } }];
      }
      case 'AssignModule': {
        const template = activeTemplate(state);
        if (command.module === null || command.module.name !== command.module_name) {
          throw new PowernodeError(
            'not_found',
            `no module named "${command.module_name}": register it first (system_create_module) or check system_list_modules`,
            {
              details: { module_name: command.module_name, rule: 'module_exists' },
            },
          );
        }
        if (template.modules.some((m) => m.module_name === command.module_name)) {
          throw new PowernodeError('already_assigned', `module "${command.module_name}" is already assigned to template "${template.name}"`, {
            details: { template_id: template.template_id, module_name: command.module_name, rule: 'assigned_once' },
          });
        }
        assertNoNewProvidesConflict(template, command.module_name, command.closure);
        assertNoNewCycle(template, command.module_name, command.closure);
        return [
          {
            type: 'ModuleAssignedToTemplate',
            data: {
              template_id: template.template_id,
              template_name: template.name,
              module_id: command.module.module_id,
              module_name: command.module_name,
              assigned_at: command.now,
            },
          },
        ];
      }
      case 'UnassignModule': {
        const template = activeTemplate(state);
        const assigned = template.modules.find((m) => m.module_name === command.module_name);
        if (assigned === undefined) return [];
        return [
          {
            type: 'ModuleUnassignedFromTemplate',
            data: {
              template_id: template.template_id,
              template_name: template.name,
              module_id: assigned.module_id,
              module_name: assigned.module_name,
              unassigned_at: command.now,
            },
          },
        ];
      }
      default:
        return assertNever(command);
    }
  },

  evolve(state, event) {
    switch (event.type) {
      case 'TemplateCreated': {
        const d = event.data;
        return {
          status: 'active',
          template: { template_id: d.template_id, name: d.name, description: d.description, modules: [], created_at: d.created_at, updated_at: d.created_at },
        };
      }
      case 'ModuleAssignedToTemplate':
        return state.status !== 'active'
          ? state
          : {
              status: 'active',
              template: {
                ...state.template,
                modules: [...state.template.modules, { module_id: event.data.module_id, module_name: event.data.module_name }],
                updated_at: event.data.assigned_at,
              },
            };
      case 'ModuleUnassignedFromTemplate':
        return state.status !== 'active'
          ? state
          : {
              status: 'active',
              template: {
                ...state.template,
                modules: state.template.modules.filter((m) => m.module_name !== event.data.module_name),
                updated_at: event.data.unassigned_at,
              },
            };
      default:
        return assertNever(event);
    }
  },
};

function activeTemplate(state: TemplateState): TemplateRecord {
  if (state.status === 'active') return state.template;
  throw new PowernodeError('not_found', 'no such template: list templates with system_list_templates', { details: { rule: 'template_exists' } });
}

function assertNoNewProvidesConflict(template: TemplateRecord, moduleName: string, closure: { before: ClosureFacts; after: ClosureFacts }): void {
  const before = new Set(findProvidesConflicts(closure.before.provides).map(providesConflictKey));
  const added = findProvidesConflicts(closure.after.provides).filter((c) => !before.has(providesConflictKey(c)));
  if (added.length === 0) return;
  throw new PowernodeError(
    'provides_conflict',
    `assigning "${moduleName}" to template "${template.name}" would make ${added.map((c) => `${c.modules.join(' and ')} both provide ${c.capability}`).join('; ')}: a template holds one provider per capability`,
    {
      details: {
        template_id: template.template_id,
        module_name: moduleName,
        conflicts: added.map((c) => ({ capability: c.capability, modules: c.modules })),
        rule: 'one_provider_per_capability',
      },
    },
  );
}

function assertNoNewCycle(template: TemplateRecord, moduleName: string, closure: { before: ClosureFacts; after: ClosureFacts }): void {
  const key = (path: string[]): string => [...path.slice(0, -1)].sort().join('\u0000');
  const before = new Set(closure.before.cycles.map(key));
  const added = closure.after.cycles.filter((c) => !before.has(key(c)));
  if (added.length === 0) return;
  throw new PowernodeError(
    'dependency_cycle',
    `assigning "${moduleName}" to template "${template.name}" brings in a dependency cycle: ${added.map((c) => c.join(' → ')).join('; ')}; break it in one module's requires`,
    { details: { template_id: template.template_id, module_name: moduleName, cycles: added, rule: 'closure_acyclic' } },
  );
}
