import { PowernodeError } from '@powernode/contracts';

/** Wraps a policy pattern so it must match the whole value (`^(?:…)$`); our code anchors, never the user. */
export function anchorTrustPattern(pattern: string): string {
  return `^(?:${pattern})$`;
}

/**
 * Checks a cosign identity or issuer pattern: non-empty and compiles once anchored. Refuses with
 * `validation_failed` naming the field and the compiler's reason.
 */
export function assertTrustPatternCompiles(field: 'cosign_identity_regexp' | 'cosign_issuer_regexp', pattern: string): void {
  if (pattern.trim() === '') {
    throw new PowernodeError('validation_failed', `${field} is empty: give the pattern the signer's certificate must match, e.g. ^https://gitea\\.example\\.com/acme/my-module/`, {
      details: { field, rule: 'trust_pattern_required' },
    });
  }
  try {
    new RegExp(anchorTrustPattern(pattern));
  } catch (error) {
    throw new PowernodeError('validation_failed', `${field} does not compile as a regular expression (${(error as Error).message}): fix the pattern`, {
      details: { field, pattern, rule: 'trust_pattern_compiles' },
      cause: error,
    });
  }
}
