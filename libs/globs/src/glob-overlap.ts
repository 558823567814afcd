import { compileGlob, type CompiledGlob } from './compile-glob.js';
import { OverlapBudget } from './glob-limits.js';
import { normalizeRanges, SLASH, type CodePointRange, type GlobToken, type ParsedGlob } from './glob-pattern.js';

/*
 * Overlap reasoning between two globs, used to detect protected-path conflicts (a module's protected_spec
 * against a neighbour's file_spec) and a module's own spec contradictions. Each glob becomes a small NFA over
 * characters; two globs share a path exactly when the product automaton reaches a pair of accepting states.
 * The answer is exact for the path *strings* both globs accept, and errs towards "overlap" where the file
 * system adds information: a directory-only glob (`dir/`) is treated as if it also matched a file of that
 * name, and strings that are not normalised paths (`a//b`) count.
 * The product has up to 2 × (states of a) × (states of b) states, so every search charges an OverlapBudget for
 * each state it explores and is refused, never answered "disjoint", when the budget runs out.
 */

/** A set of characters: `ranges` when positive, everything except `ranges` when negated. */
interface CharSet {
  readonly negated: boolean;
  readonly ranges: readonly CodePointRange[];
}

const MAX_CODE_POINT = 0x10ffff;
const ANY: CharSet = { negated: true, ranges: [] };
const NOT_SLASH: CharSet = { negated: true, ranges: [[SLASH, SLASH]] };
const ONLY_SLASH: CharSet = { negated: false, ranges: [[SLASH, SLASH]] };

interface Nfa {
  readonly start: number;
  readonly accepting: ReadonlySet<number>;
  readonly edges: ReadonlyArray<ReadonlyArray<{ readonly on: CharSet; readonly to: number }>>;
  readonly epsilon: ReadonlyArray<readonly number[]>;
}

class NfaBuilder {
  readonly edges: { on: CharSet; to: number }[][] = [];
  readonly epsilon: number[][] = [];

  state(): number {
    this.edges.push([]);
    this.epsilon.push([]);
    return this.edges.length - 1;
  }

  edge(from: number, on: CharSet, to: number): void {
    (this.edges[from] as { on: CharSet; to: number }[]).push({ on, to });
  }

  free(from: number, to: number): void {
    (this.epsilon[from] as number[]).push(to);
  }
}

function tokenSet(token: Exclude<GlobToken, { kind: 'star' } | { kind: 'globstar' }>): CharSet {
  switch (token.kind) {
    case 'literal':
      return { negated: false, ranges: [[token.codePoint, token.codePoint]] };
    case 'any_char':
      return NOT_SLASH;
    case 'class':
      return token.negated
        ? { negated: true, ranges: normalizeRanges([...token.ranges, [SLASH, SLASH]]) }
        : { negated: false, ranges: subtractRanges(token.ranges, [[SLASH, SLASH]]) };
    default: {
      const unreachable: never = token;
      return unreachable;
    }
  }
}

// Callers compare one compiled glob with many others (every neighbour's file_spec): build its automata once.
const nfaCache = new WeakMap<ParsedGlob, { plain?: Nfa; withSubtrees?: Nfa }>();

function cachedGlobNfa(glob: ParsedGlob, withSubtrees: boolean): Nfa {
  let entry = nfaCache.get(glob);
  if (entry === undefined) {
    entry = {};
    nfaCache.set(glob, entry);
  }
  const key = withSubtrees ? 'withSubtrees' : 'plain';
  return (entry[key] ??= globNfa(glob, withSubtrees));
}

/** The NFA of the relative path strings (no leading `/`) a glob matches; `withSubtrees` adds everything below them. */
function globNfa(glob: ParsedGlob, withSubtrees: boolean): Nfa {
  const b = new NfaBuilder();
  const start = b.state();
  let current = b.state();
  b.free(start, current);
  if (!glob.matchesWholePath) {
    // Any number of leading components: ( .* "/" )?
    const prefix = b.state();
    b.free(start, prefix);
    b.edge(prefix, ANY, prefix);
    b.edge(prefix, ONLY_SLASH, current);
  }
  for (const token of glob.tokens) {
    if (token.kind === 'star' || token.kind === 'globstar') {
      const loop = b.state();
      b.free(current, loop);
      b.edge(loop, token.kind === 'star' ? NOT_SLASH : ANY, loop);
      current = loop;
    } else {
      const next = b.state();
      b.edge(current, tokenSet(token), next);
      current = next;
    }
  }
  let accepting = new Set([current]);
  // "dir/***" also matches the directory "dir" (its path plus "/" is matched); ignoring whether an entry is a
  // directory keeps the answer on the side of "overlap".
  if (glob.trailingTripleStar) accepting = new Set([...accepting, ...rightQuotientBySlash(b, accepting)]);
  if (glob.leadingGlobstar) leftQuotientBySlash(b, start);
  if (withSubtrees) {
    const slash = b.state();
    const below = b.state();
    for (const state of accepting) b.edge(state, ONLY_SLASH, slash);
    b.edge(slash, ANY, below);
    b.edge(below, ANY, below);
    accepting = new Set([...accepting, below]);
  }
  return { start, accepting, edges: b.edges, epsilon: b.epsilon };
}

