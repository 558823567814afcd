import type { ManifestValidationIssue, ManifestValidationResult } from '@powernode/contracts';

function plural(count: number, word: string): string {
  return `${count} ${word}${count === 1 ? '' : 's'}`;
}

function issueLine(file: string, severity: 'error' | 'warning', issue: ManifestValidationIssue): string {
  const where = issue.line === undefined ? file : `${file}:${issue.line}:${issue.column ?? 1}`;
  return `${where} ${severity} ${issue.path === '' ? '(manifest)' : issue.path}: ${issue.message}`;
}

/**
 * Renders a validation result as compiler-style lines (`manifest.yaml:12:3 error dependencies.requires[0]: …`),
 * errors first, then warnings, then a summary line; `file` is how to name the manifest (default manifest.yaml).
 */
export function formatValidationReport(result: ManifestValidationResult, options: { file?: string } = {}): string {
  const file = options.file ?? 'manifest.yaml';
  const lines = [...result.errors.map((issue) => issueLine(file, 'error', issue)), ...result.warnings.map((issue) => issueLine(file, 'warning', issue))];
  const summary =
    result.errors.length > 0
      ? `${file}: invalid, ${plural(result.errors.length, 'error')}${result.warnings.length > 0 ? `, ${plural(result.warnings.length, 'warning')}` : ''}`
      : `${file}: valid${result.warnings.length > 0 ? `, ${plural(result.warnings.length, 'warning')}` : ''}`;
  return `${[...lines, summary].join('\n')}\n`;
}
