import { PROMOTION_STATES, PROMOTION_TRANSITIONS, type ModuleVersionReverifiedData, type PromotionState } from '@powernode/contracts';
import type { CatalogView } from '@powernode/dependencies';
import { given } from '@powernode/testing';
import { moduleVersionDecider, type ApprovalFact, type ModuleVersionCommand, type ModuleVersionEvent } from './module-version.decider.js';
import { T1, T2, builtData, digestOf, rejectedData } from './catalog-fixtures.test-support.js';

const build = builtData();
const VERSION_ID = build.version_id;
const built: ModuleVersionEvent = { type: 'ModuleVersionBuilt', data: build };
const unverified: ModuleVersionEvent = {
  type: 'ModuleVersionBuilt',
  data: builtData({ cosign_verified: false, verification_reason: 'identity does not match ^(?:https://gitea\\.example\\.com/acme/.*)$' }),
};

const moved = (from: PromotionState, to: PromotionState, extra: Partial<{ approval_id: string | null; promoted_by: string }> = {}): ModuleVersionEvent => ({
  type: 'ModuleVersionPromoted',
  data: {
    version_id: VERSION_ID,
    module_id: build.module_id,
    module_name: 'my-redis',
    version_string: '0.1.0',
    from,
    to,
    promoted_by: 'alice',
    approval_id: null,
    promoted_at: T1,
    ...extra,
  },
});

/** History that puts the version in `state` through allowed moves. */
function historyAt(state: PromotionState): ModuleVersionEvent[] {
  switch (state) {
    case 'built':
      return [built];
    case 'staging':
      return [built, moved('built', 'staging')];
    case 'blessed':
      return [built, moved('built', 'staging'), moved('staging', 'blessed')];
    case 'live':
      return [built, moved('built', 'staging'), moved('staging', 'blessed'), moved('blessed', 'live')];
    case 'retired':
      return [built, moved('built', 'retired')];
  }
}

const promotedDeps: CatalogView = { 'system-base': { requires: [], versions: [{ version: '1.2.0', promotion_state: 'staging' }] } };

function promote(to: string, overrides: Partial<Extract<ModuleVersionCommand, { type: 'PromoteVersion' }>> = {}): ModuleVersionCommand {
  return {
    type: 'PromoteVersion',
    to,
    requested_by: 'alice',
    approval_policy: 'auto_approve',
    dependencies: promotedDeps,
    approval: null,
    now: T1,
    ...overrides,
  };
}

describe('module version decider: the promotion state machine of CONTRACT §2', () => {
  const allowed = PROMOTION_STATES.flatMap((from) => PROMOTION_TRANSITIONS[from].map((to) => [from, to] as const));
  const refused = PROMOTION_STATES.flatMap((from) =>
    PROMOTION_STATES.filter((to) => !PROMOTION_TRANSITIONS[from].includes(to)).map((to) => [from, to] as const),
  );

  it('allows exactly built→staging|retired, staging→blessed|built|retired, blessed→live|retired, live→retired', () => {
    expect(allowed).toEqual([
      ['built', 'staging'],
      ['built', 'retired'],
      ['staging', 'blessed'],
      ['staging', 'built'],
      ['staging', 'retired'],
      ['blessed', 'live'],
      ['blessed', 'retired'],
      ['live', 'retired'],
    ]);
  });

  it.each(allowed)('promotes %s → %s', (from, to) => {
    given(moduleVersionDecider, historyAt(from))
      .when(promote(to))
      .then([moved(from, to)]);
  });

  it.each(refused)('refuses %s → %s (invalid_transition)', (from, to) => {
    given(moduleVersionDecider, historyAt(from))
      .when(promote(to))
      .thenRefuses({ code: 'invalid_transition', rule: 'transition_allowed', message: new RegExp(`^cannot promote ${from} to ${to}`) });
  });

  it('names the allowed targets, or says retired is final', () => {
    given(moduleVersionDecider, historyAt('built'))
      .when(promote('live'))
      .thenRefuses({ code: 'invalid_transition', message: /allowed from built: staging, retired/ });
    given(moduleVersionDecider, historyAt('retired'))
      .when(promote('staging'))
      .thenRefuses({ code: 'invalid_transition', message: /none, it is final/ });
  });

  it('refuses a target that is not a promotion state (archived)', () => {
    given(moduleVersionDecider, historyAt('built')).when(promote('archived')).thenRefuses({ code: 'validation_failed', rule: 'target_state_known' });
  });

  it('refuses to promote a version that does not exist', () => {
    given(moduleVersionDecider, []).when(promote('staging')).thenRefuses({ code: 'not_found', rule: 'version_exists' });
  });

  it('records who promoted and when', () => {
    const [event] = given(moduleVersionDecider, historyAt('built'))
      .when(promote('retired', { requested_by: 'bob', now: T2 }))
      .events();
    expect(event).toMatchObject({ type: 'ModuleVersionPromoted', data: { promoted_by: 'bob', promoted_at: T2, approval_id: null } });
  });
});

