/** A validation issue as the API reports it (problem+json `issues`) and as the form shows it: a path and a message. */
export interface FieldIssue {
  path: string;
  message: string;
}

/**
 * Errors by form field: each issue goes to the field its path starts with; an issue for no field of the form
 * (or with no path) goes under `_form`, shown above the buttons.
 */
export function fieldErrors(issues: readonly FieldIssue[], fields: readonly string[]): Record<string, string> {
  const out: Record<string, string> = {};
  for (const issue of issues) {
    const head = issue.path.split(/[.[]/, 1)[0] ?? '';
    const key = fields.includes(head) ? head : '_form';
    const text = key === '_form' && issue.path ? `${issue.path}: ${issue.message}` : issue.message;
    out[key] = out[key] ? `${out[key]}; ${text}` : text;
  }
  return out;
}
