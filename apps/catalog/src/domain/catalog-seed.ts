import { SEEDED_TEMPLATE_NAMES, templateIdFor } from '@powernode/contracts';
import type { TemplateCommand } from './template.decider.js';

const DESCRIPTIONS: Record<(typeof SEEDED_TEMPLATE_NAMES)[number], string> = {
  base: 'General-purpose node: assign the modules it should run',
  hardened: 'Node with the security-hardening baseline: assign security-hardening and the modules it should run',
};

/**
 * The CreateTemplate commands that seed the catalog (templates `base` and `hardened`). Ids derive from the
 * names, so running the seed again meets `already_exists`, which the seeding step treats as done.
 */
export function seedTemplateCommands(now: string): Extract<TemplateCommand, { type: 'CreateTemplate' }>[] {
  return SEEDED_TEMPLATE_NAMES.map((name) => ({ type: 'CreateTemplate', template_id: templateIdFor(name), name, description: DESCRIPTIONS[name], now }));
}
