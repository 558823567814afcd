import { readFileSync } from 'node:fs';
import path from 'node:path';
import { PUBLIC_GOOD_TRUSTED_ROOT_PATH } from './public-good-root.js';
import { escapeRegExp, VECTORS_DIR } from './sigstore-fixtures.test-support.js';
import { loadTrustedRoot } from './trusted-root.js';
import { verifyBundle } from './verify-bundle.js';

describe('the shipped public-good trusted root', () => {
  it('is the root the offline vectors were proven with', () => {
    expect(readFileSync(PUBLIC_GOOD_TRUSTED_ROOT_PATH)).toEqual(readFileSync(path.join(VECTORS_DIR, 'trusted_root.json')));
  });

  it('verifies a real public-good signature offline, and only for its signer', () => {
    const trust = loadTrustedRoot(PUBLIC_GOOD_TRUSTED_ROOT_PATH, { name: 'public-good' });
    const dir = path.join(VECTORS_DIR, '02-msg-v0.3-happy');
    const expected = JSON.parse(readFileSync(path.join(dir, 'expect.json'), 'utf8')) as { san: string; issuer: string };
    const bundle = readFileSync(path.join(dir, 'bundle.json'));
    const artifact = readFileSync(path.join(dir, 'artifact'));
    const policy = { identity_regexp: escapeRegExp(expected.san), issuer_regexp: escapeRegExp(expected.issuer) };
    expect(verifyBundle({ bundle, artifact, policy, trust })).toMatchObject({ verified: true, signer_identity: expected.san, signer_issuer: expected.issuer });
    expect(verifyBundle({ bundle, artifact, policy: { ...policy, identity_regexp: 'https://github\\.com/someone-else/.*' }, trust })).toMatchObject({
      verified: false,
      reason_code: 'identity_mismatch',
    });
  });
});
