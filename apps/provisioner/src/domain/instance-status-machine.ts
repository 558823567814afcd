import { INSTANCE_STATUSES, instanceStatusSchema, PowernodeError, type InstanceStatus } from '@powernode/contracts';

/*
 * The NodeInstance status machine (CONTRACT §2). Derived from the reference platform's AASM table with two
 * deliberate changes: `terminated` is reachable from every status (destroying a sandbox or a domain works
 * whatever it is doing, and a stuck instance must be removable), and `error` is left only by `start` or
 * termination. Entering `running` happens on the agent's heartbeat.
 */
export const INSTANCE_TRANSITIONS: Readonly<Record<InstanceStatus, readonly InstanceStatus[]>> = {
  pending: ['provisioning', 'running', 'error', 'terminated'],
  provisioning: ['starting', 'running', 'error', 'terminated'],
  starting: ['running', 'stopping', 'error', 'terminated'],
  running: ['stopping', 'stopped', 'rebooting', 'error', 'terminated'],
  stopping: ['stopped', 'error', 'terminated'],
  stopped: ['starting', 'terminated'],
  rebooting: ['running', 'error', 'terminated'],
  error: ['starting', 'terminated'],
  terminated: [],
};

/** Statuses in which the first heartbeat of an agent means the instance is now running. */
export const STATUSES_A_HEARTBEAT_MARKS_RUNNING: readonly InstanceStatus[] = ['pending', 'provisioning', 'starting', 'rebooting'];

/** True when the status machine allows `from → to`. */
export function isInstanceTransitionAllowed(from: InstanceStatus, to: InstanceStatus): boolean {
  return INSTANCE_TRANSITIONS[from].includes(to);
}

/** The target status as an InstanceStatus, or `validation_failed` listing the statuses. */
export function parseInstanceStatus(value: string): InstanceStatus {
  const parsed = instanceStatusSchema.safeParse(value);
  if (parsed.success) return parsed.data;
  throw new PowernodeError('validation_failed', `"${value}" is not an instance status: use one of ${INSTANCE_STATUSES.join(', ')}`, {
    details: { field: 'to', value, allowed: [...INSTANCE_STATUSES], rule: 'instance_status_value' },
  });
}

/** Refuses `from → to` with `invalid_transition` naming both and what `from` allows. */
export function assertInstanceTransition(instanceId: string, from: InstanceStatus, to: InstanceStatus): void {
  if (isInstanceTransitionAllowed(from, to)) return;
  const allowed = INSTANCE_TRANSITIONS[from];
  throw new PowernodeError(
    'invalid_transition',
    `cannot move instance ${instanceId} from ${from} to ${to} (allowed from ${from}: ${allowed.length === 0 ? 'none' : allowed.join(', ')})`,
    { details: { instance_id: instanceId, from, to, allowed: [...allowed], rule: 'instance_status_machine' } },
  );
}
