import { ModuleManifestSchema, PLATFORM_ONLY_MANIFEST_KEYS } from '@powernode/contracts';
import type { z } from 'zod';
import type { IssueCollector, YamlPathSegment } from './manifest-issues.js';

// Turns zod issues of the manifest schema into validation issues a module author can act on: which field,
// what was found, what is expected.

type ZodIssue = z.core.$ZodIssue;

interface SchemaDef {
  type: string;
  shape?: Record<string, { _zod: { def: SchemaDef } }>;
  innerType?: { _zod: { def: SchemaDef } };
  element?: { _zod: { def: SchemaDef } };
}

const PLATFORM_KEY_HINTS: Readonly<Record<(typeof PLATFORM_ONLY_MANIFEST_KEYS)[number], string>> = {
  category: 'is not a manifest field: the category is set on the platform when the module is registered',
  variety: 'is not a manifest field: the variety is set on the platform when the module is registered',
  cosign_identity_regexp: 'is not a manifest field: the signing identity policy is set on the platform when the module is registered',
  cosign_issuer_regexp: 'is not a manifest field: the signing issuer policy is set on the platform when the module is registered',
  identity: 'is not a manifest field: name, display_name, description and license are flat top-level keys, without an identity: wrapper',
  version: 'is not a manifest field: a module version comes from its git tag (v1.2.3)',
};

/** The keys the schema allows in the mapping at `segments`, or undefined when that is not a closed mapping. */
export function allowedKeysAt(segments: readonly YamlPathSegment[]): string[] | undefined {
  let def: SchemaDef | undefined = (ModuleManifestSchema as unknown as { _zod: { def: SchemaDef } })._zod.def;
  const unwrap = () => {
    while (def !== undefined && (def.type === 'optional' || def.type === 'nullable')) def = def.innerType?._zod.def;
  };
  for (const segment of segments) {
    unwrap();
    if (def === undefined) return undefined;
    if (typeof segment === 'number' && def.type === 'array') def = def.element?._zod.def;
    else if (typeof segment === 'string' && def.type === 'object') def = def.shape?.[segment]?._zod.def;
    else return undefined;
  }
  unwrap();
  return def?.type === 'object' && def.shape !== undefined ? Object.keys(def.shape) : undefined;
}

function editDistance(a: string, b: string): number {
  let previous = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    const current = [i];
    for (let j = 1; j <= b.length; j++) {
      current[j] = Math.min((previous[j] as number) + 1, (current[j - 1] as number) + 1, (previous[j - 1] as number) + (a[i - 1] === b[j - 1] ? 0 : 1));
    }
    previous = current;
  }
  return previous[b.length] as number;
}

/** The allowed key closest to `key` when it is a plausible typo, else undefined. */
export function suggestKey(key: string, allowed: readonly string[]): string | undefined {
  let best: { key: string; distance: number } | undefined;
  for (const candidate of allowed) {
    const distance = editDistance(key.toLowerCase(), candidate);
    if (best === undefined || distance < best.distance) best = { key: candidate, distance };
  }
  return best !== undefined && best.distance <= Math.max(1, Math.floor(best.key.length / 3)) ? best.key : undefined;
}

/** Describes a YAML value for a message: `the string "yes"`, `a list`, `an empty value`. */
export function describeValue(value: unknown): string {
  if (value === null || value === undefined) return 'an empty value';
  if (Array.isArray(value)) return 'a list';
  if (typeof value === 'object') return 'a mapping';
  if (typeof value === 'string') return `the string ${JSON.stringify(value)}`;
  if (typeof value === 'number') return Number.isInteger(value) ? `the integer ${value}` : `the number ${value}`;
  if (typeof value === 'boolean') return `the boolean ${value}`;
  return typeof value;
}

const EXPECTED: Readonly<Record<string, string>> = {
  string: 'a string',
  number: 'a number',
  int: 'an integer',
  boolean: 'true or false',
  array: 'a list',
  object: 'a mapping',
  record: 'a mapping',
  null: 'null',
};

