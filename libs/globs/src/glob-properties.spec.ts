import fc from 'fast-check';
import { compileGlob, globsMayOverlap, globsShareAPath, GlobSyntaxError, OverlapBudget, parseGlob, type GlobToken, type MatchMeter } from './index.js';

// Property tests of the glob matcher and the overlap check on small random globs and paths: the matcher agrees
// with a reference matcher (rsync semantics as a regular expression, the way globs were matched before the
// linear-time matcher), stays within its step bound, and the overlap check agrees with brute force over a small
// alphabet. fast-check runs a fixed number of cases from a seed it prints on failure.

/** The reference: the glob as a regular expression, evaluated by the JavaScript regex engine. */
function referenceMatcher(pattern: string): (path: string, isDir: boolean) => boolean {
  const parsed = parseGlob(pattern);
  const codePointRegex = (codePoint: number) => `\\u{${codePoint.toString(16)}}`;
  const tokenRegex = (token: GlobToken): string => {
    switch (token.kind) {
      case 'literal':
        return codePointRegex(token.codePoint);
      case 'any_char':
        return '[^/]';
      case 'star':
        return '[^/]*';
      case 'globstar':
        return '.*';
      case 'class': {
        const members = token.ranges.map(([lo, hi]) => (lo === hi ? codePointRegex(lo) : `${codePointRegex(lo)}-${codePointRegex(hi)}`)).join('');
        if (token.negated) return `[^/${members}]`;
        return members === '' ? '(?!)' : `(?!/)[${members}]`;
      }
    }
  };
  const body = parsed.tokens.map(tokenRegex).join('');
  const regex = new RegExp(parsed.matchesWholePath ? `^${body}$` : `(?:^|/)${body}$`, 'su');
  return (path, isDir) => {
    if (parsed.directoryOnly && !isDir) return false;
    const relative = path.startsWith('/') ? path.slice(1) : path;
    if (relative === '') return false;
    return regex.test(`${parsed.leadingGlobstar ? '/' : ''}${relative}${parsed.trailingTripleStar && isDir ? '/' : ''}`);
  };
}

function compiles(pattern: string): boolean {
  try {
    compileGlob(pattern);
    return true;
  } catch (error) {
    if (error instanceof GlobSyntaxError) return false;
    throw error;
  }
}

/** Random globs from rsync's pattern pieces (some combinations are invalid and filtered out). */
function globArbitrary(pieces: readonly string[], maxPieces: number): fc.Arbitrary<string> {
  return fc
    .tuple(fc.boolean(), fc.array(fc.constantFrom(...pieces), { minLength: 1, maxLength: maxPieces }), fc.boolean())
    .map(([anchored, body, dirOnly]) => `${anchored ? '/' : ''}${body.join('')}${dirOnly ? '/' : ''}`)
    .filter(compiles);
}

const MATCH_PIECES = ['a', 'b', '/', '*', '**', '***', '?', '[ab]', '[!a]', '[^b]', '[a-c]', '[[:alpha:]]', '[]a]', '\\*', '\\?', 'é', '😀', '.'] as const;
const PATH_CHARS = ['a', 'b', 'c', '/', '*', '?', 'é', '😀', '.', ']'] as const;
const pathArbitrary = fc.array(fc.constantFrom(...PATH_CHARS), { maxLength: 12 }).map((chars) => `/${chars.join('')}`);

describe('glob matcher properties', () => {
  test('agrees with the reference matcher on small random globs and paths', () => {
    fc.assert(
      fc.property(globArbitrary(MATCH_PIECES, 7), pathArbitrary, fc.boolean(), (pattern, path, isDir) => {
        expect([pattern, path, isDir, compileGlob(pattern).match(path, isDir)]).toEqual([pattern, path, isDir, referenceMatcher(pattern)(path, isDir)]);
      }),
      { numRuns: 3000 },
    );
  });

  test('agrees with the reference matcher on paths built from the glob itself (where matches are likely)', () => {
    const patternAndPath = globArbitrary(MATCH_PIECES, 7).chain((pattern) =>
      fc
        .array(fc.constantFrom(...pattern.replace(/[*?[\]\\!^:]/g, ''), 'a', 'b', '/'), { maxLength: 14 })
        .map((chars) => [pattern, `/${chars.join('')}`] as const),
    );
    fc.assert(
      fc.property(patternAndPath, fc.boolean(), ([pattern, path], isDir) => {
        expect(compileGlob(pattern).match(path, isDir)).toBe(referenceMatcher(pattern)(path, isDir));
      }),
      { numRuns: 2000 },
    );
  });

  test('never takes more than (tokens + 2) × (characters + 2) steps', () => {
    const longPath = fc.array(fc.constantFrom(...PATH_CHARS), { maxLength: 200 }).map((chars) => `/${chars.join('')}`);
    fc.assert(
      fc.property(globArbitrary(MATCH_PIECES, 30), longPath, fc.boolean(), (pattern, path, isDir) => {
        const glob = compileGlob(pattern);
        const meter: MatchMeter = { steps: 0 };
        glob.match(path, isDir, meter);
        expect(meter.steps).toBeLessThanOrEqual((glob.tokens.length + 2) * ([...path].length + 2));
      }),
      { numRuns: 500 },
    );
  });
});

