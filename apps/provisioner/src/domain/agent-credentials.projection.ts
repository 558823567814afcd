import { entryOf, setEntry } from '@powernode/events';
import { provisionerProjection } from './provisioner-projection.js';

/*
 * Which instance an agent credential belongs to, by the credential's SHA-256 (the credential itself is never
 * recorded). A terminated instance's credential is gone from the map: that is the revocation. Updated in place.
 */

export interface AgentCredentialsModel {
  /** credential SHA-256 (hex) → instance id */
  by_digest: Record<string, string>;
  /** instance id → credential SHA-256 (hex) */
  by_instance: Record<string, string>;
}

/** Credential digests of enrolled, not terminated instances. */
export const agentCredentialsProjection = provisionerProjection<AgentCredentialsModel>({
  name: 'provisioner-agent-credentials',
  version: 1,
  initialState: () => ({ by_digest: {}, by_instance: {} }),
  handlers: {
    InstanceEnrolled(state, event) {
      const { instance_id, credential_sha256 } = event.data;
      const previous = entryOf(state.by_instance, instance_id);
      if (previous !== undefined) delete state.by_digest[previous];
      setEntry(state.by_instance, instance_id, credential_sha256);
      setEntry(state.by_digest, credential_sha256, instance_id);
      return state;
    },
    InstanceTerminated(state, event) {
      const { instance_id } = event.data;
      const previous = entryOf(state.by_instance, instance_id);
      if (previous !== undefined) delete state.by_digest[previous];
      delete state.by_instance[instance_id];
      return state;
    },
  },
});

/** The instance holding the credential with this SHA-256, or null (never issued, or revoked by termination). */
export function instanceOfCredential(state: AgentCredentialsModel, credentialSha256: string): string | null {
  return entryOf(state.by_digest, credentialSha256) ?? null;
}
