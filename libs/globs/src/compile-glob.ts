import { buildGlobAutomaton, type MatchMeter } from './glob-matcher.js';
import { parseGlob, type ParsedGlob } from './glob-pattern.js';

// rsync include/exclude semantics for module paths (absolute, `/`-separated, no trailing slash):
//   `*` stays inside one path component, `**` crosses `/`, `?` is one character other than `/`, `[...]` a class
//   (never `/`); a leading `/` anchors the pattern at the module root, otherwise it matches the trailing
//   components of the path at any depth; a trailing `/` matches directories only; `dir/***` matches the
//   directory `dir` and everything below it; a pattern starting with `**` also matches at the root (`**/x`
//   matches `/x`). Patterns without `*`, `?` or `[` are literal (a backslash in them is a plain character).

/** A compiled rsync-style glob. */
export interface CompiledGlob extends ParsedGlob {
  /**
   * True when the glob selects `path` (an absolute module path such as `/etc/redis/redis.conf`), in at most
   * (tokens + 2) × (path length + 2) steps, which `meter` counts when given.
   */
  match(path: string, isDir?: boolean, meter?: MatchMeter): boolean;
}

/** Compiles an rsync include/exclude pattern; throws GlobSyntaxError for an invalid one. */
export function compileGlob(pattern: string): CompiledGlob {
  const parsed = parseGlob(pattern);
  const automaton = buildGlobAutomaton(parsed);
  return {
    ...parsed,
    match(path: string, isDir = false, meter?: MatchMeter): boolean {
      if (parsed.directoryOnly && !isDir) return false;
      const relative = path.startsWith('/') ? path.slice(1) : path;
      if (relative === '') return false;
      // As rsync's rule_matches(): a leading "**" sees the path with a "/" in front, and a "***" pattern sees a
      // directory's path with a "/" appended (so "dir/***" also matches the directory "dir").
      const text = `${parsed.leadingGlobstar ? '/' : ''}${relative}${parsed.trailingTripleStar && isDir ? '/' : ''}`;
      return automaton.matches(text, meter);
    },
  };
}

/** True when any of `patterns` selects `path` (strings are compiled on the fly; pass compiled globs in loops). */
export function matchesAny(patterns: Iterable<string | CompiledGlob>, path: string, isDir = false): boolean {
  return findMatchingGlob(patterns, path, isDir) !== undefined;
}

/** The first of `patterns` that selects `path`, or undefined. */
export function findMatchingGlob(patterns: Iterable<string | CompiledGlob>, path: string, isDir = false): CompiledGlob | undefined {
  for (const pattern of patterns) {
    const glob = typeof pattern === 'string' ? compileGlob(pattern) : pattern;
    if (glob.match(path, isDir)) return glob;
  }
  return undefined;
}
