import {
  isLinuxCapability,
  MANIFEST_GLOB_FIELDS,
  MANIFEST_INIT_COMMANDS,
  REQUIRES_PATTERN,
  CAPABILITY_PATTERN,
  type ManifestGlobField,
} from '@powernode/contracts';
import {
  compileGlob,
  GLOB_LIMITS,
  GlobLimitError,
  globsMayOverlap,
  GlobOverlapBudgetError,
  GlobSyntaxError,
  OverlapBudget,
  type CompiledGlob,
} from '@powernode/globs';
import { CommandSyntaxError, splitArgv } from './command-argv.js';
import type { IssueCollector, YamlPathSegment } from './manifest-issues.js';

// Checks of what the fields mean, beyond their shape. They read the raw YAML value defensively (a field of the
// wrong type was already reported by the schema and is skipped here), so one run reports every problem.

/** A glob of a manifest list that compiled, with its index in that list. */
export interface IndexedGlob {
  readonly index: number;
  readonly glob: CompiledGlob;
}

export type ManifestGlobs = Readonly<Record<ManifestGlobField, readonly IndexedGlob[]>>;

type Raw = Readonly<Record<string, unknown>>;

/** Debian package names (policy §5.6.7), optionally with an architecture qualifier or a version pin. */
const DEBIAN_PACKAGE = /^[a-z0-9][a-z0-9+.-]+(?::[a-z0-9-]+)?(?:=[A-Za-z0-9.+~:-]+)?$/;
/** `host[:port]`: a host name, an IPv4 address or CIDR, or a bracketed IPv6 address. */
const EGRESS_ENTRY = /^(\[[0-9A-Fa-f:.]+\](?:\/\d{1,3})?|[^\s:/[\]]+(?:\/\d{1,2})?)(?::(\d+))?$/;

function stringEntries(value: unknown): { index: number; value: string }[] {
  return Array.isArray(value) ? value.flatMap((entry, index) => (typeof entry === 'string' ? [{ index, value: entry }] : [])) : [];
}

function mapping(value: unknown): Raw | undefined {
  return value !== null && typeof value === 'object' && !Array.isArray(value) ? (value as Raw) : undefined;
}

function reportDuplicates(collector: IssueCollector, field: YamlPathSegment[], entries: readonly { index: number; value: string }[]): void {
  const first = new Map<string, number>();
  for (const { index, value } of entries) {
    const earlier = first.get(value);
    if (earlier === undefined) first.set(value, index);
    else collector.warning('duplicate_entry', [...field, index], `repeats ${JSON.stringify(value)} from ${field.join('.')}[${earlier}]; remove the duplicate`);
  }
}

/**
 * Compiles the four glob lists, reporting invalid globs, globs beyond GLOB_LIMITS and duplicates; returns the
 * globs that compiled (of an over-long list, only the first GLOB_LIMITS.maxGlobsPerList).
 */
export function checkGlobLists(raw: Raw, collector: IssueCollector): ManifestGlobs {
  const result = {} as Record<ManifestGlobField, IndexedGlob[]>;
  for (const field of MANIFEST_GLOB_FIELDS) {
    const entries = stringEntries(raw[field]);
    result[field] = [];
    if (Array.isArray(raw[field]) && raw[field].length > GLOB_LIMITS.maxGlobsPerList) {
      collector.error(
        'glob_limit_exceeded',
        [field],
        `has ${raw[field].length} entries; a glob list may have at most ${GLOB_LIMITS.maxGlobsPerList} (limit globs_per_list): cover whole directories with "dir/**" instead of listing their files`,
      );
    }
    for (const { index, value } of entries.filter((entry) => entry.index < GLOB_LIMITS.maxGlobsPerList)) {
      try {
        result[field].push({ index, glob: compileGlob(value) });
      } catch (error) {
        if (error instanceof GlobLimitError) collector.error('glob_limit_exceeded', [field, index], `${error.reason} (limit ${error.limit})`);
        else if (error instanceof GlobSyntaxError) collector.error('invalid_glob', [field, index], `is not a valid rsync glob: ${error.reason}`);
        else throw error;
      }
    }
    reportDuplicates(collector, [field], entries);
  }
  return result;
}

