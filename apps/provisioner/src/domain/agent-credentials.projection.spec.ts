import { foldEvents } from '@powernode/events';
import { agentCredentialsProjection, instanceOfCredential } from './agent-credentials.projection.js';
import { INSTANCE_ID, provisionRequested, sha256, T1, terminated } from './provisioner-fixtures.test-support.js';

const enrolled = (credential: string) => ({
  type: 'InstanceEnrolled',
  data: { instance_id: INSTANCE_ID, credential_sha256: sha256(credential), agent_version: null, enrolled_at: T1 },
});

describe('agent credentials projection', () => {
  it('finds the instance of an enrolled credential by its digest, and nothing for another digest', () => {
    const state = foldEvents(agentCredentialsProjection, [provisionRequested(), enrolled('pnc_one')]);
    expect(instanceOfCredential(state, sha256('pnc_one'))).toBe(INSTANCE_ID);
    expect(instanceOfCredential(state, sha256('pnc_two'))).toBeNull();
    expect(instanceOfCredential(state, 'toString')).toBeNull();
  });

  it('revokes the credential when the instance is terminated', () => {
    const state = foldEvents(agentCredentialsProjection, [provisionRequested(), enrolled('pnc_one'), terminated('running')]);
    expect(instanceOfCredential(state, sha256('pnc_one'))).toBeNull();
    expect(state).toEqual({ by_digest: {}, by_instance: {} });
  });

  it('keeps only the latest credential of an instance', () => {
    const state = foldEvents(agentCredentialsProjection, [enrolled('pnc_one'), enrolled('pnc_two')]);
    expect(instanceOfCredential(state, sha256('pnc_one'))).toBeNull();
    expect(instanceOfCredential(state, sha256('pnc_two'))).toBe(INSTANCE_ID);
  });
});