function closure(epsilon: ReadonlyArray<readonly number[]>, state: number): Set<number> {
  const seen = new Set([state]);
  const todo = [state];
  while (todo.length > 0) {
    for (const next of epsilon[todo.pop() as number] ?? []) {
      if (!seen.has(next)) {
        seen.add(next);
        todo.push(next);
      }
    }
  }
  return seen;
}

// The states from which "/" leads to acceptance: accepting them accepts every s with s + "/" accepted.
function rightQuotientBySlash(b: NfaBuilder, accepting: ReadonlySet<number>): Set<number> {
  const result = new Set<number>();
  for (let state = 0; state < b.edges.length; state++) {
    for (const from of closure(b.epsilon, state)) {
      for (const { on, to } of b.edges[from] ?? []) {
        if (!contains(on, SLASH)) continue;
        if ([...closure(b.epsilon, to)].some((s) => accepting.has(s))) result.add(state);
      }
    }
  }
  return result;
}

// Makes the automaton accept s when it accepted "/" + s: rsync matches a pattern starting with "**" against the
// path with a "/" in front. `start` only has free moves, so it is enough to redirect them to wherever a "/"
// leads from it.
function leftQuotientBySlash(b: NfaBuilder, start: number): void {
  const targets = new Set<number>();
  for (const from of closure(b.epsilon, start)) {
    for (const { on, to } of b.edges[from] ?? []) if (contains(on, SLASH)) targets.add(to);
  }
  b.epsilon[start] = [...targets];
}

function contains(set: CharSet, codePoint: number): boolean {
  const inRanges = set.ranges.some(([lo, hi]) => codePoint >= lo && codePoint <= hi);
  return set.negated ? !inRanges : inRanges;
}

function subtractRanges(from: readonly CodePointRange[], minus: readonly CodePointRange[]): CodePointRange[] {
  let current: CodePointRange[] = normalizeRanges(from);
  for (const [mlo, mhi] of minus) {
    const next: CodePointRange[] = [];
    for (const [lo, hi] of current) {
      if (mhi < lo || mlo > hi) next.push([lo, hi]);
      else {
        if (lo < mlo) next.push([lo, mlo - 1]);
        if (hi > mhi) next.push([mhi + 1, hi]);
      }
    }
    current = next;
  }
  return current;
}

/** True when some code point lies in both sets; allocation-free, as it runs for every pair of product edges. */
function intersects(a: CharSet, b: CharSet): boolean {
  if (!a.negated && !b.negated) return rangesMeet(a.ranges, b.ranges);
  if (!a.negated) return !rangesCover(b.ranges, a.ranges);
  if (!b.negated) return !rangesCover(a.ranges, b.ranges);
  // Two complements meet unless their ranges together cover every code point: never when they exclude fewer
  // code points than there are, the common case (`*` against `**`), decided without allocating.
  let excluded = 0;
  for (let i = 0; i < a.ranges.length; i++) excluded += (a.ranges[i] as CodePointRange)[1] - (a.ranges[i] as CodePointRange)[0] + 1;
  for (let j = 0; j < b.ranges.length; j++) excluded += (b.ranges[j] as CodePointRange)[1] - (b.ranges[j] as CodePointRange)[0] + 1;
  return excluded <= MAX_CODE_POINT || subtractRanges([[0, MAX_CODE_POINT]], [...a.ranges, ...b.ranges]).length > 0;
}

// The functions below run for every explored product state: indexed loops, no destructuring or iterators, so
// that they allocate nothing even before the engine has optimised them.

/** True when two sorted, merged range lists share a code point. */
function rangesMeet(a: readonly CodePointRange[], b: readonly CodePointRange[]): boolean {
  let i = 0;
  let j = 0;
  while (i < a.length && j < b.length) {
    const ra = a[i] as CodePointRange;
    const rb = b[j] as CodePointRange;
    if (ra[1] < rb[0]) i++;
    else if (rb[1] < ra[0]) j++;
    else return true;
  }
  return false;
}

