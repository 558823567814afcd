import { refusalOf } from './decider-table.test-support.js';
import { listNodes, nodeByHostname, nodesProjection, nodeView } from './nodes.projection.js';
import { foldProjection } from './provisioner-projection.js';
import { BASE_TEMPLATE_ID, channelChanged, INSTANCE_ID, NODE_ID, nodeCreated, provisionRequested, T0, T1 } from './provisioner-fixtures.test-support.js';

describe('nodes read model', () => {
  const model = foldProjection(nodesProjection, [
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
