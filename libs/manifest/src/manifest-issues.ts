import type { ManifestIssueCode, ManifestValidationIssue, ManifestValidationResult } from '@powernode/contracts';
import { isAlias, isMap, isScalar, isSeq, type Document, type LineCounter, type Node } from 'yaml';

/** One step of a path into the manifest: a mapping key or a sequence index. */
export type YamlPathSegment = string | number;

/** Renders `['dependencies','requires',0]` as `dependencies.requires[0]`; keys that are not plain words are quoted. */
export function formatYamlPath(segments: readonly YamlPathSegment[]): string {
  let out = '';
  for (const segment of segments) {
    if (typeof segment === 'number') out += `[${segment}]`;
    else if (/^[A-Za-z_][A-Za-z0-9_-]*$/.test(segment)) out += out === '' ? segment : `.${segment}`;
    else out += `[${JSON.stringify(segment)}]`;
  }
  return out;
}

/** Where an issue points: at the value of the field (default) or at its key (unknown keys). */
export type IssueAnchor = 'value' | 'key';

/** Maps a path in the manifest to a 1-based line and column in the YAML text. */
export class YamlLocator {
  constructor(
    private readonly document: Document,
    private readonly lineCounter: LineCounter,
  ) {}

  /** Position of the node at `segments`, or of its nearest existing ancestor when the path does not exist. */
  locate(segments: readonly YamlPathSegment[], anchor: IssueAnchor = 'value'): { line: number; column: number } | undefined {
    let node: unknown = this.document.contents;
    let key: Node | undefined;
    let position = this.start(node as Node | null);
    for (const segment of segments) {
      if (isAlias(node)) node = node.resolve(this.document);
      if (isMap(node)) {
        const pair = node.items.find((p) => (isScalar(p.key) ? String(p.key.value) : String(p.key)) === String(segment));
        if (pair === undefined) return position;
        key = pair.key as Node;
        node = pair.value;
      } else if (isSeq(node) && typeof segment === 'number') {
        key = undefined;
        node = node.items[segment];
        if (node === undefined) return position;
      } else {
        return position;
      }
      const keyStart = this.start(key ?? null);
      const valueStart = this.emptyScalar(node) ? undefined : this.start(node as Node | null);
      position = anchor === 'key' ? (keyStart ?? valueStart) : (valueStart ?? keyStart);
      position ??= this.start(null);
    }
    return position;
  }

  /** Line and column of a character offset. */
  at(offset: number): { line: number; column: number } {
    const { line, col } = this.lineCounter.linePos(offset);
    return { line, column: col };
  }

  private emptyScalar(node: unknown): boolean {
    // `key:` with nothing after it has a zero-width null scalar; the key is the better place to point at.
    return isScalar(node) && node.range !== undefined && node.range !== null && node.range[0] === node.range[1];
  }

  private start(node: Node | null): { line: number; column: number } | undefined {
    const range = node?.range;
    return range === undefined || range === null ? undefined : this.at(range[0]);
  }
}

/** Collects errors and warnings with their YAML positions, and produces the validation result. */
export class IssueCollector {
  private readonly errors: ManifestValidationIssue[] = [];
  private readonly warnings: ManifestValidationIssue[] = [];
  locator: YamlLocator | undefined;

  /** Records an error at `segments`. */
  error(code: ManifestIssueCode, segments: readonly YamlPathSegment[], message: string, options: { anchor?: IssueAnchor; file?: string } = {}): void {
    this.errors.push(this.issue(code, segments, message, options));
  }

  /** Records a warning at `segments`. */
  warning(code: ManifestIssueCode, segments: readonly YamlPathSegment[], message: string, options: { anchor?: IssueAnchor; file?: string } = {}): void {
    this.warnings.push(this.issue(code, segments, message, options));
  }

  /** Records an issue whose position is already known (YAML parser errors); `segments` when a field is known too. */
  errorAt(code: ManifestIssueCode, position: { line: number; column: number } | undefined, message: string, segments: readonly YamlPathSegment[] = []): void {
    this.errors.push({ path: formatYamlPath(segments), message, code, ...position });
  }

  /** Records a warning whose position is already known. */
  warningAt(code: ManifestIssueCode, position: { line: number; column: number } | undefined, message: string): void {
    this.warnings.push({ path: '', message, code, ...position });
  }

  get errorCount(): number {
    return this.errors.length;
  }

  /** `{valid, errors, warnings}`, each list in document order. */
  result(): ManifestValidationResult {
    return { valid: this.errors.length === 0, errors: sortByPosition(this.errors), warnings: sortByPosition(this.warnings) };
  }

  private issue(
    code: ManifestIssueCode,
    segments: readonly YamlPathSegment[],
    message: string,
    options: { anchor?: IssueAnchor; file?: string },
  ): ManifestValidationIssue {
    const position = this.locator?.locate(segments, options.anchor);
    return {
      path: formatYamlPath(segments),
      message,
      code,
      ...(position === undefined ? {} : position),
      ...(options.file === undefined ? {} : { file: options.file }),
    };
  }
}

function sortByPosition(issues: readonly ManifestValidationIssue[]): ManifestValidationIssue[] {
  // A stable sort: issues without a position keep their relative order after the positioned ones.
  const key = (issue: ManifestValidationIssue) => (issue.line === undefined ? Number.MAX_SAFE_INTEGER : issue.line * 100_000 + (issue.column ?? 0));
  return [...issues].sort((a, b) => key(a) - key(b));
}
