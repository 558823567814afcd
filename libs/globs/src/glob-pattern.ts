import { assertGlobLength, assertGlobWildcards } from './glob-limits.js';
import { GlobSyntaxError } from './glob-syntax-error.js';

/*
 * Parsing of one rsync filter pattern (rsync(1) "PATTERN MATCHING RULES", exclude.c + wildmatch.c) into tokens.
 * The flags are computed from the raw text exactly as rsync's add_rule() does, so that escaped characters
 * influence them the same way (`\**` still counts as containing "**").
 */

/** An inclusive range of Unicode code points. */
export type CodePointRange = readonly [number, number];

export type GlobToken =
  | { readonly kind: 'literal'; readonly codePoint: number }
  /** `?`: one character other than `/`. */
  | { readonly kind: 'any_char' }
  /** `[...]` / `[!...]` / `[^...]`: never matches `/`. */
  | { readonly kind: 'class'; readonly negated: boolean; readonly ranges: readonly CodePointRange[] }
  /** `*`: any run of characters other than `/`. */
  | { readonly kind: 'star' }
  /** `**` (or more stars): any run of characters, `/` included. */
  | { readonly kind: 'globstar' };

export interface ParsedGlob {
  readonly source: string;
  /** A leading `/`: matched against the whole path from the module root. */
  readonly anchored: boolean;
  /** A trailing `/`: matches directories only. */
  readonly directoryOnly: boolean;
  /**
   * Matched against the whole path (anchored, or starting with `**`); otherwise the pattern may match the
   * trailing components of the path at any depth.
   */
  readonly matchesWholePath: boolean;
  /**
   * Starts with `**`: rsync matches it against the path with a `/` in front, so `**` + `/name` also matches
   * `name` at the root.
   */
  readonly leadingGlobstar: boolean;
  /** Ends with `***`: a directory is matched with a `/` appended, so `dir/***` matches `dir` itself and everything below. */
  readonly trailingTripleStar: boolean;
  readonly tokens: readonly GlobToken[];
}

const SLASH = 0x2f;

// ASCII semantics, as rsync's ctype calls in the C locale.
const POSIX_CLASSES: Readonly<Record<string, readonly CodePointRange[]>> = {
  alnum: [
    [0x30, 0x39],
    [0x41, 0x5a],
    [0x61, 0x7a],
  ],
  alpha: [
    [0x41, 0x5a],
    [0x61, 0x7a],
  ],
  blank: [
    [0x09, 0x09],
    [0x20, 0x20],
  ],
  cntrl: [
    [0x00, 0x1f],
    [0x7f, 0x7f],
  ],
  digit: [[0x30, 0x39]],
  graph: [[0x21, 0x7e]],
  lower: [[0x61, 0x7a]],
  print: [[0x20, 0x7e]],
  punct: [
    [0x21, 0x2f],
    [0x3a, 0x40],
    [0x5b, 0x60],
    [0x7b, 0x7e],
  ],
  space: [
    [0x09, 0x0d],
    [0x20, 0x20],
  ],
  upper: [[0x41, 0x5a]],
  xdigit: [
    [0x30, 0x39],
    [0x41, 0x46],
    [0x61, 0x66],
  ],
};

/**
 * Parses an rsync pattern; throws GlobSyntaxError for text rsync would silently never match or mis-read, and
 * its subclass GlobLimitError for a pattern beyond GLOB_LIMITS.
 */
