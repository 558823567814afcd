import { PowernodeError, type NodeChannel } from '@powernode/contracts';
import { assertNever } from './decider.js';
import { asProvisionerEvent, compareText, type ProvisionerProjection } from './provisioner-projection.js';

/** A node as `system_create_node` returns it. */
export interface NodeView {
  id: string;
  hostname: string;
  node_template_id: string;
  channel: NodeChannel;
  /** Every instance provisioned from the node, oldest first. */
  instance_ids: string[];
  created_at: string;
  updated_at: string;
}

export interface NodesReadModel {
  nodes: Record<string, NodeView>;
  /** hostname → node id */
  by_hostname: Record<string, string>;
}

function withNode(state: NodesReadModel, id: string, change: (n: NodeView) => NodeView): NodesReadModel {
  const current = state.nodes[id];
  return current === undefined ? state : { ...state, nodes: { ...state.nodes, [id]: change(current) } };
}

/** Nodes with their channel and instances. */
export const nodesProjection: ProvisionerProjection<NodesReadModel> = {
  name: 'provisioner-nodes',
  version: 1,
  initialState: () => ({ nodes: {}, by_hostname: {} }),
  evolve(state, stored) {
    const event = asProvisionerEvent(stored);
    if (event === null) return state;
    switch (event.type) {
      case 'NodeCreated': {
        const d = event.data;
        if (state.nodes[d.node_id] !== undefined) return state;
        const view: NodeView = { id: d.node_id, hostname: d.hostname, node_template_id: d.node_template_id, channel: d.channel, instance_ids: [], created_at: d.created_at, updated_at: d.created_at };
        return { nodes: { ...state.nodes, [d.node_id]: view }, by_hostname: { ...state.by_hostname, [d.hostname]: d.node_id } };
      }
      case 'NodeChannelChanged':
        return withNode(state, event.data.node_id, (n) => ({ ...n, channel: event.data.to, updated_at: event.data.changed_at }));
      case 'InstanceProvisionRequested':
        return withNode(state, event.data.node_id, (n) =>
          n.instance_ids.includes(event.data.instance_id) ? n : { ...n, instance_ids: [...n.instance_ids, event.data.instance_id] },
        );
      case 'NodeHostnameClaimed':
      case 'NodeHostnameReleased':
      case 'InstanceStatusChanged':
      case 'InstanceEnrolled':
      case 'InstanceHeartbeatReceived':
      case 'InstanceHeartbeatStale':
      case 'InstanceTerminated':
        return state;
      default:
        return assertNever(event);
    }
  },
};

/** One node; refuses an unknown id with `not_found`. */
export function nodeView(state: NodesReadModel, id: string): NodeView {
  const view = state.nodes[id];
  if (view === undefined) {
    throw new PowernodeError('not_found', `node ${id} not found: create it with system_create_node`, { details: { node_id: id, rule: 'node_must_exist' } });
  }
  return view;
}

/** The node with a hostname, or null. */
export function nodeByHostname(state: NodesReadModel, hostname: string): NodeView | null {
  const id = state.by_hostname[hostname];
  return id === undefined ? null : (state.nodes[id] ?? null);
}

/** Nodes by hostname. */
export function listNodes(state: NodesReadModel): NodeView[] {
  return Object.values(state.nodes).sort((a, b) => compareText(a.hostname, b.hostname));
}
