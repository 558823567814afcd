import type { ProvisionerEvent } from '@powernode/contracts';
import { instanceNeedingReconcile, runsOnHost } from './instance-reactions.js';

const ID = '0190d6a4-0000-7000-8000-000000000001';
const AT = '2026-01-01T00:00:00.000Z';

function statusChanged(from: string, to: string): ProvisionerEvent {
  return { type: 'InstanceStatusChanged', data: { instance_id: ID, from, to, reason: 'test', changed_at: AT } } as ProvisionerEvent;
}

describe('instanceNeedingReconcile: which events make the provisioner act on its driver', () => {
  it('given a provision request, names the instance (the driver creates and starts it)', () => {
    const event = {
      type: 'InstanceProvisionRequested',
      data: {
        instance_id: ID,
        node_id: ID,
        hostname: 'web-1',
        node_template_id: ID,
        driver: 'local',
        provisioner_host: 'hv-1',
        enrolment_token_sha256: 'a'.repeat(64),
        enrolment_expires_at: AT,
        requested_by: 'operator',
        requested_at: AT,
      },
    } as ProvisionerEvent;
    expect(instanceNeedingReconcile(event)).toBe(ID);
  });

  it('given a termination, names the instance (the driver destroys it)', () => {
    const event: ProvisionerEvent = {
      type: 'InstanceTerminated',
      data: { instance_id: ID, from: 'running', reason: 'x', terminated_by: 'operator', terminated_at: AT },
    };
    expect(instanceNeedingReconcile(event)).toBe(ID);
  });

  it("given an operator's stop or start, names the instance", () => {
    expect(instanceNeedingReconcile(statusChanged('running', 'stopping'))).toBe(ID);
    expect(instanceNeedingReconcile(statusChanged('stopped', 'starting'))).toBe(ID);
    expect(instanceNeedingReconcile(statusChanged('error', 'starting'))).toBe(ID);
  });

  it("given the reconciler's own steps and the agent's reports, asks for nothing", () => {
    expect(instanceNeedingReconcile(statusChanged('pending', 'provisioning'))).toBeNull();
    expect(instanceNeedingReconcile(statusChanged('provisioning', 'starting'))).toBeNull();
    expect(instanceNeedingReconcile(statusChanged('starting', 'running'))).toBeNull();
    expect(instanceNeedingReconcile(statusChanged('running', 'error'))).toBeNull();
    expect(instanceNeedingReconcile(statusChanged('stopping', 'stopped'))).toBeNull();
    const heartbeat = { type: 'InstanceHeartbeatStale', data: { instance_id: ID } } as unknown as ProvisionerEvent;
    expect(instanceNeedingReconcile(heartbeat)).toBeNull();
  });
});

describe('runsOnHost: host affinity', () => {
  it('an instance runs on the host it was provisioned on, and only there', () => {
    expect(runsOnHost({ provisioner_host: 'hv-1' }, 'hv-1')).toBe(true);
    expect(runsOnHost({ provisioner_host: 'hv-1' }, 'hv-2')).toBe(false);
  });

  it('an instance recorded before hosts were named runs on any host', () => {
    expect(runsOnHost({ provisioner_host: null }, 'hv-2')).toBe(true);
  });
});
