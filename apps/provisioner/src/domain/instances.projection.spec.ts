import { refusalOf } from '@powernode/testing';
import { foldEvents, type StoredEventLike } from '@powernode/events';
import { instancesProjection, instanceView, listInstances } from './instances.projection.js';
import {
  composefsOf,
  heartbeatReceived,
  historyTo,
  INSTANCE_ID,
  LATER,
  NODE_ID,
  provisionRequested,
  sha256,
  statusChanged,
  T0,
  T1,
  T2,
  T3,
  terminated,
} from './provisioner-fixtures.test-support.js';

const fold = (events: StoredEventLike[]) => foldEvents(instancesProjection, events);
const stale = { type: 'InstanceHeartbeatStale', data: { instance_id: INSTANCE_ID, last_heartbeat_at: T1, threshold_ms: 90_000, detected_at: T3 } };

describe('instances read model', () => {
  it('shows a freshly provisioned instance as pending with nothing running', () => {
    expect(instanceView(fold([provisionRequested()]), INSTANCE_ID)).toMatchObject({
      id: INSTANCE_ID,
      node_id: NODE_ID,
      hostname: 'redis-test-1',
      status: 'pending',
      running_module_digests: {},
      last_heartbeat_at: null,
      heartbeat_stale: false,
      enrolled: false,
      created_at: T0,
    });
  });

  it('shows running_module_digests keyed by module name after a heartbeat (tutorial verification)', () => {
    const view = instanceView(fold([...historyTo('running'), heartbeatReceived(T1)]), INSTANCE_ID);
    expect(view).toMatchObject({
      status: 'running',
      running_module_digests: { 'my-redis': composefsOf('my-redis', '0.1.0') },
      last_heartbeat_at: T1,
      agent_version: '0.1.0',
    });
  });

  it('keeps the reason of the last status change', () => {
    expect(instanceView(fold([provisionRequested(), statusChanged('pending', 'error', T1, 'driver failed: no space left')]), INSTANCE_ID)).toMatchObject({
      status: 'error',
      status_reason: 'driver failed: no space left',
    });
  });

  it('records enrolment without any credential material', () => {
    const enrolled = { type: 'InstanceEnrolled', data: { instance_id: INSTANCE_ID, credential_sha256: sha256('c'), agent_version: '0.1.0', enrolled_at: T1 } };
    const view = instanceView(fold([provisionRequested(), enrolled]), INSTANCE_ID);
    expect(view).toMatchObject({ enrolled: true, enrolled_at: T1 });
    expect(JSON.stringify(view)).not.toContain(sha256('c'));
  });

  it('keeps the errors the agent reported', () => {
    const errors = [{ module: 'my-redis', code: 'fsverity_mismatch', message: 'fsverity verification failed' }];
    expect(instanceView(fold([...historyTo('running'), heartbeatReceived(T1, { errors })]), INSTANCE_ID).errors).toEqual(errors);
  });

  it('marks a stale instance and clears the mark on the next recorded heartbeat', () => {
    const marked = fold([...historyTo('running'), heartbeatReceived(T1), stale]);
    expect(instanceView(marked, INSTANCE_ID)).toMatchObject({ heartbeat_stale: true, heartbeat_stale_since: T3 });
    expect(instanceView(fold([...historyTo('running'), heartbeatReceived(T1), stale, heartbeatReceived(LATER)]), INSTANCE_ID)).toMatchObject({
      heartbeat_stale: false,
      last_heartbeat_at: LATER,
    });
  });

  it('merges a newer heartbeat time from the liveness table', () => {
    const model = fold([...historyTo('running'), heartbeatReceived(T1)]);
    expect(instanceView(model, INSTANCE_ID, { last_heartbeat_at: T2 }).last_heartbeat_at).toBe(T2);
    expect(instanceView(model, INSTANCE_ID, { last_heartbeat_at: T0 }).last_heartbeat_at).toBe(T1);
    expect(instanceView(model, INSTANCE_ID, { last_heartbeat_at: null }).last_heartbeat_at).toBe(T1);
  });

  it('clears a stale mark when the liveness table heard the agent after it', () => {
    const model = fold([...historyTo('running'), heartbeatReceived(T1), stale]);
    expect(instanceView(model, INSTANCE_ID, { last_heartbeat_at: LATER }).heartbeat_stale).toBe(false);
    expect(instanceView(model, INSTANCE_ID, { last_heartbeat_at: T2 }).heartbeat_stale).toBe(true);
  });

  it('shows a terminated instance with its termination time and reason, and nothing running', () => {
    const running = fold([...historyTo('running'), heartbeatReceived(T1)]);
    expect(Object.keys(instanceView(running, INSTANCE_ID).running_module_digests).length).toBeGreaterThan(0);
    expect(instanceView(fold([...historyTo('running'), heartbeatReceived(T1), terminated('running', T3, 'tutorial cleanup')]), INSTANCE_ID)).toMatchObject({
      status: 'terminated',
      status_reason: 'tutorial cleanup',
      terminated_at: T3,
      running_module_digests: {},
    });
  });

  it('refuses an unknown instance with not_found', () => {
    expect(refusalOf(() => instanceView(fold([]), 'nope'))).toMatchObject({ code: 'not_found', details: { instance_id: 'nope' } });
  });

  it('lists instances oldest first, leaving terminated ones out unless asked', () => {
    const other = '0196a000-0000-7000-8000-0000000000b2';
    const model = fold([
      provisionRequested({ instance_id: other, at: T1 }),
      ...historyTo('running'),
      terminated('running', T3),
      provisionRequested({ instance_id: 'on-another-node', node_id: 'node-2', at: T2 }),
    ]);
    expect(listInstances(model).map((i) => i.id)).toEqual([other, 'on-another-node']);
    expect(listInstances(model, { include_terminated: true }).map((i) => i.id)).toEqual([INSTANCE_ID, other, 'on-another-node']);
    expect(listInstances(model, { node_id: NODE_ID }).map((i) => i.id)).toEqual([other]);
    expect(listInstances(model, { status: 'terminated' }).map((i) => i.id)).toEqual([INSTANCE_ID]);
  });

  it('ignores a redelivered provision request', () => {
    const model = fold([...historyTo('running'), provisionRequested()]);
    expect(instanceView(model, INSTANCE_ID).status).toBe('running');
  });
});

