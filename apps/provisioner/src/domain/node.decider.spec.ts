import { templateIdFor } from '@powernode/contracts';
import { given } from '@powernode/testing';
import { nodeDecider, type NodeCommand } from './node.decider.js';
import { channelChanged, NODE_ID, nodeCreated, T0, T1 } from './provisioner-fixtures.test-support.js';

const create = (overrides: Partial<Extract<NodeCommand, { type: 'CreateNode' }>> = {}): NodeCommand => ({
  type: 'CreateNode',
  node_id: NODE_ID,
  hostname: 'redis-test-1',
  node_template_id: templateIdFor('base'),
  template_exists: true,
  created_by: 'operator',
  now: T0,
  ...overrides,
});
const changeChannel = (channel: string): NodeCommand => ({ type: 'ChangeNodeChannel', node_id: NODE_ID, channel, changed_by: 'operator', now: T1 });

describe('node decider', () => {
  describe('CreateNode', () => {
    it('creates a node on the live channel when no channel is given', () => {
      given(nodeDecider, [])
        .when(create())
        .then([nodeCreated({ channel: 'live' })]);
    });

    it.each(['staging', 'blessed', 'live'] as const)('creates a test node on the %s channel', (channel) => {
      given(nodeDecider, [])
        .when(create({ channel }))
        .then([nodeCreated({ channel })]);
    });

    it("records the memory and vCPUs of the node's VM instances when given, only the fields given", () => {
      const created = nodeCreated();
      given(nodeDecider, [])
        .when(create({ resources: { memory_mb: 768, vcpus: undefined } }))
        .then([{ ...created, data: { ...created.data, resources: { memory_mb: 768 } } }]);
    });

    it.each(['built', 'retired', 'production', 'LIVE'])('refuses channel %j with validation_failed listing the channels', (channel) => {
      given(nodeDecider, [])
        .when(create({ channel }))
        .thenRefuses({ code: 'validation_failed', rule: 'channel_value', message: /use one of staging, blessed, live/, details: { field: 'channel' } });
    });

    it('refuses a template the catalog does not know (not_found)', () => {
      given(nodeDecider, [])
        .when(create({ template_exists: false }))
        .thenRefuses({ code: 'not_found', rule: 'template_must_exist', message: /system_list_templates/, details: { field: 'node_template_id' } });
    });

    it('refuses a malformed hostname (validation_failed)', () => {
      given(nodeDecider, [])
        .when(create({ hostname: 'Redis Test' }))
        .thenRefuses({ code: 'validation_failed', rule: 'hostname_format' });
    });

    it('treats a retried create with the same fields as done', () => {
      given(nodeDecider, [nodeCreated()]).when(create()).then([]);
    });

    it('refuses to create a node id again with other fields (already_exists)', () => {
      given(nodeDecider, [nodeCreated()])
        .when(create({ hostname: 'other-host' }))
        .thenRefuses({ code: 'already_exists', rule: 'node_id_unique' });
    });
  });

  describe('ChangeNodeChannel', () => {
    it('moves a live node to staging', () => {
      given(nodeDecider, [nodeCreated()])
        .when(changeChannel('staging'))
        .then([channelChanged('live', 'staging')]);
    });

    it('does nothing when the channel is already the one asked for', () => {
      given(nodeDecider, [nodeCreated({ channel: 'blessed' })])
        .when(changeChannel('blessed'))
        .then([]);
    });

    it('refuses an unknown channel', () => {
      given(nodeDecider, [nodeCreated()]).when(changeChannel('built')).thenRefuses({ code: 'validation_failed', rule: 'channel_value' });
    });

    it('refuses a node that does not exist (not_found)', () => {
      given(nodeDecider, [])
        .when(changeChannel('staging'))
        .thenRefuses({ code: 'not_found', rule: 'node_must_exist', message: new RegExp(NODE_ID) });
    });

    it('folds the new channel into state', () => {
      const { state } = given(nodeDecider, [nodeCreated(), channelChanged('live', 'staging')]);
      expect(state).toMatchObject({ status: 'created', channel: 'staging' });
    });
  });
});
