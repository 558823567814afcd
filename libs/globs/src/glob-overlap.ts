import { compileGlob, type CompiledGlob } from './compile-glob.js';
import { normalizeRanges, SLASH, type CodePointRange, type GlobToken, type ParsedGlob } from './glob-pattern.js';

/*
 * Overlap reasoning between two globs, used to detect protected-path conflicts (a module's protected_spec
 * against a neighbour's file_spec) and a module's own spec contradictions. Each glob becomes a small NFA over
 * characters; two globs share a path exactly when the product automaton reaches a pair of accepting states.
 * The answer is exact for the path *strings* both globs accept, and errs towards "overlap" where the file
 * system adds information: a directory-only glob (`dir/`) is treated as if it also matched a file of that
 * name, and strings that are not normalised paths (`a//b`) count.
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

function intersects(a: CharSet, b: CharSet): boolean {
  if (!a.negated && !b.negated) return subtractRanges(a.ranges, subtractRanges([[0, MAX_CODE_POINT]], b.ranges)).length > 0;
  if (!a.negated) return subtractRanges(a.ranges, b.ranges).length > 0;
  if (!b.negated) return subtractRanges(b.ranges, a.ranges).length > 0;
  return subtractRanges([[0, MAX_CODE_POINT]], [...a.ranges, ...b.ranges]).length > 0;
}

/** True when some string is accepted by both automata (breadth-first search of the product automaton). */
function intersectionIsInhabited(a: Nfa, b: Nfa): boolean {
  const key = (x: number, y: number) => `${x},${y}`;
  const seen = new Set([key(a.start, b.start)]);
  const todo: [number, number][] = [[a.start, b.start]];
  const visit = (x: number, y: number) => {
    const k = key(x, y);
    if (!seen.has(k)) {
      seen.add(k);
      todo.push([x, y]);
    }
  };
  while (todo.length > 0) {
    const [x, y] = todo.pop() as [number, number];
    if (a.accepting.has(x) && b.accepting.has(y)) return true;
    for (const nx of a.epsilon[x] ?? []) visit(nx, y);
    for (const ny of b.epsilon[y] ?? []) visit(x, ny);
    for (const ea of a.edges[x] ?? []) {
      for (const eb of b.edges[y] ?? []) {
        if (intersects(ea.on, eb.on)) visit(ea.to, eb.to);
      }
    }
  }
  return false;
}

function asGlob(glob: string | CompiledGlob): CompiledGlob {
  return typeof glob === 'string' ? compileGlob(glob) : glob;
}

/** True when at least one path is selected by both globs (directory-only markers are ignored, see above). */
export function globsShareAPath(a: string | CompiledGlob, b: string | CompiledGlob): boolean {
  return intersectionIsInhabited(globNfa(asGlob(a), false), globNfa(asGlob(b), false));
}

/**
 * True unless the two globs provably affect disjoint parts of the tree: they share a path, or one matches a
 * directory above a path the other matches (rsync does not descend into an excluded directory, so excluding
 * `/etc/ssh` also drops `/etc/ssh/sshd_config`). Never false for globs that can meet; used for protected-path
 * conflicts, where a missed overlap would let a neighbour ship a protected file.
 */
export function globsMayOverlap(a: string | CompiledGlob, b: string | CompiledGlob): boolean {
  const ga = asGlob(a);
  const gb = asGlob(b);
  return intersectionIsInhabited(globNfa(ga, true), globNfa(gb, false)) || intersectionIsInhabited(globNfa(ga, false), globNfa(gb, true));
}