describe('instances read model folds in place', () => {
  const log: StoredEventLike[] = [
    ...historyTo('running'),
    heartbeatReceived(T1),
    stale,
    provisionRequested({ instance_id: 'i-2', at: T1 }),
    heartbeatReceived(LATER, { errors: [{ module: 'my-redis', code: 'fsverity_mismatch', message: 'fsverity verification failed' }] }),
    provisionRequested(),
    terminated('running', LATER),
  ];

  it('gives deep-equal states when the same events are folded twice from fresh initial states', () => {
    const eventsBefore = structuredClone(log);
    const first = fold(log);
    const second = fold(log);
    expect(second).not.toBe(first);
    expect(second).toEqual(first);
    expect(JSON.parse(JSON.stringify(first))).toEqual(first);
    expect(log).toEqual(eventsBefore);
    expect(instancesProjection.initialState()).toEqual({ instances: {} });
  });

  it('does not change an instance or a list a query returned when later events are folded', () => {
    const state = fold([...historyTo('running'), heartbeatReceived(T1)]);
    const view = instanceView(state, INSTANCE_ID);
    const all = listInstances(state);
    const snapshot = structuredClone({ view, all });
    foldEvents(
      instancesProjection,
      [heartbeatReceived(T2, { running_module_digests: {} }), stale, terminated('running', T3), provisionRequested({ instance_id: 'i-2', at: T2 })],
      state,
    );
    expect({ view, all }).toEqual(snapshot);
    expect(instanceView(state, INSTANCE_ID)).toMatchObject({ status: 'terminated', running_module_digests: {} });
    expect(listInstances(state).map((i) => i.id)).toEqual(['i-2']);
  });
});