function valueAt(root: unknown, segments: readonly PropertyKey[]): { found: boolean; value: unknown } {
  let value = root;
  for (const segment of segments) {
    if (value === null || typeof value !== 'object' || !Object.prototype.hasOwnProperty.call(value, segment)) return { found: false, value: undefined };
    value = (value as Record<PropertyKey, unknown>)[segment];
  }
  return { found: true, value };
}

function pathOf(issue: ZodIssue): YamlPathSegment[] {
  return issue.path.map((segment) => (typeof segment === 'number' ? segment : String(segment)));
}

function valueCode(segments: readonly YamlPathSegment[]): 'invalid_requires' | 'invalid_value' {
  return segments[0] === 'dependencies' && segments[1] === 'requires' ? 'invalid_requires' : 'invalid_value';
}

function isZodDefaultMessage(message: string): boolean {
  return /^(Invalid|Too (small|big)|Unrecognized)/.test(message);
}

function unknownKeyMessage(parent: readonly YamlPathSegment[], key: string): string {
  if (parent.length === 0 && key in PLATFORM_KEY_HINTS) return `"${key}" ${PLATFORM_KEY_HINTS[key as keyof typeof PLATFORM_KEY_HINTS]}`;
  const allowed = allowedKeysAt(parent) ?? [];
  const suggestion = suggestKey(key, allowed);
  const hint = suggestion === undefined ? `allowed keys: ${allowed.join(', ')}` : `did you mean "${suggestion}"?`;
  return `unknown key "${key}"; ${hint}`;
}

/** Records one validation issue per zod issue (one per key for unrecognized keys). */
export function reportSchemaIssues(issues: readonly ZodIssue[], raw: unknown, collector: IssueCollector): void {
  for (const issue of issues) {
    const segments = pathOf(issue);
    const { found, value } = valueAt(raw, issue.path);
    if (!found && issue.code !== 'unrecognized_keys') {
      collector.error('missing_field', segments, segments.at(-1) === 'schema_version' ? 'is required: add "schema_version: 1"' : 'is required', {
        anchor: 'key',
      });
      continue;
    }
    switch (issue.code) {
      case 'unrecognized_keys':
        for (const key of issue.keys) collector.error('unknown_key', [...segments, key], unknownKeyMessage(segments, key), { anchor: 'key' });
        break;
      case 'invalid_type': {
        const expected = EXPECTED[issue.expected] ?? issue.expected;
        const yes = issue.expected === 'boolean' && typeof value === 'string' && /^(yes|no|on|off|y|n|true|false)$/i.test(value);
        collector.error(
          'invalid_type',
          segments,
          `must be ${expected}, got ${describeValue(value)}${yes ? ' (YAML 1.2 reads only unquoted true and false as booleans)' : ''}`,
        );
        break;
      }
      case 'invalid_value': {
        const base = isZodDefaultMessage(issue.message) ? `must be one of ${issue.values.map((v) => JSON.stringify(v)).join(', ')}` : issue.message;
        collector.error('invalid_value', segments, `${base}, got ${describeValue(value)}`);
        break;
      }
      case 'invalid_format': {
        const got = typeof value === 'string' && issue.message.includes(value) ? '' : `, got ${describeValue(value)}`;
        collector.error(valueCode(segments), segments, `${issue.message}${got}`);
        break;
      }
      case 'too_small':
      case 'too_big': {
        const bound = issue.code === 'too_small' ? `at least ${String(issue.minimum)}` : `at most ${String(issue.maximum)}`;
        const base = !isZodDefaultMessage(issue.message)
          ? issue.message
          : issue.origin === 'string'
            ? `must be ${bound} characters long`
            : issue.origin === 'array'
              ? `must have ${bound} entries`
              : `must be ${bound}`;
        const got = typeof value === 'string' ? `, got ${value.length} characters` : `, got ${describeValue(value)}`;
        collector.error('invalid_value', segments, `${base}${got}`);
        break;
      }
      case 'custom':
        collector.error(valueCode(segments), segments, issue.message);
        break;
      default:
        collector.error('invalid_value', segments, issue.message);
    }
  }
}
