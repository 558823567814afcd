import { PowernodeError } from '@powernode/contracts';
import { compileTrustPattern } from '@powernode/sigstore';

export { anchorTrustPattern } from '@powernode/sigstore';

/**
 * Checks a cosign identity or issuer pattern as ingest will match it (RE2, anchored): non-empty, and valid RE2
 * syntax on its own and once anchored. Refuses with `validation_failed` naming the field and the reason.
 */
export function assertTrustPatternCompiles(field: 'cosign_identity_regexp' | 'cosign_issuer_regexp', pattern: string): void {
  const compilation = compileTrustPattern(pattern);
  if (compilation.ok) return;
  if (compilation.rule === 'trust_pattern_required') {
    throw new PowernodeError(
      'validation_failed',
      `${field} is empty: give the pattern the signer's certificate must match, e.g. https://gitea\\.example\\.com/acme/my-module/.*`,
      {
        details: { field, rule: compilation.rule },
      },
    );
  }
  throw new PowernodeError('validation_failed', `${field} ${compilation.reason}: fix the pattern`, {
    details: { field, pattern, rule: compilation.rule },
  });
}
