import { PowernodeError, type NodeChannel } from '@powernode/contracts';
import { compareText, entryOf, setEntry } from '@powernode/events';
import { provisionerProjection } from './provisioner-projection.js';

/** A node as `system_create_node` returns it. */
export interface NodeView {
  id: string;
  hostname: string;
  node_template_id: string;
  channel: NodeChannel;
  /** Memory and vCPUs of the node's VM instances, when set. */
  resources?: { memory_mb?: number; vcpus?: number };
  /** Every instance provisioned from the node, oldest first. */
  instance_ids: string[];
  created_at: string;
  updated_at: string;
}

/** What the read model keeps per node: the view without its instances, which are kept apart (they grow). */
export type NodeRow = Omit<NodeView, 'instance_ids'>;

export interface NodesReadModel {
  nodes: Record<string, NodeRow>;
  /** hostname → node id */
  by_hostname: Record<string, string>;
  /** node id → every instance provisioned from it, oldest first (appended in place; copied by the queries) */
  instance_ids_by_node: Record<string, string[]>;
  /** instance id → node id, so a redelivered provision request is recognised without scanning a node's list */
  node_of_instance: Record<string, string>;
}

/** Stores the changed row in place of the node's row (a row is never changed once stored). */
function withNode(state: NodesReadModel, id: string, change: (n: NodeRow) => NodeRow): NodesReadModel {
  const current = entryOf(state.nodes, id);
  if (current !== undefined) setEntry(state.nodes, id, change(current));
  return state;
}

/** The node as the queries return it: a new object with its own copy of the instance list. */
function toNodeView(state: NodesReadModel, node: NodeRow): NodeView {
  return { ...node, instance_ids: [...(entryOf(state.instance_ids_by_node, node.id) ?? [])] };
}

/** Nodes with their channel and instances. Updates its state in place. */
export const nodesProjection = provisionerProjection<NodesReadModel>({
  name: 'provisioner-nodes',
  // 2: a node's instances moved from its row to instance_ids_by_node, with node_of_instance.
  version: 2,
  initialState: () => ({ nodes: {}, by_hostname: {}, instance_ids_by_node: {}, node_of_instance: {} }),
  handlers: {
    NodeCreated(state, event) {
      const d = event.data;
      if (entryOf(state.nodes, d.node_id) !== undefined) return state;
      setEntry(state.nodes, d.node_id, {
        id: d.node_id,
        hostname: d.hostname,
        node_template_id: d.node_template_id,
        channel: d.channel,
        ...(d.resources === undefined ? {} : { resources: d.resources }),
        created_at: d.created_at,
        updated_at: d.created_at,
      });
      setEntry(state.by_hostname, d.hostname, d.node_id);
      setEntry(state.instance_ids_by_node, d.node_id, []);
      return state;
    },
    NodeChannelChanged: (state, event) => withNode(state, event.data.node_id, (n) => ({ ...n, channel: event.data.to, updated_at: event.data.changed_at })),
    InstanceProvisionRequested(state, event) {
      const { node_id, instance_id } = event.data;
      if (entryOf(state.nodes, node_id) === undefined || entryOf(state.node_of_instance, instance_id) !== undefined) return state;
      setEntry(state.node_of_instance, instance_id, node_id);
      // The list is never handed out (queries copy it), so it is appended to in place.
      entryOf(state.instance_ids_by_node, node_id)!.push(instance_id);
      return state;
    },
  },
});

/** One node (a new object, later events do not change it); refuses an unknown id with `not_found`. */
export function nodeView(state: NodesReadModel, id: string): NodeView {
  const node = entryOf(state.nodes, id);
  if (node === undefined) {
    throw new PowernodeError('not_found', `node ${id} not found: create it with system_create_node`, { details: { node_id: id, rule: 'node_must_exist' } });
  }
  return toNodeView(state, node);
}

/** The node with a hostname (a new object), or null. */
export function nodeByHostname(state: NodesReadModel, hostname: string): NodeView | null {
  const id = entryOf(state.by_hostname, hostname);
  const node = id === undefined ? undefined : entryOf(state.nodes, id);
  return node === undefined ? null : toNodeView(state, node);
}

/** Nodes by hostname (new objects). */
export function listNodes(state: NodesReadModel): NodeView[] {
  return Object.values(state.nodes)
    .sort((a, b) => compareText(a.hostname, b.hostname))
    .map((node) => toNodeView(state, node));
}
