import { templateIdFor } from '@powernode/contracts';
import { given } from '@powernode/testing';
import { templateDecider, type TemplateEvent } from './template.decider.js';
import { seedTemplateCommands } from './catalog-seed.js';
import { assignmentClosureFacts, type CatalogFacts, type ClosureFacts } from '@powernode/catalog-views';
import { BASE_TEMPLATE_ID, T0, T1 } from './catalog-fixtures.test-support.js';

const created: TemplateEvent = { type: 'TemplateCreated', data: { template_id: BASE_TEMPLATE_ID, name: 'base', description: '', created_at: T0 } };
const assigned = (module_name: string, module_id = `id-${module_name}`): TemplateEvent => ({
  type: 'ModuleAssignedToTemplate',
  data: { template_id: BASE_TEMPLATE_ID, template_name: 'base', module_id, module_name, assigned_at: T1 },
});
const none: ClosureFacts = { provides: [], cycles: [] };
const assign = (module_name: string, closure: { before: ClosureFacts; after: ClosureFacts } = { before: none, after: none }) => ({
  type: 'AssignModule' as const,
  module_name,
  module: { module_id: `id-${module_name}`, name: module_name },
  closure,
  now: T1,
});

describe('template decider: creating', () => {
  it('creates a template under its derived id', () => {
    given(templateDecider, []).when({ type: 'CreateTemplate', template_id: BASE_TEMPLATE_ID, name: 'base', now: T0 }).then([created]);
  });

  it('refuses a name already taken (already_exists)', () => {
    given(templateDecider, [created])
      .when({ type: 'CreateTemplate', template_id: BASE_TEMPLATE_ID, name: 'base', now: T1 })
      .thenRefuses({ code: 'already_exists', rule: 'template_name_unique' });
  });

  it('refuses an id not derived from the name', () => {
    given(templateDecider, [])
      .when({ type: 'CreateTemplate', template_id: templateIdFor('other'), name: 'base', now: T0 })
      .thenRefuses({ code: 'validation_failed', rule: 'template_id_derived' });
  });

  it('refuses a malformed name', () => {
    given(templateDecider, [])
      .when({ type: 'CreateTemplate', template_id: templateIdFor('Base!'), name: 'Base!', now: T0 })
      .thenRefuses({ code: 'validation_failed', rule: 'template_name_format' });
  });

  it('seeds base and hardened, and a second seeding meets already_exists', () => {
    const commands = seedTemplateCommands(T0);
    expect(commands.map((c) => [c.name, c.template_id])).toEqual([
      ['base', templateIdFor('base')],
      ['hardened', templateIdFor('hardened')],
    ]);
    for (const command of commands) {
      const events = given(templateDecider, []).when(command).events();
      expect(events).toMatchObject([{ type: 'TemplateCreated', data: { name: command.name } }]);
      given(templateDecider, events).when(command).thenRefuses({ code: 'already_exists' });
    }
  });
});

describe('template decider: assigning', () => {
  it('assigns a module by name', () => {
    given(templateDecider, [created])
      .when(assign('my-redis'))
      .then([assigned('my-redis')]);
  });

  it('refuses assigning the same module twice (already_assigned)', () => {
    given(templateDecider, [created, assigned('my-redis')])
      .when(assign('my-redis'))
      .thenRefuses({ code: 'already_assigned', rule: 'assigned_once' });
  });

  it('refuses a module that is not registered (not_found)', () => {
    given(templateDecider, [created])
      .when({ ...assign('ghost'), module: null })
      .thenRefuses({ code: 'not_found', rule: 'module_exists', message: /no module named "ghost"/ });
  });

  it('refuses assignment to a template that does not exist (not_found)', () => {
    given(templateDecider, []).when(assign('my-redis')).thenRefuses({ code: 'not_found', rule: 'template_exists' });
  });

  it('refuses a second provider of a capability (provides_conflict: apache and nginx both providing http.port:80)', () => {
    const closure = {
      before: { provides: [{ name: 'apache', provides: ['http.server', 'http.port:80'] }], cycles: [] },
      after: {
        provides: [
          { name: 'apache', provides: ['http.server', 'http.port:80'] },
          { name: 'nginx', provides: ['http.server', 'http.port:80'] },
        ],
        cycles: [],
      },
    };
    given(templateDecider, [created, assigned('apache')])
      .when(assign('nginx', closure))
      .thenRefuses({ code: 'provides_conflict', rule: 'one_provider_per_capability', message: /apache and nginx both provide http\.port:80/ });
  });

  it('does not blame a module for a conflict the template already had', () => {
    const conflicted = [
      { name: 'a', provides: ['x'] },
      { name: 'b', provides: ['x'] },
    ];
    const closure = { before: { provides: conflicted, cycles: [] }, after: { provides: [...conflicted, { name: 'c', provides: ['y'] }], cycles: [] } };
    expect(given(templateDecider, [created]).when(assign('c', closure)).events()).toHaveLength(1);
  });

  it('refuses a module that brings a dependency cycle (dependency_cycle, with its path)', () => {
    const closure = { before: none, after: { provides: [], cycles: [['a', 'b', 'a']] } };
    given(templateDecider, [created])
      .when(assign('a', closure))
      .thenRefuses({ code: 'dependency_cycle', rule: 'closure_acyclic', message: /a → b → a/ });
  });
});