describe('module version decider: signature guard', () => {
  it.each(['staging'])('refuses an unverified version → %s (unverified_signature, with the reason)', (to) => {
    given(moduleVersionDecider, [unverified])
      .when(promote(to))
      .thenRefuses({ code: 'unverified_signature', rule: 'verified_signature_required', message: /identity does not match/ });
  });

  it('lets an unverified version be retired', () => {
    given(moduleVersionDecider, [unverified])
      .when(promote('retired'))
      .then([moved('built', 'retired')]);
  });

  it('refuses a rejected build anything but retirement', () => {
    const rejected: ModuleVersionEvent = { type: 'ModuleVersionRejected', data: rejectedData() };
    given(moduleVersionDecider, [rejected])
      .when(promote('staging'))
      .thenRefuses({ code: 'invalid_transition', rule: 'rejected_version_only_retires', message: /digest_mismatch/ });
    given(moduleVersionDecider, [rejected])
      .when(promote('retired'))
      .then([moved('built', 'retired')]);
  });

  it('retires a rejected build whose tag is not semver under its tag', () => {
    const rejected: ModuleVersionEvent = {
      type: 'ModuleVersionRejected',
      data: rejectedData({ tag: 'nightly', version_string: null, reason_code: 'not_semver', reason: 'tag is not semver' }),
    };
    const [event] = given(moduleVersionDecider, [rejected]).when(promote('retired')).events();
    expect(event).toMatchObject({ type: 'ModuleVersionPromoted', data: { version_string: 'nightly', from: 'built', to: 'retired' } });
  });

  it('refuses to move a retired rejected build', () => {
    const rejected: ModuleVersionEvent = { type: 'ModuleVersionRejected', data: rejectedData() };
    given(moduleVersionDecider, [rejected, moved('built', 'retired')])
      .when(promote('retired'))
      .thenRefuses({ code: 'invalid_transition', rule: 'transition_allowed' });
  });
});

describe('module version decider: entering staging needs promoted dependencies', () => {
  const requiring = (requires: string[]): ModuleVersionEvent => ({
    type: 'ModuleVersionBuilt',
    data: builtData({ manifest: { schema_version: 1, name: 'my-redis', dependencies: { requires } } }),
  });

  it('enters staging when every requirement resolves to a version at staging or above', () => {
    const deps: CatalogView = {
      'system-base': { requires: [], versions: [{ version: '1.0.0', promotion_state: 'live' }] },
      'security-hardening': { requires: [], versions: [{ version: '1.3.0', promotion_state: 'blessed' }] },
    };
    given(moduleVersionDecider, [requiring(['powernode/system-base@^1.0', 'powernode/security-hardening@~1.3'])])
      .when(promote('staging', { dependencies: deps }))
      .then([moved('built', 'staging')]);
  });

  it('refuses with dependency_not_promoted listing each unmet requirement', () => {
    const deps: CatalogView = {
      'system-base': {
        requires: [],
        versions: [
          { version: '1.4.0', promotion_state: 'built' },
          { version: '1.0.0', promotion_state: 'retired' },
        ],
      },
      'security-hardening': { requires: [], versions: [{ version: '2.0.0', promotion_state: 'live' }] },
      chrony: { requires: [], versions: [{ version: '1.0.0', promotion_state: 'staging' }] },
    };
    const history = [requiring(['powernode/system-base@^1.0', 'powernode/security-hardening@^1.0', 'powernode/ghost@*', 'powernode/chrony@=1.0.0'])];
    given(moduleVersionDecider, history)
      .when(promote('staging', { dependencies: deps }))
      .thenRefuses({
        code: 'dependency_not_promoted',
        rule: 'dependencies_at_staging_or_above',
        message: /system-base.*1\.4\.0 is built.*security-hardening.*available: 2\.0\.0.*ghost is not in the catalog/,
      });
    let details: unknown;
    try {
      given(moduleVersionDecider, history)
        .when(promote('staging', { dependencies: deps }))
        .events();
    } catch (error) {
      details = (error as { details: unknown }).details;
    }
    expect(details).toMatchObject({
      unmet: [
        {
          requirement: 'powernode/system-base@^1.0',
          module: 'system-base',
          range: '^1.0',
          reason: 'not_promoted',
          in_range: [
            { version: '1.4.0', promotion_state: 'built' },
            { version: '1.0.0', promotion_state: 'retired' },
          ],
        },
        { requirement: 'powernode/security-hardening@^1.0', module: 'security-hardening', reason: 'no_version_in_range', available: ['2.0.0'] },
        { requirement: 'powernode/ghost@*', module: 'ghost', reason: 'module_missing' },
      ],
    });
  });

  it('does not check dependencies for moves other than into staging', () => {
    given(moduleVersionDecider, [requiring(['powernode/ghost@*'])])
      .when(promote('retired', { dependencies: {} }))
      .then([moved('built', 'retired')]);
    given(moduleVersionDecider, [requiring(['powernode/ghost@*']), moved('built', 'staging')])
      .when(promote('blessed', { dependencies: {} }))
      .then([moved('staging', 'blessed')]);
  });
});