describe('glob overlap properties', () => {
  // Every path over a three-letter alphabet up to seven characters after the leading "/" (non-normalised
  // strings such as "/a//b" included: the overlap check reasons about strings, see glob-overlap.ts). Globs of
  // at most three pieces that meet at all meet within this length.
  const ALPHABET = ['a', 'b', '/'];
  const paths: string[] = [];
  for (let length = 1, layer = ['/']; length <= 7; length++) {
    layer = layer.flatMap((s) => ALPHABET.map((c) => s + c));
    paths.push(...layer);
  }

  /** The paths of the universe a glob selects, as a file or as a directory (overlap ignores the difference). */
  const selectedCache = new Map<string, Set<string>>();
  function selected(pattern: string): Set<string> {
    let result = selectedCache.get(pattern);
    if (result === undefined) {
      const glob = compileGlob(pattern);
      result = new Set(paths.filter((p) => glob.match(p, false) || glob.match(p, true)));
      selectedCache.set(pattern, result);
    }
    return result;
  }

  /** `path` itself and every path it lies below ("/a/b" → "/a/b", "/a"; "/a//b" → also "/a/"). */
  function selfAndAncestors(path: string): string[] {
    const result = [path];
    for (let i = 1; i < path.length - 1; i++) if (path[i] === '/') result.push(path.slice(0, i));
    return result;
  }

  const OVERLAP_PIECES = ['a', 'b', '/', '*', '**', '?', '[!a]', '/***'] as const;
  const smallGlob = globArbitrary(OVERLAP_PIECES, 3);

  test('globsShareAPath is true exactly when some path is selected by both globs', () => {
    fc.assert(
      fc.property(smallGlob, smallGlob, (a, b) => {
        const inB = selected(b);
        const witness = [...selected(a)].some((p) => inB.has(p));
        expect([a, b, globsShareAPath(a, b)]).toEqual([a, b, witness]);
      }),
      { numRuns: 400 },
    );
  });

  test('globsMayOverlap is true exactly when a path of one is at or below a path of the other', () => {
    fc.assert(
      fc.property(smallGlob, smallGlob, (a, b) => {
        const inA = selected(a);
        const inB = selected(b);
        const witness = [...inB].some((q) => selfAndAncestors(q).some((p) => inA.has(p))) || [...inA].some((p) => selfAndAncestors(p).some((q) => inB.has(q)));
        expect([a, b, globsMayOverlap(a, b)]).toEqual([a, b, witness]);
      }),
      { numRuns: 400 },
    );
  });

  test('is symmetric and spends a bounded, repeatable number of states', () => {
    fc.assert(
      fc.property(globArbitrary(OVERLAP_PIECES, 12), globArbitrary(OVERLAP_PIECES, 12), (a, b) => {
        const first = new OverlapBudget();
        const again = new OverlapBudget();
        expect(globsMayOverlap(a, b, first)).toBe(globsMayOverlap(b, a));
        globsMayOverlap(a, b, again);
        expect(again.spent).toBe(first.spent);
        // Two searches of a product automaton of at most 2 × (states of a) × (states of b) states each, where a
        // glob's automaton has at most its tokens + 5 states.
        const size = (pattern: string) => compileGlob(pattern).tokens.length + 5;
        expect(first.spent).toBeLessThanOrEqual(4 * size(a) * size(b));
      }),
      { numRuns: 500 },
    );
  });
});