describe('template decider: unassigning', () => {
  it('unassigns an assigned module', () => {
    given(templateDecider, [created, assigned('my-redis')])
      .when({ type: 'UnassignModule', module_name: 'my-redis', now: T1 })
      .then([
        {
          type: 'ModuleUnassignedFromTemplate',
          data: { template_id: BASE_TEMPLATE_ID, template_name: 'base', module_id: 'id-my-redis', module_name: 'my-redis', unassigned_at: T1 },
        },
      ]);
  });

  it('is idempotent for a module that is not assigned', () => {
    given(templateDecider, [created]).when({ type: 'UnassignModule', module_name: 'my-redis', now: T1 }).then([]);
  });

  it('lets a module be assigned again after unassigning', () => {
    const unassigned = given(templateDecider, [created, assigned('my-redis')])
      .when({ type: 'UnassignModule', module_name: 'my-redis', now: T1 })
      .events();
    given(templateDecider, [created, assigned('my-redis'), ...unassigned])
      .when(assign('my-redis'))
      .then([assigned('my-redis')]);
  });

  it('refuses unassigning from a template that does not exist', () => {
    given(templateDecider, []).when({ type: 'UnassignModule', module_name: 'x', now: T1 }).thenRefuses({ code: 'not_found' });
  });
});

describe('assignmentClosureFacts feeding AssignModule', () => {
  const spec = (provides: string[], requires: string[] = []) => ({
    mask: [],
    file_spec: [],
    package_spec: [],
    dependency_spec: [],
    protected_spec: [],
    requires,
    provides,
    priority: 0,
  });
  const live = [{ version: '1.0.0', promotion_state: 'live' as const }];
  const catalog: CatalogFacts = {
    'system-base': { name: 'system-base', category: 'system-base', spec: spec(['base.os']), versions: live },
    apache: { name: 'apache', category: 'userland', spec: spec(['http.server', 'http.port:80'], ['powernode/system-base@^1.0']), versions: live },
    nginx: { name: 'nginx', category: 'userland', spec: spec(['http.server', 'http.port:80'], ['powernode/system-base@^1.0']), versions: live },
    'web-stack': { name: 'web-stack', category: 'userland', spec: spec([], ['powernode/nginx@^1.0']), versions: live },
    'loop-a': { name: 'loop-a', category: 'userland', spec: spec([], ['x/loop-b@*']), versions: live },
    'loop-b': { name: 'loop-b', category: 'userland', spec: spec([], ['x/loop-a@*']), versions: live },
  };

  it('catches a conflict brought in transitively (web-stack requires nginx while apache is assigned)', () => {
    given(templateDecider, [created, assigned('apache')])
      .when(assign('web-stack', assignmentClosureFacts(['apache'], 'web-stack', catalog)))
      .thenRefuses({ code: 'provides_conflict', message: /apache and nginx/ });
  });

  it('catches a cycle in the closure', () => {
    given(templateDecider, [created])
      .when(assign('loop-a', assignmentClosureFacts([], 'loop-a', catalog)))
      .thenRefuses({ code: 'dependency_cycle' });
  });

  it('lets a shared dependency through (apache and system-base)', () => {
    expect(
      given(templateDecider, [created, assigned('system-base')])
        .when(assign('apache', assignmentClosureFacts(['system-base'], 'apache', catalog)))
        .events(),
    ).toHaveLength(1);
  });
});