describe('module version decider: live goes through the approval policy', () => {
  const approval = (status: ApprovalFact['status'], version_id = VERSION_ID): ApprovalFact => ({
    approval_id: 'ap-1',
    version_id,
    status,
    approved_by: status === 'granted' ? 'carol' : null,
  });

  it('refuses blessed → live without an approval under require_approval (approval_required)', () => {
    given(moduleVersionDecider, historyAt('blessed'))
      .when(promote('live', { approval_policy: 'require_approval' }))
      .thenRefuses({ code: 'approval_required', rule: 'live_requires_approval' });
  });

  it('promotes blessed → live with a granted approval, recording its id', () => {
    given(moduleVersionDecider, historyAt('blessed'))
      .when(promote('live', { approval_policy: 'require_approval', approval: approval('granted'), requested_by: 'carol' }))
      .then([moved('blessed', 'live', { approval_id: 'ap-1', promoted_by: 'carol' })]);
  });

  it('promotes blessed → live directly under the auto_approve override', () => {
    given(moduleVersionDecider, historyAt('blessed'))
      .when(promote('live', { approval_policy: 'auto_approve' }))
      .then([moved('blessed', 'live')]);
  });

  it.each([
    ['pending', 'approval_required', 'live_requires_approval'],
    ['rejected', 'approval_required', 'live_requires_approval'],
    ['expired', 'approval_expired', 'approval_not_expired'],
  ] as const)('refuses an approval that is %s (%s)', (status, code, rule) => {
    given(moduleVersionDecider, historyAt('blessed'))
      .when(promote('live', { approval_policy: 'require_approval', approval: approval(status) }))
      .thenRefuses({ code, rule });
  });

  it('refuses an approval granted for another version', () => {
    given(moduleVersionDecider, historyAt('blessed'))
      .when(promote('live', { approval_policy: 'require_approval', approval: approval('granted', 'other-version') }))
      .thenRefuses({ code: 'validation_failed', rule: 'approval_matches_version' });
  });

  it('checks the transition before the approval: a granted approval does not take built to live', () => {
    given(moduleVersionDecider, historyAt('built'))
      .when(promote('live', { approval_policy: 'require_approval', approval: approval('granted') }))
      .thenRefuses({ code: 'invalid_transition' });
  });
});

