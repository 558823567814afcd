import { CST, LineCounter, Parser } from 'yaml';
import { formatYamlPath, type YamlPathSegment } from './manifest-issues.js';

/*
 * The YAML library builds documents and values recursively: a few thousand nested brackets exhaust the call
 * stack (RangeError) before any check runs. The parser that produces the concrete syntax tree keeps its own
 * stack, so nesting is measured on that tree, without recursion, before the document is built. Its lexer
 * does recurse once per indicator in a row on one line (`- - - …`, `? ? …`, `&a &b …`, `!t !t …`), so such
 * runs are counted on the raw text first, in one pass.
 */

/**
 * How deep collections may nest in a manifest. The deepest field of the schema is a few levels down
 * (`services[0].exposed_ports[0].port`); 32 leaves room for free-form values and stays far from the stack.
 * Also how many aliases (`*name`) a manifest may use: an alias inside an anchored value that is itself an
 * alias target nests the resolved value one copy deeper, and resolving such chains costs time quadratic in
 * their length.
 */
export const MAX_MANIFEST_NESTING = 32;

/** Where a text first nests deeper than allowed: the path to the collection, its position and the limit. */
export interface ExcessiveNesting {
  /** Path of the collection that goes one level too deep (keys that are not plain scalars show as `?`). */
  readonly segments: readonly YamlPathSegment[];
  readonly path: string;
  readonly line: number;
  readonly column: number;
  readonly limit: number;
  /** What is wrong and what to do, for the author of the manifest. */
  readonly message: string;
}

type Collection = CST.BlockMap | CST.BlockSequence | CST.FlowCollection;

interface Pending {
  readonly token: CST.Token;
  readonly segments: readonly YamlPathSegment[];
  /** Collections above this token. */
  readonly depth: number;
}

/** A YAML text's syntax tree, read within the bounds, or the first place it goes past them. */
export type BoundedYamlTokens = { ok: true; tokens: CST.Token[]; lineCounter: LineCounter } | { ok: false; excess: ExcessiveNesting };

/**
 * Reads the syntax tree of `text` and checks it against the bounds (nesting, indicators in a row, aliases)
 * before anything recursive runs; the tree can then be composed into a document. Never throws.
 */
export function readBoundedYamlTokens(text: string, limit: number = MAX_MANIFEST_NESTING): BoundedYamlTokens {
  const run = findIndicatorRun(text, limit);
  if (run !== undefined) {
    const lineStart = text.lastIndexOf('\n', run - 1) + 1;
    let line = 1;
    for (let i = text.indexOf('\n'); i !== -1 && i < lineStart; i = text.indexOf('\n', i + 1)) line++;
    const message = `starts more than ${limit} collections, anchors or tags in a row on one line; no manifest field needs that: write the value on its own lines, or quote it if it is text`;
    return { ok: false, excess: { segments: [], path: '', line, column: run - lineStart + 1, limit, message } };
  }
  const lineCounter = new LineCounter();
  let tokens: CST.Token[];
  try {
    tokens = [...new Parser(lineCounter.addNewLine).parse(text)];
  } catch (error) {
    if (!(error instanceof RangeError)) throw error;
    // The lexer exhausted the stack on a run of indicators the scan above took for text (after a quote that
    // YAML reads as part of a plain scalar): still too deep, though without a place to show.
    const message = `nests too deep for the YAML reader (more than ${limit} collections, anchors or tags in a row); write nested values on their own lines`;
    return { ok: false, excess: { segments: [], path: '', line: 1, column: 1, limit, message } };
  }
  const excess = findExcessInTokens(tokens, lineCounter, limit);
  return excess === undefined ? { ok: true, tokens, lineCounter } : { ok: false, excess };
}

/** The first place where `text` nests deeper than the bounds allow, or undefined. Never throws. */
export function findExcessiveNesting(text: string, limit: number = MAX_MANIFEST_NESTING): ExcessiveNesting | undefined {
  const read = readBoundedYamlTokens(text, limit);
  return read.ok ? undefined : read.excess;
}

