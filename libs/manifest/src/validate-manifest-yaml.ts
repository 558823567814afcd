import { ModuleManifestSchema, PowernodeError, type ManifestValidationResult, type ModuleManifest } from '@powernode/contracts';
import { Composer, YAMLParseError, type CST, type Document, type YAMLError } from 'yaml';
import { IssueCollector, YamlLocator } from './manifest-issues.js';
import { checkManifestSemantics, type ManifestGlobs } from './manifest-semantics.js';
import { reportSchemaIssues } from './schema-issues.js';
import { readBoundedYamlTokens } from './yaml-nesting.js';

/** Manifests larger than this are refused before parsing (a manifest is a page of YAML, not a data file). */
export const MAX_MANIFEST_BYTES = 256 * 1024;
/** Bounds alias expansion so a small YAML text cannot expand into a huge value. */
const MAX_ALIAS_COUNT = 100;

/** Everything learned from one manifest text: the issues so far, and the parsed values for further checks. */
export interface ManifestAnalysis {
  readonly issues: IssueCollector;
  /** The YAML value, when the text parsed as a mapping. */
  readonly raw: Readonly<Record<string, unknown>> | undefined;
  /** The typed manifest, when the schema accepted it. */
  readonly manifest: ModuleManifest | undefined;
  /** The globs that compiled, per list (empty lists when the text did not parse). */
  readonly globs: ManifestGlobs;
}

const NO_GLOBS: ManifestGlobs = { mask: [], file_spec: [], protected_spec: [], dependency_spec: [] };

/** The parser's message and position, reworded where it speaks about the library rather than the manifest. */
function describeYamlError(error: YAMLError, text: string): { offset: number; message: string } {
  const offset = error.pos[0];
  switch (error.code) {
    case 'MULTIPLE_DOCS':
      return { offset, message: 'manifest.yaml holds more than one YAML document; keep a single document (remove the extra "---")' };
    case 'DUPLICATE_KEY': {
      const key = /^("[^"\n]*"|'[^'\n]*'|[^:\n]*)/.exec(text.slice(offset))?.[0].trim() ?? '';
      return {
        offset,
        message: `the key ${key.startsWith('"') || key.startsWith("'") ? key : JSON.stringify(key)} appears twice in the same mapping; keep one`,
      };
    }
    case 'MISSING_CHAR': {
      // The parser notices a missing closing quote at the end of the text; point at the quote that opened it.
      const quote = error.message.includes('"quote') ? '"' : error.message.includes("'quote") ? "'" : undefined;
      const opening = quote === undefined ? -1 : text.lastIndexOf(quote, offset - 1);
      if (opening !== -1) return { offset: opening, message: `the ${quote === '"' ? 'double' : 'single'}-quoted string that starts here is never closed` };
      return { offset, message: error.message };
    }
    default:
      return { offset, message: error.message };
  }
}

/**
 * The document of a syntax tree already read (and checked against the nesting bounds), as `parseDocument`
 * builds it from text: the first document, with MULTIPLE_DOCS recorded when there are more.
 */
function composeOneDocument(tokens: readonly CST.Token[], length: number): Document.Parsed {
  let document: Document.Parsed | undefined;
  for (const next of new Composer({ uniqueKeys: true, strict: true, version: '1.2' }).compose(tokens, true, length)) {
    if (document === undefined) {
      document = next;
    } else {
      document.errors.push(new YAMLParseError([next.range[0], next.range[1]], 'MULTIPLE_DOCS', 'Source contains multiple documents'));
      break;
    }
  }
  // compose() with forceDoc yields a document even for an empty text.
  return document!;
}

/** Parses and checks a manifest text: YAML syntax, schema, then field semantics; never throws for bad input. */
export function analyzeManifestYaml(yamlText: string): ManifestAnalysis {
  const issues = new IssueCollector();
  const empty = { issues, raw: undefined, manifest: undefined, globs: NO_GLOBS };
  if (Buffer.byteLength(yamlText, 'utf8') > MAX_MANIFEST_BYTES) {
    issues.error('manifest_too_large', [], `is ${Buffer.byteLength(yamlText, 'utf8')} bytes; a manifest may be at most ${MAX_MANIFEST_BYTES} bytes`);
    return empty;
  }
  if (yamlText.trim() === '') {
    issues.error('manifest_empty', [], 'the manifest is empty; start from "schema_version: 1" and "name: <module>"');
    return empty;
  }

  const read = readBoundedYamlTokens(yamlText);
  if (!read.ok) {
    const { excess } = read;
    issues.errorAt('manifest_too_deep', { line: excess.line, column: excess.column }, excess.message, excess.segments);
    return empty;
  }

  const { lineCounter } = read;
  const document = composeOneDocument(read.tokens, yamlText.length);
  const locator = new YamlLocator(document, lineCounter);
  issues.locator = locator;
  for (const error of document.errors) {
    const { offset, message } = describeYamlError(error, yamlText);
    issues.errorAt('yaml_syntax', locator.at(offset), `YAML syntax error: ${message}`);
  }
  for (const warning of document.warnings) issues.warningAt('yaml_warning', locator.at(warning.pos[0]), `YAML: ${warning.message}`);
  if (issues.errorCount > 0) return empty;

  let value: unknown;
  try {
    value = document.toJS({ maxAliasCount: MAX_ALIAS_COUNT });
  } catch (error) {
    issues.errorAt('yaml_syntax', { line: 1, column: 1 }, `YAML cannot be read: ${(error as Error).message}`);
    return empty;
  }
  if (value === null || value === undefined) {
    issues.error('manifest_empty', [], 'the manifest has no content; start from "schema_version: 1" and "name: <module>"');
    return empty;
  }
  if (typeof value !== 'object' || Array.isArray(value)) {
    issues.error('not_a_mapping', [], `the manifest must be a mapping of keys to values, got ${Array.isArray(value) ? 'a list' : `a ${typeof value}`}`);
    return empty;
  }
  const raw = value as Record<string, unknown>;

  const parsed = ModuleManifestSchema.safeParse(raw);
  if (!parsed.success) reportSchemaIssues(parsed.error.issues, raw, issues);
  const globs = checkManifestSemantics(raw, issues);
  return { issues, raw, manifest: parsed.success ? parsed.data : undefined, globs };
}

/** Validates manifest.yaml text: `{valid, errors:[{path, message, line, column}], warnings}` (MCP system_validate_module_manifest). */
export function validateManifestYaml(yamlText: string): ManifestValidationResult {
  return analyzeManifestYaml(yamlText).issues.result();
}

/** Reads a manifest for use (build, ingest): the typed manifest, or `manifest_invalid` listing every error. */
export function parseModuleManifestYaml(yamlText: string): ModuleManifest {
  const analysis = analyzeManifestYaml(yamlText);
  const result = analysis.issues.result();
  if (!result.valid || analysis.manifest === undefined) {
    const lines = result.errors.map((e) => `${e.line === undefined ? '' : `line ${e.line}: `}${e.path === '' ? '' : `${e.path}: `}${e.message}`);
    throw new PowernodeError('manifest_invalid', `manifest.yaml is invalid: ${lines.join('; ')}`, { details: { errors: result.errors } });
  }
  return analysis.manifest;
}