describe('module version decider: recording builds', () => {
  it('records a first build', () => {
    given(moduleVersionDecider, []).when({ type: 'RecordBuild', build }).then([built]);
  });

  it('is idempotent for a redelivered build', () => {
    given(moduleVersionDecider, [built]).when({ type: 'RecordBuild', build }).then([]);
  });

  it('replaces the facts of a version still at built (rebuild of the tag, or re-verified signature)', () => {
    const rebuilt = builtData({ oci_digest: digestOf('e'), built_at: T1 });
    given(moduleVersionDecider, [built])
      .when({ type: 'RecordBuild', build: rebuilt })
      .then([{ type: 'ModuleVersionBuilt', data: rebuilt }]);
    given(moduleVersionDecider, [unverified]).when({ type: 'RecordBuild', build }).then([built]);
  });

  it('keeps a promoted version: the same build again is a no-op, a different one is refused', () => {
    given(moduleVersionDecider, historyAt('staging'))
      .when({ type: 'RecordBuild', build: { ...build, built_at: T2 } })
      .then([]);
    given(moduleVersionDecider, historyAt('staging'))
      .when({ type: 'RecordBuild', build: builtData({ oci_digest: digestOf('e') }) })
      .thenRefuses({ code: 'already_exists', rule: 'promoted_version_immutable', message: /publish a new tag/ });
  });

  it('records a successful build of a tag that was rejected before', () => {
    given(moduleVersionDecider, [{ type: 'ModuleVersionRejected', data: rejectedData() }])
      .when({ type: 'RecordBuild', build })
      .then([built]);
  });

  it('refuses a build of a retired rejected tag (retired is final)', () => {
    given(moduleVersionDecider, [{ type: 'ModuleVersionRejected' as const, data: rejectedData() }, moved('built', 'retired')])
      .when({ type: 'RecordBuild', build })
      .thenRefuses({ code: 'invalid_transition', rule: 'retired_is_final' });
  });

  it.each([
    ['a version id not derived from module and tag', { version_id: 'f00' }, 'validation_failed', 'version_id_derived'],
    ['a version string that is not the tag’s', { version_string: '0.2.0' }, 'validation_failed', 'version_string_from_tag'],
    ['a manifest naming another module', { manifest: { schema_version: 1, name: 'other' } }, 'manifest_invalid', 'manifest_name_matches'],
  ] as const)('refuses %s', (_name, overrides, code, rule) => {
    given(moduleVersionDecider, [])
      .when({ type: 'RecordBuild', build: { ...build, ...overrides } })
      .thenRefuses({ code, rule });
  });

  it('refuses a tag that is not semver (not_semver) and an invalid manifest (manifest_invalid)', () => {
    given(moduleVersionDecider, [])
      .when({ type: 'RecordBuild', build: builtData({ tag: 'latest', version_string: 'latest' }) })
      .thenRefuses({ code: 'not_semver' });
    given(moduleVersionDecider, [])
      .when({ type: 'RecordBuild', build: { ...build, manifest: { name: 'my-redis' } } })
      .thenRefuses({ code: 'manifest_invalid' });
  });

  it('reads requires and provides from the manifest into state', () => {
    const state = given(moduleVersionDecider, [built]).state;
    expect(state.status === 'available' && [state.version.requires, state.version.promotion_state]).toEqual([['powernode/system-base@^1.0'], 'built']);
  });
});

describe('module version decider: recording rejections', () => {
  const rejection = rejectedData();

  it('records a rejection, and a redelivered identical one once', () => {
    given(moduleVersionDecider, [])
      .when({ type: 'RecordRejection', rejection })
      .then([{ type: 'ModuleVersionRejected', data: rejection }]);
    given(moduleVersionDecider, [{ type: 'ModuleVersionRejected', data: rejection }])
      .when({ type: 'RecordRejection', rejection })
      .then([]);
  });

  it('replaces a rejection with a different reason', () => {
    const again = rejectedData({ reason_code: 'fsverity_mismatch', reason: 'root hash differs' });
    given(moduleVersionDecider, [{ type: 'ModuleVersionRejected', data: rejection }])
      .when({ type: 'RecordRejection', rejection: again })
      .then([{ type: 'ModuleVersionRejected', data: again }]);
  });

  it('ignores a registry outage while redelivering a recorded build', () => {
    given(moduleVersionDecider, [built])
      .when({ type: 'RecordRejection', rejection: rejectedData({ reason_code: 'registry_unreachable', reason: 'connect ECONNREFUSED' }) })
      .then([]);
  });

  it('records a rejected rebuild of a version still at built', () => {
    given(moduleVersionDecider, [built])
      .when({ type: 'RecordRejection', rejection })
      .then([{ type: 'ModuleVersionRejected', data: rejection }]);
  });

  it('refuses a rejection for a promoted version', () => {
    given(moduleVersionDecider, historyAt('live'))
      .when({ type: 'RecordRejection', rejection })
      .thenRefuses({ code: 'already_exists', rule: 'promoted_version_immutable' });
  });

  it('refuses a rejection whose version id is not derived', () => {
    given(moduleVersionDecider, [])
      .when({ type: 'RecordRejection', rejection: { ...rejection, version_id: 'x' } })
      .thenRefuses({ code: 'validation_failed', rule: 'version_id_derived' });
  });
});