/** Walks the tree with its own stack, in document order, so the first finding is the first in the text. */
function findExcessInTokens(tokens: readonly CST.Token[], lineCounter: LineCounter, limit: number): ExcessiveNesting | undefined {
  const pending: Pending[] = tokens.map((token) => ({ token, segments: [], depth: 0 })).reverse();
  let aliases = 0;
  for (let next = pending.pop(); next !== undefined; next = pending.pop()) {
    const { token, segments, depth } = next;
    if (token.type === 'document') {
      if (token.value) pending.push({ token: token.value, segments, depth });
      continue;
    }
    if (token.type === 'alias' && ++aliases > limit) {
      const { line, col } = lineCounter.linePos(token.offset);
      const message = `uses more than ${limit} aliases (*name); aliases that refer to values holding aliases nest them without bound: write the values out instead`;
      return { segments, path: formatYamlPath(segments), line, column: col, limit, message };
    }
    if (!CST.isCollection(token)) continue;
    if (depth + 1 > limit) {
      const { line, col } = lineCounter.linePos(token.offset);
      const message = `nests lists and mappings more than ${limit} levels deep; no manifest field needs that: flatten this value or remove the extra brackets`;
      return { segments, path: formatYamlPath(segments), line, column: col, limit, message };
    }
    const children: Pending[] = [];
    collectionItems(token).forEach((item, index) => {
      const isMapping = token.type === 'block-map' || (token.type === 'flow-collection' && token.start.source === '{');
      const segment: YamlPathSegment = isMapping || item.key !== undefined ? keyName(item.key) : index;
      if (item.key) children.push({ token: item.key, segments: [...segments, segment], depth: depth + 1 });
      if (item.value) children.push({ token: item.value, segments: [...segments, segment], depth: depth + 1 });
    });
    for (let i = children.length - 1; i >= 0; i--) pending.push(children[i]!);
  }
  return undefined;
}

function collectionItems(token: Collection): ReadonlyArray<{ key?: CST.Token | null; value?: CST.Token }> {
  return token.items;
}

/** The key as the manifest names it: the scalar's value, or `?` for a missing or complex key. */
function keyName(key: CST.Token | null | undefined): string {
  if (!key) return '?';
  // Errors in the key are the parser's to report, once the document is built.
  const scalar = CST.isScalar(key) ? CST.resolveAsScalar(key, false, () => {}) : null;
  return scalar === null ? '?' : scalar.value;
}

const INDICATORS = new Set(['-', '?', ':']);
const ENDS_INDICATOR = new Set([' ', '\t', '\r', '\n', ',', '[', ']', '{', '}']);

/** Offset where more than `limit` indicators (`-`, `?`, `:`, `&anchor`, `!tag`) follow each other on a line. */
function findIndicatorRun(text: string, limit: number): number | undefined {
  let run = 0;
  let runStart = 0;
  let i = 0;
  while (i < text.length) {
    const ch = text[i]!;
    if (ch === ' ' || ch === '\t') {
      i++;
      continue;
    }
    if (ch === '\n') {
      run = 0;
      i++;
      continue;
    }
    if (ch === '"' || ch === "'" || ch === '#') {
      // Quoted text and comments are not read as indicators: skip them whole.
      run = 0;
      i = ch === '#' ? lineEnd(text, i) : quoteEnd(text, i);
      continue;
    }
    let end: number;
    if (INDICATORS.has(ch) && (i + 1 === text.length || ENDS_INDICATOR.has(text[i + 1]!))) {
      end = i + 1;
    } else if (ch === '&' || ch === '!') {
      end = i + 1;
      while (end < text.length && text[end] !== ' ' && text[end] !== '\t' && text[end] !== '\n') end++;
    } else {
      // Anything else ends the run: skip the word it starts.
      run = 0;
      i++;
      while (i < text.length && text[i] !== ' ' && text[i] !== '\t' && text[i] !== '\n') i++;
      continue;
    }
    if (run === 0) runStart = i;
    run++;
    if (run > limit) return runStart;
    i = end;
  }
  return undefined;
}

function lineEnd(text: string, from: number): number {
  const end = text.indexOf('\n', from);
  return end === -1 ? text.length : end;
}

/** The offset after the quoted scalar opening at `from` (`\"` escapes in double quotes, `''` in single). */
function quoteEnd(text: string, from: number): number {
  const quote = text[from]!;
  for (let i = from + 1; i < text.length; i++) {
    if (quote === '"' && text[i] === '\\') i++;
    else if (text[i] === quote) {
      if (quote === "'" && text[i + 1] === "'") i++;
      else return i + 1;
    }
  }
  return text.length;
}
