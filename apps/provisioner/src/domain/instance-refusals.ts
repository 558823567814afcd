import { PowernodeError } from '@powernode/contracts';
import type { InstanceRecord, InstanceState } from './instance.decider.js';

/** The instance record, or `not_found` naming how to get one. */
export function existingInstance(state: InstanceState, instanceId: string): InstanceRecord {
  if (state.status === 'none') {
    throw new PowernodeError('not_found', `instance ${instanceId} not found: provision one with system_provision_instance`, {
      details: { instance_id: instanceId, rule: 'instance_must_exist' },
    });
  }
  return state;
}

/** `conflict` for something a terminated instance's agent still attempted (it should shut down). */
export function refuseTerminated(instance: InstanceRecord, what: string): never {
  throw new PowernodeError('conflict', `instance ${instance.instance_id} is terminated: ${what} is refused; its agent should shut down`, {
    details: { instance_id: instance.instance_id, instance_status: instance.status, rule: 'instance_terminated' },
  });
}
