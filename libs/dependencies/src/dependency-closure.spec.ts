import type { CatalogView } from './dependency-closure.js';
import { dependencyClosure, isClosureComplete } from './dependency-closure.js';

const live = (version: string) => ({ version, promotion_state: 'live' as const });
const built = (version: string) => ({ version, promotion_state: 'built' as const });

describe('dependencyClosure', () => {
  const catalog: CatalogView = {
    'system-base': { requires: [], versions: [live('1.0.0'), live('1.2.0')] },
    'security-hardening': { requires: ['powernode/system-base@^1.0'], versions: [live('1.1.0')] },
    chrony: { requires: ['powernode/system-base@^1.0'], versions: [live('1.0.0')] },
    'my-redis': { requires: ['powernode/security-hardening@^1.0', 'powernode/system-base@~1.2'], versions: [built('0.1.0'), live('0.0.9')] },
  };

  it('orders dependencies before dependents and collapses diamonds', () => {
    const closure = dependencyClosure(['my-redis', 'chrony'], catalog);
    expect(closure.order).toEqual(['system-base', 'security-hardening', 'my-redis', 'chrony']);
    expect(closure.order.indexOf('system-base')).toBeLessThan(closure.order.indexOf('security-hardening'));
    expect(isClosureComplete(closure)).toBe(true);
  });

  it('selects the highest promoted version satisfying every range pointing at a module', () => {
    const closure = dependencyClosure(['my-redis'], catalog);
    expect(closure.selected).toEqual({ 'system-base': '1.2.0', 'security-hardening': '1.1.0', 'my-redis': '0.0.9' });
    expect(closure.edges).toContainEqual({ from: 'my-redis', to: 'system-base', range: '~1.2' });
  });

  it('reports a missing module with who required it', () => {
    const closure = dependencyClosure(['app'], { app: { requires: ['acme/ghost@^1.0'], versions: [live('1.0.0')] } });
    expect(closure.missing).toEqual([{ module: 'ghost', required_by: 'app', range: '^1.0', reason: 'module_missing', available: [] }]);
    expect(closure.order).toEqual(['app']);
    expect(isClosureComplete(closure)).toBe(false);
  });

  it('reports a missing root', () => {
    expect(dependencyClosure(['nope'], {}).missing).toEqual([{ module: 'nope', required_by: null, range: '*', reason: 'module_missing', available: [] }]);
  });

  it('reports a dependency whose versions in range are only built as unpromoted', () => {
    const closure = dependencyClosure(['app'], {
      app: { requires: ['acme/lib@^1.0'], versions: [live('1.0.0')] },
      lib: { requires: [], versions: [built('1.3.0'), live('2.0.0')] },
    });
    expect(closure.unpromoted).toEqual([{ module: 'lib', required_by: 'app', range: '^1.0', min_state: 'staging', in_range: [built('1.3.0')] }]);
    expect(closure.selected['lib']).toBeNull();
  });

  it('reports a dependency with no version in range, listing the available ones', () => {
    const closure = dependencyClosure(['app'], {
      app: { requires: ['acme/lib@^3'], versions: [live('1.0.0')] },
      lib: { requires: [], versions: [live('2.0.0'), live('1.0.0')] },
    });
    expect(closure.missing).toEqual([{ module: 'lib', required_by: 'app', range: '^3', reason: 'no_version_in_range', available: ['2.0.0', '1.0.0'] }]);
  });

  it('reports a cycle with its path, once, whichever module it is entered from', () => {
    const cyclic: CatalogView = {
      a: { requires: ['x/b@*'], versions: [live('1.0.0')] },
      b: { requires: ['x/c@*'], versions: [live('1.0.0')] },
      c: { requires: ['x/a@*'], versions: [live('1.0.0')] },
    };
    const closure = dependencyClosure(['a', 'b', 'c'], cyclic);
    expect(closure.cycles).toEqual([['a', 'b', 'c', 'a']]);
    expect(new Set(closure.order)).toEqual(new Set(['a', 'b', 'c']));
  });

  it('reports a module that requires itself as a cycle', () => {
    expect(dependencyClosure(['a'], { a: { requires: ['x/a@*'], versions: [live('1.0.0')] } }).cycles).toEqual([['a', 'a']]);
  });

  it('reports a malformed requires entry and keeps going', () => {
    const closure = dependencyClosure(['a'], {
      a: { requires: ['x/b@not-a-range', 'x/c@^1', 'no-owner@^1'], versions: [live('1.0.0')] },
      c: { requires: [], versions: [live('1.0.0')] },
    });
    expect(closure.invalid).toEqual([
      { module: 'a', entry: 'x/b@not-a-range', message: expect.stringContaining('not a semver range') },
      { module: 'a', entry: 'no-owner@^1', message: expect.stringContaining('has no owner') },
    ]);
    expect(closure.order).toEqual(['c', 'a']);
  });

  it('reports ranges that each resolve but share no promoted version', () => {
    const closure = dependencyClosure(['a', 'b'], {
      a: { requires: ['x/lib@^1'], versions: [live('1.0.0')] },
      b: { requires: ['x/lib@^2'], versions: [live('1.0.0')] },
      lib: { requires: [], versions: [live('1.5.0'), live('2.1.0')] },
    });
    expect(closure.range_conflicts).toEqual([
      {
        module: 'lib',
        requirements: [
          { required_by: 'a', range: '^1' },
          { required_by: 'b', range: '^2' },
        ],
      },
    ]);
    expect(closure.selected['lib']).toBeNull();
  });

  it('does not treat inherited object keys as modules', () => {
    expect(dependencyClosure(['constructor'], {}).missing[0]).toMatchObject({ module: 'constructor', reason: 'module_missing' });
  });
});
