import { given } from '@powernode/testing';
import { stateFromEvents } from '@powernode/events';
import { nodeIdHoldingHostname, nodeRegistryDecider, type NodeRegistryEvent } from './node-registry.decider.js';
import { T0, T1 } from './provisioner-fixtures.test-support.js';

const claimed = (node_id: string, hostname: string): NodeRegistryEvent => ({ type: 'NodeHostnameClaimed', data: { node_id, hostname, claimed_at: T0 } });
const released = (node_id: string, hostname: string): NodeRegistryEvent => ({ type: 'NodeHostnameReleased', data: { node_id, hostname, released_at: T1 } });
const claim = (node_id: string, hostname: string) => ({ type: 'ClaimHostname' as const, node_id, hostname, now: T0 });

describe('node registry decider', () => {
  it('claims a free hostname', () => {
    given(nodeRegistryDecider, [])
      .when(claim('n1', 'redis-test-1'))
      .then([claimed('n1', 'redis-test-1')]);
  });

  it('refuses a hostname another node holds (already_exists)', () => {
    given(nodeRegistryDecider, [claimed('n1', 'redis-test-1')])
      .when(claim('n2', 'redis-test-1'))
      .thenRefuses({ code: 'already_exists', rule: 'hostname_unique', message: /hostname "redis-test-1" already exists/, details: { node_id: 'n1' } });
  });

  it('treats a retried claim by the same node as done', () => {
    given(nodeRegistryDecider, [claimed('n1', 'redis-test-1')])
      .when(claim('n1', 'redis-test-1'))
      .then([]);
  });

  it('refuses a node id that already holds another hostname', () => {
    given(nodeRegistryDecider, [claimed('n1', 'redis-test-1')])
      .when(claim('n1', 'redis-test-2'))
      .thenRefuses({ code: 'already_exists', rule: 'node_id_unique' });
  });

  it.each([
    ['Redis-Test-1', 'uppercase letters'],
    ['-redis', 'a leading hyphen'],
    ['redis-', 'a trailing hyphen'],
    ['redis_test', 'an underscore'],
    ['', 'nothing'],
    ['a'.repeat(64), 'a label over 63 characters'],
    [`${'a'.repeat(63)}.`.repeat(4) + 'a', 'more than 253 characters'],
  ])('refuses hostname %j (%s) with validation_failed before claiming anything', (hostname) => {
    given(nodeRegistryDecider, [])
      .when(claim('n1', hostname))
      .thenRefuses({ code: 'validation_failed', rule: 'hostname_format', details: { field: 'hostname' } });
  });

  it('accepts a dotted hostname', () => {
    given(nodeRegistryDecider, [])
      .when(claim('n1', 'redis-1.lab.example'))
      .then([claimed('n1', 'redis-1.lab.example')]);
  });

  it('lets a released hostname be claimed by another node', () => {
    const history = [claimed('n1', 'redis-test-1'), released('n1', 'redis-test-1')];
    given(nodeRegistryDecider, history)
      .when(claim('n2', 'redis-test-1'))
      .then([claimed('n2', 'redis-test-1')]);
    expect(nodeIdHoldingHostname(stateFromEvents(nodeRegistryDecider, history), 'redis-test-1')).toBeNull();
  });

  it('releases what a node holds', () => {
    given(nodeRegistryDecider, [claimed('n1', 'redis-test-1')])
      .when({ type: 'ReleaseHostname', node_id: 'n1', now: T1 })
      .then([released('n1', 'redis-test-1')]);
  });

  it('treats releasing a hostname not held as done', () => {
    given(nodeRegistryDecider, []).when({ type: 'ReleaseHostname', node_id: 'n9', now: T1 }).then([]);
  });

  it('folds a long registry stream (one claim per node) into exactly the hostnames still held, the same way every time', () => {
    const history: NodeRegistryEvent[] = [];
    for (let i = 0; i < 2000; i++) history.push(claimed(`n${i}`, `host-${i}`));
    for (let i = 0; i < 2000; i += 2) history.push(released(`n${i}`, `host-${i}`));
    const state = stateFromEvents(nodeRegistryDecider, history);
    expect(stateFromEvents(nodeRegistryDecider, history)).toEqual(state);
    expect(Object.keys(state.hostnames)).toHaveLength(1000);
    expect(nodeIdHoldingHostname(state, 'host-1')).toBe('n1');
    expect(nodeIdHoldingHostname(state, 'host-2')).toBeNull();
    expect(state.holders['n0']).toBeUndefined();
    expect(nodeRegistryDecider.initialState()).toEqual({ hostnames: {}, holders: {} });
    given(nodeRegistryDecider, history)
      .when(claim('n-new', 'host-2'))
      .then([claimed('n-new', 'host-2')]);
    given(nodeRegistryDecider, history).when(claim('n-new', 'host-3')).thenRefuses({ code: 'already_exists', rule: 'hostname_unique' });
  });
});