/** True when the sorted, merged ranges `cover` include every code point of the sorted, merged `ranges`. */
function rangesCover(cover: readonly CodePointRange[], ranges: readonly CodePointRange[]): boolean {
  let j = 0;
  for (let i = 0; i < ranges.length; i++) {
    const r = ranges[i] as CodePointRange;
    while (j < cover.length && (cover[j] as CodePointRange)[1] < r[0]) j++;
    const c = cover[j];
    if (c === undefined || c[0] > r[0] || c[1] < r[1]) return false;
  }
  return true;
}

/**
 * True when some non-empty string is accepted by both automata (depth-first search of the product automaton).
 * The empty string is the module root, which no glob selects; a product state records whether a character
 * has been read yet.
 */
function intersectionIsInhabited(a: Nfa, b: Nfa, budget: OverlapBudget, names: readonly [string, string]): boolean {
  const width = b.edges.length;
  // One byte per product state: at most 2 × (states of a) × (states of b), which the glob limits keep small.
  // Keys stay far below 2^31 for the same reason, so integer operations on them are exact.
  const seen = new Uint8Array(a.edges.length * width * 2);
  const todo: number[] = [];
  const visit = (x: number, y: number, read: number): void => {
    const key = ((x * width + y) << 1) | read;
    if (seen[key] === 0) {
      seen[key] = 1;
      todo.push(key);
    }
  };
  visit(a.start, b.start, 0);
  while (todo.length > 0) {
    const key = todo.pop() as number;
    budget.charge(names[0], names[1]);
    const read = key & 1;
    const pair = key >> 1;
    const y = pair % width;
    const x = ((pair - y) / width) | 0;
    if (read === 1 && a.accepting.has(x) && b.accepting.has(y)) return true;
    const epsilonA = a.epsilon[x] as readonly number[];
    for (let i = 0; i < epsilonA.length; i++) visit(epsilonA[i] as number, y, read);
    const epsilonB = b.epsilon[y] as readonly number[];
    for (let j = 0; j < epsilonB.length; j++) visit(x, epsilonB[j] as number, read);
    const edgesA = a.edges[x] as Nfa['edges'][number];
    const edgesB = b.edges[y] as Nfa['edges'][number];
    for (let i = 0; i < edgesA.length; i++) {
      const ea = edgesA[i] as Nfa['edges'][number][number];
      for (let j = 0; j < edgesB.length; j++) {
        const eb = edgesB[j] as Nfa['edges'][number][number];
        if (intersects(ea.on, eb.on)) visit(ea.to, eb.to, 1);
      }
    }
  }
  return false;
}

function asGlob(glob: string | CompiledGlob): CompiledGlob {
  return typeof glob === 'string' ? compileGlob(glob) : glob;
}

/**
 * True when at least one path is selected by both globs (directory-only markers are ignored, see above).
 * Throws GlobOverlapBudgetError when `budget` runs out first.
 */
export function globsShareAPath(a: string | CompiledGlob, b: string | CompiledGlob, budget: OverlapBudget = new OverlapBudget()): boolean {
  const ga = asGlob(a);
  const gb = asGlob(b);
  return intersectionIsInhabited(cachedGlobNfa(ga, false), cachedGlobNfa(gb, false), budget, [ga.source, gb.source]);
}

/**
 * True unless the two globs provably affect disjoint parts of the tree: they share a path, or one matches a
 * directory above a path the other matches (rsync does not descend into an excluded directory, so excluding
 * `/etc/ssh` also drops `/etc/ssh/sshd_config`). Never false for globs that can meet; used for protected-path
 * conflicts, where a missed overlap would let a neighbour ship a protected file. Throws
 * GlobOverlapBudgetError when `budget` (pass one budget to every check of one validation) runs out first.
 */
export function globsMayOverlap(a: string | CompiledGlob, b: string | CompiledGlob, budget: OverlapBudget = new OverlapBudget()): boolean {
  const ga = asGlob(a);
  const gb = asGlob(b);
  const names = [ga.source, gb.source] as const;
  return (
    intersectionIsInhabited(cachedGlobNfa(ga, true), cachedGlobNfa(gb, false), budget, names) ||
    intersectionIsInhabited(cachedGlobNfa(ga, false), cachedGlobNfa(gb, true), budget, names)
  );
}
