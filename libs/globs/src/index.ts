export { GlobSyntaxError } from './glob-syntax-error.js';
export { GLOB_LIMITS, GlobLimitError, GlobOverlapBudgetError, OverlapBudget, type GlobLimit } from './glob-limits.js';
export { parseGlob, type CodePointRange, type GlobToken, type ParsedGlob } from './glob-pattern.js';
export { compileGlob, matchesAny, findMatchingGlob, type CompiledGlob } from './compile-glob.js';
export type { MatchMeter } from './glob-matcher.js';
export { globsShareAPath, globsMayOverlap } from './glob-overlap.js';
export { compileFilter, parseFilterRules, formatFilterRules, type CompiledFilter, type FilterAction, type FilterRule } from './filter-rules.js';
