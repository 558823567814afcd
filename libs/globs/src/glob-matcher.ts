import { SLASH, type GlobToken, type ParsedGlob } from './glob-pattern.js';

/*
 * Matching by simulating the glob's automaton over the path, all positions at once (Thompson's construction).
 * A glob is a sequence of tokens, so state i means "the first i tokens matched"; a `*`/`**` state loops on
 * the characters it accepts and can be left without consuming any. Each character of the path advances every
 * live state once, so a match costs at most (tokens + 2) × (characters + 1) steps whatever the pattern: a
 * backtracking regex needs exponential time for `**?**?**?…Z` against a path that does not end in `Z`.
 */

const LITERAL = 0;
const CHAR_SET = 1;
const STAR = 2;
const GLOBSTAR = 3;

/** Counts the steps of matches it is passed to (states advanced over one character each). */
export interface MatchMeter {
  steps: number;
}

export interface GlobAutomaton {
  /** True when `text` matches, from its start (or, unless anchored, right after any `/`) to its end. */
  matches(text: string, meter?: MatchMeter): boolean;
}

/**
 * Builds the automaton of a glob's tokens. Unless the glob matches whole paths, the tokens may also start right
 * after any `/` of the text (rsync's unanchored patterns match the trailing components of a path).
 */
export function buildGlobAutomaton(glob: Pick<ParsedGlob, 'tokens' | 'matchesWholePath'>): GlobAutomaton {
  const count = glob.tokens.length;
  const kinds = new Uint8Array(count);
  const codePoints = new Int32Array(count);
  const sets: ({ readonly negated: boolean; readonly ranges: readonly (readonly [number, number])[] } | undefined)[] = [];
  glob.tokens.forEach((token: GlobToken, i) => {
    switch (token.kind) {
      case 'literal':
        kinds[i] = LITERAL;
        codePoints[i] = token.codePoint;
        break;
      case 'any_char':
        kinds[i] = CHAR_SET;
        sets[i] = { negated: true, ranges: [] };
        break;
      case 'class':
        kinds[i] = CHAR_SET;
        sets[i] = { negated: token.negated, ranges: token.ranges };
        break;
      case 'star':
        kinds[i] = STAR;
        break;
      case 'globstar':
        kinds[i] = GLOBSTAR;
        break;
      default: {
        const unreachable: never = token;
        return unreachable;
      }
    }
  });
  const anchored = glob.matchesWholePath;

  // `?` and classes never match `/`.
  const inSet = (i: number, codePoint: number): boolean => {
    if (codePoint === SLASH) return false;
    const set = sets[i] as { negated: boolean; ranges: readonly (readonly [number, number])[] };
    let inRanges = false;
    for (const [lo, hi] of set.ranges) {
      if (codePoint < lo) break;
      if (codePoint <= hi) {
        inRanges = true;
        break;
      }
    }
    return inRanges !== set.negated;
  };

  // Two state lists (current and next) with a generation stamp per state, so that a set is cleared in O(1).
  // The arrays are reused across calls: matching is synchronous and never re-entered.
  const stamps = new Float64Array(count + 1);
  let generation = 0;
  let current = new Int32Array(count + 1);
  let next = new Int32Array(count + 1);
  let currentSize = 0;
  let nextSize = 0;

  // Adds state i to the next list, with the states reachable from it without consuming a character.
  const add = (i: number): void => {
    let state = i;
    for (;;) {
      if (stamps[state] === generation) return;
      stamps[state] = generation;
      next[nextSize++] = state;
      if (state === count || kinds[state] < STAR) return;
      state++;
    }
  };
  const swap = (): void => {
    const list = current;
    current = next;
    next = list;
    currentSize = nextSize;
    nextSize = 0;
    generation++;
  };

  return {
    matches(text: string, meter?: MatchMeter): boolean {
      generation++;
      nextSize = 0;
      add(0);
      swap();
      for (let at = 0; at < text.length;) {
        const codePoint = text.codePointAt(at) as number;
        at += codePoint > 0xffff ? 2 : 1;
        if (meter !== undefined) meter.steps += currentSize + 1;
        for (let k = 0; k < currentSize; k++) {
          const state = current[k] as number;
          if (state === count) continue;
          switch (kinds[state]) {
            case LITERAL:
              if (codePoints[state] === codePoint) add(state + 1);
              break;
            case CHAR_SET:
              if (inSet(state, codePoint)) add(state + 1);
              break;
            case STAR:
              if (codePoint !== SLASH) add(state);
              break;
            default:
              add(state);
          }
        }
        if (!anchored && codePoint === SLASH) add(0);
        swap();
        if (currentSize === 0 && anchored) return false;
      }
      // Exactly the states of the current list carry the previous generation's stamp.
      return stamps[count] === generation - 1;
    },
  };
}