/** The same glob text in file_spec and mask: the mask wins, so the file_spec entry is dead. */
function checkMaskAgainstFileSpec(globs: ManifestGlobs, collector: IssueCollector): void {
  const owned = new Map(globs.file_spec.map(({ index, glob }) => [glob.source, index]));
  for (const { index, glob } of globs.mask) {
    const fileSpecIndex = owned.get(glob.source);
    if (fileSpecIndex !== undefined) {
      collector.error(
        'mask_file_spec_conflict',
        ['mask', index],
        `${JSON.stringify(glob.source)} is also file_spec[${fileSpecIndex}]: masked paths are never shipped, so the module would claim a path it cannot ship; remove it from one of the lists`,
      );
    }
  }
}

/** protected_spec guards paths this module ships; a protected glob no file_spec/dependency_spec entry can reach is suspicious. */
function checkProtectedPaths(globs: ManifestGlobs, collector: IssueCollector, budget: OverlapBudget): void {
  const claimed = [
    ...globs.file_spec.map((entry) => ({ ...entry, field: 'file_spec' })),
    ...globs.dependency_spec.map((entry) => ({ ...entry, field: 'dependency_spec' })),
  ];
  for (const { index, glob } of globs.protected_spec) {
    let owned = false;
    for (const entry of claimed) {
      try {
        owned = globsMayOverlap(entry.glob, glob, budget);
      } catch (error) {
        if (!(error instanceof GlobOverlapBudgetError)) throw error;
        collector.error(
          'glob_limit_exceeded',
          ['protected_spec', index],
          `cannot be compared with ${entry.field}[${entry.index}] within ${budget.limit} automaton states (limit overlap_states, for the whole manifest): use fewer wildcards, shorter globs or fewer globs`,
        );
        // The budget is spent: no further comparison could finish either.
        return;
      }
      if (owned) break;
    }
    if (!owned) {
      collector.warning(
        'protected_not_owned',
        ['protected_spec', index],
        `protects ${JSON.stringify(glob.source)}, which no file_spec entry claims; protected_spec keeps neighbours from shipping paths this module owns, so add the path to file_spec or drop it here`,
      );
    }
  }
}

function checkCommand(collector: IssueCollector, segments: YamlPathSegment[], command: unknown): void {
  if (typeof command !== 'string' || command.trim() === '') return;
  try {
    splitArgv(command);
  } catch (error) {
    if (!(error instanceof CommandSyntaxError)) throw error;
    collector.error('invalid_command', segments, `cannot be run: ${error.reason} (at character ${error.offset + 1})`);
  }
}

function checkInit(raw: Raw, collector: IssueCollector): void {
  const init = mapping(raw['init']);
  if (init === undefined) return;
  for (const name of MANIFEST_INIT_COMMANDS) checkCommand(collector, ['init', name], init[name]);
}

function checkServices(raw: Raw, collector: IssueCollector): void {
  if (!Array.isArray(raw['services'])) return;
  const seen = new Map<string, number>();
  raw['services'].forEach((entry, index) => {
    const service = mapping(entry);
    if (service === undefined) return;
    const name = service['name'];
    if (typeof name === 'string') {
      const earlier = seen.get(name);
      if (earlier !== undefined)
        collector.error(
          'duplicate_service',
          ['services', index, 'name'],
          `duplicates the name of services[${earlier}]; service names are unique within a module`,
        );
      else seen.set(name, index);
    }
    if (service['start_command'] === undefined) {
      collector.error('missing_start_command', ['services', index], 'has no start_command; the agent needs the command that runs the service');
    }
    checkCommand(collector, ['services', index, 'start_command'], service['start_command']);
    checkCommand(collector, ['services', index, 'stop_command'], service['stop_command']);
    checkCapabilities(collector, ['services', index, 'capabilities'], service['capabilities']);
  });
}