export function parseGlob(source: string): ParsedGlob {
  if (typeof source !== 'string' || source === '') throw new GlobSyntaxError(String(source), 'the pattern is empty');
  assertGlobLength(source);
  const control = /[\0\n\r]/.exec(source);
  if (control !== null) throw new GlobSyntaxError(source, 'contains a NUL or line break; a pattern is one line of an rsync filter', control.index);
  if (/^\s|\s$/.test(source)) throw new GlobSyntaxError(source, 'starts or ends with white space; remove it (rsync would treat it as part of the file name)');
  // "//" too: the root as a directory. No path is the root, so these would match nothing.
  if (source === '/' || source === '//') throw new GlobSyntaxError(source, 'matches only the module root itself; use "/**" for everything');

  let body = source;
  const directoryOnly = body.length > 1 && body.endsWith('/');
  if (directoryOnly) body = body.slice(0, -1);
  const emptyComponent = body.indexOf('//');
  if (emptyComponent !== -1) throw new GlobSyntaxError(source, 'contains an empty path component ("//"), which no path has', emptyComponent);

  const anchored = body.startsWith('/');
  const globstarAt = source.indexOf('**');
  const wildcard = /[*?[]/.test(body);
  // rsync: a pattern whose text starts with "**" is matched from the start of the path only.
  const startsWithGlobstar = globstarAt === 0;
  const trailingTripleStar = globstarAt !== -1 && body.endsWith('***');
  if (anchored) body = body.slice(1);

  const tokens = wildcard ? tokenizeWildcardPattern(source, body, anchored ? 1 : 0) : [...body].map((ch) => literal(ch));
  assertGlobWildcards(source, tokens.filter((token) => token.kind !== 'literal').length);
  return { source, anchored, directoryOnly, matchesWholePath: anchored || startsWithGlobstar, leadingGlobstar: startsWithGlobstar, trailingTripleStar, tokens };
}

function literal(ch: string): GlobToken {
  return { kind: 'literal', codePoint: ch.codePointAt(0) as number };
}

function tokenizeWildcardPattern(source: string, body: string, bodyOffset: number): GlobToken[] {
  const chars = [...body];
  const offsets: number[] = [];
  let at = bodyOffset;
  for (const ch of chars) {
    offsets.push(at);
    at += ch.length;
  }
  const tokens: GlobToken[] = [];
  let i = 0;
  while (i < chars.length) {
    const ch = chars[i] as string;
    if (ch === '\\') {
      const next = chars[i + 1];
      if (next === undefined) throw new GlobSyntaxError(source, 'ends with a lone backslash; write "\\\\" for a literal backslash', offsets[i]);
      tokens.push(literal(next));
      i += 2;
    } else if (ch === '*') {
      let end = i;
      while (chars[end] === '*') end++;
      tokens.push(end - i === 1 ? { kind: 'star' } : { kind: 'globstar' });
      i = end;
    } else if (ch === '?') {
      tokens.push({ kind: 'any_char' });
      i++;
    } else if (ch === '[') {
      const { token, next } = parseClass(source, chars, offsets, i);
      tokens.push(token);
      i = next;
    } else {
      tokens.push(literal(ch));
      i++;
    }
  }
  return tokens;
}

/** Parses `[...]` starting at `open` (the `[`) following wildmatch.c's dowild() class loop. */
function parseClass(source: string, chars: readonly string[], offsets: readonly number[], open: number): { token: GlobToken; next: number } {
  const unclosed = (): never => {
    throw new GlobSyntaxError(source, 'has a "[" that is never closed by "]"; write "\\[" for a literal bracket', offsets[open]);
  };
  let i = open + 1;
  let negated = false;
  if (chars[i] === '!' || chars[i] === '^') {
    negated = true;
    i++;
  }
  const ranges: CodePointRange[] = [];
  let previous: number | undefined;
  let first = true;
  for (;;) {
    const ch = chars[i];
    if (ch === undefined) return unclosed();
    if (ch === ']' && !first) break;
    first = false;
    if (ch === '\\') {
      const escaped = chars[i + 1];
      if (escaped === undefined) return unclosed();
      previous = escaped.codePointAt(0) as number;
      ranges.push([previous, previous]);
      i += 2;
    } else if (ch === '-' && previous !== undefined && chars[i + 1] !== undefined && chars[i + 1] !== ']') {
      let hiChar = chars[i + 1] as string;
      let step = 2;
      if (hiChar === '\\') {
        const escaped = chars[i + 2];
        if (escaped === undefined) return unclosed();
        hiChar = escaped;
        step = 3;
      }
      const lo = previous;
      const hi = hiChar.codePointAt(0) as number;
      if (hi < lo) throw new GlobSyntaxError(source, `has the reversed range "${String.fromCodePoint(lo)}-${hiChar}", which matches nothing`, offsets[i]);
      // The single `lo` pushed for the previous character is subsumed by the range.
      ranges.push([lo, hi]);
      previous = undefined;
      i += step;
    } else if (ch === '[' && chars[i + 1] === ':') {
      let close = i + 2;
      while (chars[close] !== undefined && chars[close] !== ']') close++;
      if (chars[close] === undefined) return unclosed();
      if (close - 1 < i + 2 || chars[close - 1] !== ':') {
        // No ":]": a literal "[" inside the class, as wildmatch does.
        previous = 0x5b;
        ranges.push([0x5b, 0x5b]);
        i++;
        continue;
      }
      const name = chars.slice(i + 2, close - 1).join('');
      const members = POSIX_CLASSES[name];
      if (members === undefined) {
        throw new GlobSyntaxError(source, `uses the unknown character class "[:${name}:]" (known: ${Object.keys(POSIX_CLASSES).join(', ')})`, offsets[i]);
      }
      ranges.push(...members);
      previous = undefined;
      i = close + 1;
    } else {
      previous = ch.codePointAt(0) as number;
      ranges.push([previous, previous]);
      i++;
    }
  }
  return { token: { kind: 'class', negated, ranges: normalizeRanges(ranges) }, next: i + 1 };
}

/** Sorts and merges ranges so equal classes have equal representations. */
export function normalizeRanges(ranges: readonly CodePointRange[]): CodePointRange[] {
  const sorted = [...ranges].sort((a, b) => a[0] - b[0] || a[1] - b[1]);
  const merged: [number, number][] = [];
  for (const [lo, hi] of sorted) {
    const last = merged[merged.length - 1];
    if (last !== undefined && lo <= last[1] + 1) last[1] = Math.max(last[1], hi);
    else merged.push([lo, hi]);
  }
  return merged;
}

export { SLASH };
