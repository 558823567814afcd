import {
  catalogEventDefinitions,
  isProvisionerEventType,
  provisionerEventDefinitions,
  provisionerEventSchemas,
  provisionerStreams,
} from '@powernode/contracts';
import { heartbeatReceived, nodeCreated, provisionRequested, sha256, T0 } from './provisioner-fixtures.test-support.js';

describe('provisioner event schemas', () => {
  it('defines every event type once, at schema version 1, without clashing with catalog types', () => {
    const types = provisionerEventDefinitions.map((d) => d.type);
    expect(new Set(types).size).toBe(types.length);
    expect(provisionerEventDefinitions.every((d) => d.schema_version === 1)).toBe(true);
    const catalogTypes = new Set(catalogEventDefinitions.map((d) => d.type as string));
    expect(types.filter((t) => catalogTypes.has(t))).toEqual([]);
    expect(isProvisionerEventType('InstanceTerminated')).toBe(true);
    expect(isProvisionerEventType('ModuleDeleted')).toBe(false);
  });

  it('accepts the events the fixtures build', () => {
    expect(provisionerEventSchemas.NodeCreated.safeParse(nodeCreated().data).success).toBe(true);
    expect(provisionerEventSchemas.InstanceProvisionRequested.safeParse(provisionRequested().data).success).toBe(true);
    expect(provisionerEventSchemas.InstanceHeartbeatReceived.safeParse(heartbeatReceived(T0).data).success).toBe(true);
  });

  it.each([
    ['a hostname with uppercase letters', 'NodeCreated', { ...nodeCreated().data, hostname: 'Redis' }],
    ['channel built', 'NodeCreated', { ...nodeCreated().data, channel: 'built' }],
    ['a timestamp without offset', 'NodeCreated', { ...nodeCreated().data, created_at: '2026-05-01 10:00' }],
    [
      'a plain enrolment token instead of its digest',
      'InstanceProvisionRequested',
      { ...provisionRequested().data, enrolment_token_sha256: 'enrol-token-plain' },
    ],
    [
      'running digests keyed by something that is not a module name',
      'InstanceHeartbeatReceived',
      { ...heartbeatReceived(T0).data, running_module_digests: { 'My Redis': `sha256:${sha256('x')}` } },
    ],
    ['a running digest that is not a digest', 'InstanceHeartbeatReceived', { ...heartbeatReceived(T0).data, running_module_digests: { 'my-redis': 'abc' } }],
    ['an unknown status', 'InstanceStatusChanged', { instance_id: 'i', from: 'running', to: 'paused', reason: 'r', changed_at: T0 }],
  ] as const)('refuses %s', (_what, type, data) => {
    expect(provisionerEventSchemas[type].safeParse(data).success).toBe(false);
  });

  it('names the streams as the catalog does', () => {
    expect(provisionerStreams.nodeRegistry()).toBe('node-registry');
    expect(provisionerStreams.node('n1')).toBe('node-n1');
    expect(provisionerStreams.instance('i1')).toBe('instance-i1');
  });
});
