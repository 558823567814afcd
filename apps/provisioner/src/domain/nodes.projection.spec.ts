import { refusalOf } from '@powernode/testing';
import { foldEvents, type StoredEventLike } from '@powernode/events';
import { listNodes, nodeByHostname, nodesProjection, nodeView } from './nodes.projection.js';
import { BASE_TEMPLATE_ID, channelChanged, INSTANCE_ID, NODE_ID, nodeCreated, provisionRequested, T0, T1 } from './provisioner-fixtures.test-support.js';

describe('nodes read model', () => {
  const model = foldEvents(nodesProjection, [
    nodeCreated(),
    nodeCreated({ node_id: 'node-2', hostname: 'alpha-1', channel: 'staging' }),
    channelChanged('live', 'blessed'),
    provisionRequested(),
    provisionRequested(),
  ]);

  it('shows a node with its template, channel and instances', () => {
    expect(nodeView(model, NODE_ID)).toEqual({
      id: NODE_ID,
      hostname: 'redis-test-1',
      node_template_id: BASE_TEMPLATE_ID,
      channel: 'blessed',
      instance_ids: [INSTANCE_ID],
      created_at: T0,
      updated_at: T1,
    });
  });

  it('finds a node by hostname', () => {
    expect(nodeByHostname(model, 'alpha-1')?.id).toBe('node-2');
    expect(nodeByHostname(model, 'missing')).toBeNull();
  });

  it('lists nodes by hostname', () => {
    expect(listNodes(model).map((n) => n.hostname)).toEqual(['alpha-1', 'redis-test-1']);
  });

  it('refuses an unknown node with not_found', () => {
    expect(refusalOf(() => nodeView(model, 'nope'))).toMatchObject({ code: 'not_found', details: { node_id: 'nope' } });
  });
});

describe('nodes read model folds in place', () => {
  const log: StoredEventLike[] = [
    nodeCreated(),
    nodeCreated({ node_id: 'node-2', hostname: 'alpha-1', channel: 'staging' }),
    nodeCreated(),
    channelChanged('live', 'blessed'),
    provisionRequested(),
    provisionRequested({ instance_id: 'i-2', at: T1 }),
    provisionRequested(),
    provisionRequested({ instance_id: 'i-on-unknown-node', node_id: 'nope' }),
    provisionRequested({ instance_id: 'i-3', node_id: 'node-2' }),
  ];

  it('gives deep-equal states when the same events are folded twice from fresh initial states', () => {
    const initial = structuredClone(nodesProjection.initialState());
    const first = foldEvents(nodesProjection, log);
    const second = foldEvents(nodesProjection, log);
    expect(second).not.toBe(first);
    expect(second).toEqual(first);
    expect(JSON.parse(JSON.stringify(first))).toEqual(first);
    expect(foldEvents(nodesProjection, log.slice(5), JSON.parse(JSON.stringify(foldEvents(nodesProjection, log.slice(0, 5)))))).toEqual(first);
    expect(nodesProjection.initialState()).toEqual(initial);
  });

  it('lists each instance once, on its own node, and none for a node it does not know', () => {
    const state = foldEvents(nodesProjection, log);
    expect(nodeView(state, NODE_ID).instance_ids).toEqual([INSTANCE_ID, 'i-2']);
    expect(nodeView(state, 'node-2').instance_ids).toEqual(['i-3']);
    expect(state.node_of_instance).toEqual({ [INSTANCE_ID]: NODE_ID, 'i-2': NODE_ID, 'i-3': 'node-2' });
  });

  it('does not change a node or a list a query returned when later events are folded', () => {
    const state = foldEvents(nodesProjection, log.slice(0, 5));
    const view = nodeView(state, NODE_ID);
    const byHostname = nodeByHostname(state, 'redis-test-1');
    const all = listNodes(state);
    const snapshot = structuredClone({ view, byHostname, all });
    foldEvents(
      nodesProjection,
      [provisionRequested({ instance_id: 'i-9' }), channelChanged('blessed', 'live'), nodeCreated({ node_id: 'node-3', hostname: 'zulu-1' })],
      state,
    );
    expect({ view, byHostname, all }).toEqual(snapshot);
    expect(nodeView(state, NODE_ID)).toMatchObject({ channel: 'live', instance_ids: [INSTANCE_ID, 'i-9'] });
    expect(listNodes(state)).toHaveLength(3);
  });
});
