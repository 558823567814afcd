import { SEEDED_MODULE_CATEGORIES } from '@powernode/contracts';
import type { ComposableModule } from './compose-preview.js';
import { composePreview } from './compose-preview.js';
import { effectiveMask } from './effective-mask.js';
import { effectivePriority } from './layer-priority.js';
import { findProvidesConflicts } from './provides-conflicts.js';

const categories = SEEDED_MODULE_CATEGORIES;

// Shapes of the reference example modules (system-base, security-hardening, chrony, apache, nginx), trimmed.
const systemBase: ComposableModule = {
  name: 'system-base',
  category: 'system-base',
  priority: 0,
  mask: ['/var/cache/apt/**', '/usr/share/doc/**'],
  protected_spec: ['/etc/shadow', '/etc/ssh/sshd_config'],
  file_spec: ['/etc/**', '/usr/bin/**'],
  provides: ['base.os', 'sshd'],
};
const hardening: ComposableModule = {
  name: 'security-hardening',
  category: 'security-hardening',
  priority: 0,
  mask: ['/var/log/**'],
  protected_spec: ['/etc/sysctl.d/99-powernode-baseline.conf'],
  file_spec: ['/etc/sysctl.d/**'],
  provides: ['security.baseline'],
};
const chrony: ComposableModule = {
  name: 'chrony',
  category: 'userland',
  priority: 30,
  mask: ['/var/log/chrony/**'],
  protected_spec: ['/etc/chrony/chrony.conf'],
  file_spec: ['/etc/chrony/**', '/usr/sbin/chronyd'],
  provides: ['time.sync'],
};
const apache: ComposableModule = {
  name: 'apache',
  category: 'userland',
  priority: 50,
  mask: ['/var/log/apache2/**'],
  protected_spec: [],
  file_spec: ['/etc/apache2/**', '/var/www/**'],
  provides: ['http.server', 'http.port:80'],
};
const nginx: ComposableModule = { ...apache, name: 'nginx', mask: ['/var/log/nginx/**'], file_spec: ['/etc/nginx/**', '/var/www/**'] };

describe('layer priority', () => {
  it('is category position × 1000 + module priority (userland is position 5: 5007)', () => {
    expect(effectivePriority('userland', 7, categories)).toBe(5007);
    expect(effectivePriority('system-base', 0, categories)).toBe(1000);
  });

  it.each([
    [1000, 'priority_in_category_band'],
    [-1, 'priority_in_category_band'],
    [1.5, 'priority_in_category_band'],
  ])('refuses module priority %s', (priority, rule) => {
    expect(() => effectivePriority('userland', priority, categories)).toThrow(
      expect.objectContaining({ code: 'validation_failed', details: expect.objectContaining({ rule }) }),
    );
  });

  it('refuses a category outside the list', () => {
    expect(() => effectivePriority('games', 0, categories)).toThrow(
      expect.objectContaining({ code: 'validation_failed', details: expect.objectContaining({ rule: 'category_known' }) }),
    );
  });
});

describe('effectiveMask', () => {
  const low = { name: 'low', priority: 1000, mask: ['/low-mask'], protected_spec: ['/low-protected'] };
  const high = { name: 'high', priority: 5000, mask: ['/high-mask'], protected_spec: ['/high-protected'] };
  const peer = { name: 'peer', priority: 1000, mask: ['/peer-mask'], protected_spec: ['/peer-protected'] };

  it('folds a higher neighbour’s protected_spec and mask into a lower module', () => {
    expect(effectiveMask(low, [low, high])).toEqual(['/high-mask', '/high-protected', '/low-mask']);
  });

  it('folds a lower neighbour’s protected_spec but not its mask into a higher module', () => {
    expect(effectiveMask(high, [low, high])).toEqual(['/high-mask', '/low-protected']);
  });

  it('shares only protected_spec between equal-priority peers', () => {
    expect(effectiveMask(low, [low, peer])).toEqual(['/low-mask', '/peer-protected']);
  });

  it('never masks a module’s own protected paths', () => {
    expect(effectiveMask(low, [low, high, peer])).not.toContain('/low-protected');
  });

  it('removes duplicates and sorts', () => {
    expect(effectiveMask({ ...low, mask: ['/b', '/a', '/b'] }, [{ ...high, mask: ['/a'], protected_spec: [] }])).toEqual(['/a', '/b']);
  });
});