describe('module version decider: re-verification after a trust-policy edit', () => {
  const reverified = (overrides: Partial<ModuleVersionReverifiedData> = {}): ModuleVersionReverifiedData => ({
    version_id: VERSION_ID,
    module_id: build.module_id,
    module_name: 'my-redis',
    version_string: '0.1.0',
    oci_digest: build.oci_digest,
    cosign_verified: false,
    signer_identity: 'https://gitea.example.com/acme/other/.gitea/workflows/build.yaml@refs/tags/v0.1.0',
    signer_issuer: 'https://gitea.example.com',
    verification_reason: 'identity_mismatch: signer identity does not match',
    cosign_identity_regexp: 'https://gitea\\.example\\.com/acme/modules/.*',
    cosign_issuer_regexp: 'https://gitea\\.example\\.com',
    requested_by: 'alice',
    reverified_at: T1,
    ...overrides,
  });
  const reverify = (data: ModuleVersionReverifiedData): ModuleVersionCommand => ({ type: 'RecordReverification', reverification: data });

  it('records a verdict that changed', () => {
    const data = reverified();
    given(moduleVersionDecider, [built])
      .when(reverify(data))
      .then([{ type: 'ModuleVersionReverified', data }]);
  });

  it('records nothing when the verdict is unchanged', () => {
    given(moduleVersionDecider, [built])
      .when(reverify(reverified({ cosign_verified: true, verification_reason: undefined })))
      .then([]);
    const lost = reverified();
    given(moduleVersionDecider, [built, { type: 'ModuleVersionReverified', data: lost }])
      .when(reverify(lost))
      .then([]);
  });

  it('verifies an unverified version once the policy matches its signer', () => {
    const data = reverified({ cosign_verified: true, verification_reason: undefined });
    given(moduleVersionDecider, [unverified])
      .when(reverify(data))
      .then([{ type: 'ModuleVersionReverified', data }]);
    given(moduleVersionDecider, [unverified, { type: 'ModuleVersionReverified', data }])
      .when(promote('staging'))
      .then([moved('built', 'staging')]);
  });

  it('keeps the promotion state of a live version that loses its verification, which can then only be retired', () => {
    const lost: ModuleVersionEvent = { type: 'ModuleVersionReverified', data: reverified() };
    const history = [...historyAt('live'), lost];
    const state = given(moduleVersionDecider, history).state;
    expect(state).toMatchObject({ status: 'available', version: { promotion_state: 'live', cosign_verified: false } });
    given(moduleVersionDecider, history)
      .when(promote('retired'))
      .then([moved('live', 'retired')]);
  });

  it('refuses every move but retired for a staging version that lost its verification, re-bake to built included', () => {
    const history = [...historyAt('staging'), { type: 'ModuleVersionReverified', data: reverified() } as ModuleVersionEvent];
    given(moduleVersionDecider, history)
      .when(promote('blessed'))
      .thenRefuses({ code: 'unverified_signature', rule: 'verified_signature_required', message: /identity_mismatch/ });
    given(moduleVersionDecider, history).when(promote('built')).thenRefuses({ code: 'unverified_signature', rule: 'verified_signature_required' });
    given(moduleVersionDecider, history)
      .when(promote('retired'))
      .then([moved('staging', 'retired')]);
  });

  it('refuses to re-verify a version that does not exist', () => {
    given(moduleVersionDecider, []).when(reverify(reverified())).thenRefuses({ code: 'not_found', rule: 'version_exists' });
  });

  it('refuses to re-verify a version rejected at ingest', () => {
    given(moduleVersionDecider, [{ type: 'ModuleVersionRejected', data: rejectedData() }])
      .when(reverify(reverified()))
      .thenRefuses({ code: 'conflict', rule: 'rejected_version_not_reverified' });
  });

  it('refuses a verdict about another build than the one the version holds', () => {
    given(moduleVersionDecider, [built])
      .when(reverify(reverified({ oci_digest: digestOf('z') })))
      .thenRefuses({ code: 'conflict', rule: 'reverified_digest_current' });
  });

  it('refuses a verdict addressed to another version', () => {
    given(moduleVersionDecider, [built])
      .when(reverify(reverified({ version_id: 'other' })))
      .thenRefuses({ code: 'validation_failed', rule: 'version_id_matches' });
  });
});
