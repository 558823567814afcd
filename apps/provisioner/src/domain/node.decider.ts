import { DEFAULT_NODE_CHANNEL, PowernodeError, type NodeChannel, type ProvisionerEventOf } from '@powernode/contracts';
import { assertNever, type Decider } from '@powernode/events';
import { parseChannel, parseHostname } from './node-fields.js';

/*
 * A Node: a named machine role bound to a NodeTemplate, with the channel that says how far a module version
 * must be promoted before this node runs it. Instances are provisioned from a node. Hostname uniqueness is the
 * node registry's job (claim there first); this aggregate checks its own fields and the template fact.
 */

export type NodeEvent = ProvisionerEventOf<'NodeCreated'> | ProvisionerEventOf<'NodeChannelChanged'>;

export type NodeCommand =
  | {
      type: 'CreateNode';
      node_id: string;
      hostname: string;
      node_template_id: string;
      /** Omitted: `live`. */
      channel?: string | undefined;
      /** Memory and vCPUs of the node's VM instances. */
      resources?: { memory_mb?: number | undefined; vcpus?: number | undefined } | undefined;
      /** Whether the catalog knows the template (looked up by the handler in the templates read model). */
      template_exists: boolean;
      created_by: string;
      now: string;
    }
  | { type: 'ChangeNodeChannel'; node_id: string; channel: string; changed_by: string; now: string };

export interface NodeRecord {
  node_id: string;
  hostname: string;
  node_template_id: string;
  channel: NodeChannel;
  created_at: string;
}

export type NodeState = { status: 'none' } | ({ status: 'created' } & NodeRecord);

export const nodeDecider: Decider<NodeCommand, NodeState, NodeEvent> = {
  initialState: () => ({ status: 'none' }),

  decide(command, state) {
    switch (command.type) {
      case 'CreateNode': {
        const hostname = parseHostname(command.hostname);
        const channel = command.channel === undefined ? DEFAULT_NODE_CHANNEL : parseChannel(command.channel);
        if (state.status === 'created') {
          if (state.hostname === hostname && state.node_template_id === command.node_template_id && state.channel === channel) return [];
          throw new PowernodeError('already_exists', `node ${command.node_id} already exists (hostname "${state.hostname}"): create a node with a new id`, {
            details: { node_id: command.node_id, rule: 'node_id_unique' },
          });
        }
        if (!command.template_exists) {
          throw new PowernodeError(
            'not_found',
            `node template ${command.node_template_id} does not exist: list templates with system_list_templates and pass one of their ids`,
            {
              details: { field: 'node_template_id', node_template_id: command.node_template_id, rule: 'template_must_exist' },
            },
          );
        }
        return [
          {
            type: 'NodeCreated',
            data: {
              node_id: command.node_id,
              hostname,
              node_template_id: command.node_template_id,
              channel,
              ...(command.resources === undefined ? {} : { resources: resourcesOf(command.resources) }),
              created_by: command.created_by,
              created_at: command.now,
            },
          },
        ];
      }
      case 'ChangeNodeChannel': {
        if (state.status === 'none') throw nodeNotFound(command.node_id);
        const channel = parseChannel(command.channel);
        if (channel === state.channel) return [];
        return [
          {
            type: 'NodeChannelChanged',
            data: { node_id: state.node_id, from: state.channel, to: channel, changed_by: command.changed_by, changed_at: command.now },
          },
        ];
      }
      default:
        return assertNever(command);
    }
  },

  evolve(state, event) {
    switch (event.type) {
      case 'NodeCreated': {
        const d = event.data;
        return {
          status: 'created',
          node_id: d.node_id,
          hostname: d.hostname,
          node_template_id: d.node_template_id,
          channel: d.channel,
          created_at: d.created_at,
        };
      }
      case 'NodeChannelChanged':
        return state.status === 'created' ? { ...state, channel: event.data.to } : state;
      default:
        return assertNever(event);
    }
  },
};

function nodeNotFound(nodeId: string): PowernodeError {
  return new PowernodeError('not_found', `node ${nodeId} not found: create it with system_create_node first`, {
    details: { node_id: nodeId, rule: 'node_must_exist' },
  });
}

/** The resources as recorded: only the fields that were given. */
function resourcesOf(resources: { memory_mb?: number | undefined; vcpus?: number | undefined }): { memory_mb?: number; vcpus?: number } {
  return {
    ...(resources.memory_mb === undefined ? {} : { memory_mb: resources.memory_mb }),
    ...(resources.vcpus === undefined ? {} : { vcpus: resources.vcpus }),
  };
}