function checkCapabilities(collector: IssueCollector, segments: YamlPathSegment[], value: unknown): void {
  const entries = stringEntries(value);
  for (const { index, value: name } of entries) {
    if (CAPABILITY_PATTERN.test(name) && !isLinuxCapability(name)) {
      collector.warning(
        'unknown_capability',
        [...segments, index],
        `${JSON.stringify(name)} is not a Linux capability (see capabilities(7)); the agent cannot grant it`,
      );
    }
  }
  reportDuplicates(collector, segments, entries);
}

function checkDependencies(raw: Raw, collector: IssueCollector): void {
  const dependencies = mapping(raw['dependencies']);
  if (dependencies === undefined) return;
  const seen = new Map<string, number>();
  for (const { index, value } of stringEntries(dependencies['requires'])) {
    const match = REQUIRES_PATTERN.exec(value);
    if (match === null) continue;
    const [, owner, module] = match as unknown as [string, string, string];
    if (module === raw['name'])
      collector.error('self_dependency', ['dependencies', 'requires', index], `requires the module itself (${JSON.stringify(module)}); remove the entry`);
    const key = `${owner}/${module}`;
    const earlier = seen.get(key);
    if (earlier !== undefined) {
      collector.error(
        'duplicate_entry',
        ['dependencies', 'requires', index],
        `requires ${key} again (also dependencies.requires[${earlier}]); state one version range per module`,
      );
    } else seen.set(key, index);
  }
  reportDuplicates(collector, ['dependencies', 'provides'], stringEntries(dependencies['provides']));
}

function checkPackages(raw: Raw, collector: IssueCollector): void {
  const entries = stringEntries(raw['package_spec']);
  for (const { index, value } of entries) {
    if (!DEBIAN_PACKAGE.test(value)) {
      collector.warning(
        'invalid_package_name',
        ['package_spec', index],
        `${JSON.stringify(value)} is not a Debian package name (lowercase letters, digits, "+", "-", "."; at least two characters)`,
      );
    }
  }
  reportDuplicates(collector, ['package_spec'], entries);
}

function checkSecurity(raw: Raw, collector: IssueCollector): void {
  const security = mapping(raw['security']);
  if (security === undefined) return;
  checkCapabilities(collector, ['security', 'capabilities'], security['capabilities']);
  for (const { index, value } of stringEntries(security['egress_allow'])) {
    const match = EGRESS_ENTRY.exec(value);
    const port = match?.[2] === undefined ? undefined : Number(match[2]);
    if (match === null || (port !== undefined && (port < 1 || port > 65535))) {
      collector.warning(
        'invalid_egress',
        ['security', 'egress_allow', index],
        `${JSON.stringify(value)} is not "host" or "host:port" (port 1–65535), e.g. "pool.ntp.org:123"`,
      );
    }
  }
  if (security['privileged'] === true) {
    collector.warning(
      'privileged_module',
      ['security', 'privileged'],
      'a privileged module gets raw hardware access; attaching it needs explicit operator approval',
    );
  }
}

/**
 * Runs every semantic check on a parsed manifest mapping; returns the compiled globs for file-system checks.
 * `overlapBudget` bounds the glob overlap checks of this manifest (one budget for all of them).
 */
export function checkManifestSemantics(raw: Raw, collector: IssueCollector, overlapBudget: OverlapBudget = new OverlapBudget()): ManifestGlobs {
  const globs = checkGlobLists(raw, collector);
  checkMaskAgainstFileSpec(globs, collector);
  checkProtectedPaths(globs, collector, overlapBudget);
  checkInit(raw, collector);
  checkServices(raw, collector);
  checkDependencies(raw, collector);
  checkPackages(raw, collector);
  checkSecurity(raw, collector);
  return globs;
}