describe('composePreview', () => {
  it('orders layers bottom-up by priority, ties by name', () => {
    const preview = composePreview({ modules: [chrony, nginx, systemBase, hardening, { ...apache, priority: 30, provides: [] }], categories });
    expect(preview.layers.map((l) => [l.module, l.priority])).toEqual([
      ['system-base', 1000],
      ['security-hardening', 4000],
      ['apache', 5030],
      ['chrony', 5030],
      ['nginx', 5050],
    ]);
  });

  it('gives each layer its effective mask', () => {
    const preview = composePreview({ modules: [systemBase, hardening, chrony], categories });
    const mask = Object.fromEntries(preview.layers.map((l) => [l.module, l.effective_mask]));
    expect(mask['system-base']).toEqual([
      '/etc/chrony/chrony.conf',
      '/etc/sysctl.d/99-powernode-baseline.conf',
      '/usr/share/doc/**',
      '/var/cache/apt/**',
      '/var/log/**',
      '/var/log/chrony/**',
    ]);
    expect(mask['chrony']).toEqual(['/etc/shadow', '/etc/ssh/sshd_config', '/etc/sysctl.d/99-powernode-baseline.conf', '/var/log/chrony/**']);
  });

  it('reports apache and nginx both providing http.port:80 as a provides conflict', () => {
    const preview = composePreview({ modules: [systemBase, apache, nginx], categories });
    const provides = preview.conflicts.filter((c) => c.kind === 'provides_conflict');
    expect(provides).toEqual([
      expect.objectContaining({ capability: 'http.port:80', modules: ['apache', 'nginx'], severity: 'error' }),
      expect.objectContaining({ capability: 'http.server', modules: ['apache', 'nginx'] }),
    ]);
  });

  it('reports a protected path another module’s file_spec covers, in both priority directions', () => {
    const preview = composePreview({ modules: [systemBase, chrony], categories });
    expect(preview.conflicts).toEqual([
      expect.objectContaining({
        kind: 'protected_overlap',
        severity: 'warning',
        claimer: 'chrony',
        other: 'system-base',
        overlaps: [{ protected: '/etc/chrony/chrony.conf', other_path: '/etc/**', other_field: 'file_spec' }],
      }),
    ]);
    const sshOverride: ComposableModule = { name: 'ssh-tweaks', category: 'userland', priority: 0, mask: [], protected_spec: [], file_spec: ['/etc/ssh/**'] };
    const upward = composePreview({ modules: [systemBase, sshOverride], categories });
    expect(upward.conflicts).toEqual([
      expect.objectContaining({
        claimer: 'system-base',
        other: 'ssh-tweaks',
        overlaps: [{ protected: '/etc/ssh/sshd_config', other_path: '/etc/ssh/**', other_field: 'file_spec' }],
      }),
    ]);
  });

  it('checks the shipped file list when it is known', () => {
    const shipsShadow: ComposableModule = {
      name: 'bad-users',
      category: 'userland',
      priority: 0,
      mask: [],
      protected_spec: [],
      files: ['/etc/shadow', '/etc/motd'],
    };
    const preview = composePreview({ modules: [systemBase, shipsShadow], categories });
    expect(preview.conflicts).toEqual([
      expect.objectContaining({
        claimer: 'system-base',
        other: 'bad-users',
        overlaps: [{ protected: '/etc/shadow', other_path: '/etc/shadow', other_field: 'files' }],
      }),
    ]);
  });

  it('reports two modules protecting the same path once, as an error', () => {
    const a: ComposableModule = { name: 'a', category: 'userland', priority: 0, mask: [], protected_spec: ['/etc/app/**'] };
    const b: ComposableModule = { name: 'b', category: 'userland', priority: 1, mask: [], protected_spec: ['/etc/app/key.pem'] };
    const preview = composePreview({ modules: [b, a], categories });
    expect(preview.conflicts).toEqual([
      expect.objectContaining({
        kind: 'protected_overlap',
        severity: 'error',
        claimer: 'a',
        other: 'b',
        overlaps: [{ protected: '/etc/app/**', other_path: '/etc/app/key.pem', other_field: 'protected_spec' }],
      }),
    ]);
  });

  it('has no conflicts for disjoint modules', () => {
    expect(composePreview({ modules: [hardening, apache], categories }).conflicts).toEqual([]);
  });

  it('refuses a module listed twice', () => {
    expect(() => composePreview({ modules: [apache, apache], categories })).toThrow(
      expect.objectContaining({ code: 'validation_failed', details: expect.objectContaining({ rule: 'module_once_per_composition' }) }),
    );
  });

  it('refuses a module in an unknown category', () => {
    expect(() => composePreview({ modules: [{ ...apache, category: 'games' }], categories })).toThrow(expect.objectContaining({ code: 'validation_failed' }));
  });
});

describe('findProvidesConflicts', () => {
  it('lists each shared capability once with all claimants', () => {
    expect(
      findProvidesConflicts([
        { name: 'c', provides: ['x'] },
        { name: 'a', provides: ['x', 'y'] },
        { name: 'b', provides: ['x'] },
        { name: 'd', provides: ['y', 'z'] },
      ]).map((c) => [c.capability, c.modules]),
    ).toEqual([
      ['x', ['a', 'b', 'c']],
      ['y', ['a', 'd']],
    ]);
  });

  it('does not count one module listing a capability twice', () => {
    expect(findProvidesConflicts([{ name: 'a', provides: ['x', 'x'] }])).toEqual([]);
  });
});
