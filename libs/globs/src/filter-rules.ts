import { PowernodeError } from '@powernode/contracts';
import { compileGlob, type CompiledGlob } from './compile-glob.js';

// An rsync filter list (`+ pattern` / `- pattern`, first match wins) evaluated the way rsync walks a tree:
// an entry is transferred when its own first matching rule is not an exclude and no directory above it was
// excluded (rsync never descends into an excluded directory). An entry no rule matches is transferred.
// Nothing is added implicitly: a list ending in `- *` needs `+ */` (or includes of every parent directory)
// to reach anything below the root, exactly as with rsync.

export type FilterAction = 'include' | 'exclude';

export interface FilterRule {
  readonly action: FilterAction;
  readonly pattern: string;
}

export interface CompiledFilter {
  readonly rules: readonly FilterRule[];
  /** The action of the first rule matching `path` itself, or undefined when none does. */
  decide(path: string, isDir?: boolean): FilterAction | undefined;
  /** True when rsync would transfer `path` under this filter list (ancestors included in the decision). */
  selects(path: string, isDir?: boolean): boolean;
}

/** Compiles a filter list; throws GlobSyntaxError naming the first invalid pattern. */
export function compileFilter(rules: readonly FilterRule[]): CompiledFilter {
  const compiled: { action: FilterAction; glob: CompiledGlob }[] = rules.map((rule) => ({ action: rule.action, glob: compileGlob(rule.pattern) }));
  const decide = (path: string, isDir = false): FilterAction | undefined => compiled.find((rule) => rule.glob.match(path, isDir))?.action;
  return {
    rules,
    decide,
    selects(path: string, isDir = false): boolean {
      const components = path.split('/').filter((c) => c !== '');
      let ancestor = '';
      for (const component of components.slice(0, -1)) {
        ancestor += `/${component}`;
        if (decide(ancestor, true) === 'exclude') return false;
      }
      return decide(path, isDir) !== 'exclude';
    },
  };
}

/** Parses filter-file text (`+ pattern`, `- pattern`, `include pattern`, `exclude pattern`; `#`/`;` comments, blank lines). */
export function parseFilterRules(text: string): FilterRule[] {
  const rules: FilterRule[] = [];
  text.split('\n').forEach((raw, index) => {
    const line = raw.endsWith('\r') ? raw.slice(0, -1) : raw;
    if (line.trim() === '' || line.startsWith('#') || line.startsWith(';')) return;
    const match = /^(\+|-|include|exclude) (.+)$/.exec(line);
    if (match === null) {
      throw new PowernodeError('validation_failed', `filter line ${index + 1} "${line}" is not "+ <pattern>" or "- <pattern>"`, {
        details: { line: index + 1, text: line },
      });
    }
    const action: FilterAction = match[1] === '+' || match[1] === 'include' ? 'include' : 'exclude';
    rules.push({ action, pattern: match[2] as string });
  });
  return rules;
}

/** Renders a filter list as rsync filter-file text, one `+ `/`- ` rule per line. */
export function formatFilterRules(rules: readonly FilterRule[]): string {
  return rules.map((rule) => `${rule.action === 'include' ? '+' : '-'} ${rule.pattern}\n`).join('');
}
