import { isPowernodeError } from '@powernode/contracts';
import { GLOB_LIMITS, OverlapBudget } from '@powernode/globs';
import { composePreview } from './compose-preview.js';
import { findProtectedOverlaps, type ProtectedPathSource } from './protected-overlaps.js';

// Protected-path overlaps are computed on compose_preview and on assign from globs module authors wrote: their
// cost is bounded by one budget per composition, and running out of it refuses the composition by name.

const heavy = (tail: string) => `/${'*a'.repeat(32)}${'a'.repeat(300)}${tail}`;

describe('findProtectedOverlaps work bound', () => {
  test('refuses, naming both modules and globs, when the overlap checks exceed their budget', () => {
    const modules: ProtectedPathSource[] = [
      { name: 'claimer', protected_spec: [1, 2, 3, 4].map((i) => heavy(`X${i}`)) },
      { name: 'neighbour', protected_spec: [], file_spec: [1, 2, 3, 4].map((i) => heavy(`Y${i}`)) },
    ];
    let caught: unknown;
    try {
      composePreview({ modules: modules.map((m) => ({ ...m, category: 'application', priority: 0, mask: [] })), categories: ['application'] });
    } catch (error) {
      caught = error;
    }
    expect(isPowernodeError(caught) && caught.code).toBe('validation_failed');
    const error = caught as Error & { details: Record<string, unknown> };
    expect(error.message).toMatch(
      new RegExp(
        `^cannot decide whether claimer's protected_spec "/\\*a.*X\\d" overlaps neighbour's file_spec "/\\*a.*Y\\d" within ${GLOB_LIMITS.maxOverlapStates} automaton states \\(limit overlap_states, for the whole composition\\)`,
      ),
    );
    expect(error.details).toMatchObject({
      claimer: 'claimer',
      other: 'neighbour',
      other_field: 'file_spec',
      limit: 'overlap_states',
      max: GLOB_LIMITS.maxOverlapStates,
    });
  });

  test('a pair of globs shared by several modules is decided, and charged, once', () => {
    const claimer = { name: 'a', protected_spec: ['/etc/ssh/sshd_config', '*.conf'] };
    const shipper = (name: string) => ({ name, protected_spec: [], file_spec: ['/etc/**', '/usr/lib/**'] });
    const once = new OverlapBudget();
    const conflictsOnce = findProtectedOverlaps([claimer, shipper('b')], once);
    const thrice = new OverlapBudget();
    const conflictsThrice = findProtectedOverlaps([claimer, shipper('b'), shipper('c'), shipper('d')], thrice);
    expect(conflictsOnce.map((c) => [c.claimer, c.other])).toEqual([['a', 'b']]);
    expect(conflictsThrice.map((c) => [c.claimer, c.other])).toEqual([
      ['a', 'b'],
      ['a', 'c'],
      ['a', 'd'],
    ]);
    expect(once.spent).toBeGreaterThan(0);
    expect(thrice.spent).toBe(once.spent);
  });
});
