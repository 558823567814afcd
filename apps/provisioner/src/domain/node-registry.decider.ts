import { PowernodeError, type ProvisionerEventOf } from '@powernode/contracts';
import { assertNever, entryOf, setEntry, type Decider } from '@powernode/events';
import { parseHostname } from './node-fields.js';

/*
 * Uniqueness of node hostnames. Node streams are keyed by a node id, so a hostname is claimed on this one
 * stream (`node-registry`) under optimistic concurrency before NodeCreated is appended to the node's own
 * stream; releasing it (when a node is removed) lets the name be used again.
 */

export type NodeRegistryEvent = ProvisionerEventOf<'NodeHostnameClaimed'> | ProvisionerEventOf<'NodeHostnameReleased'>;

export type NodeRegistryCommand =
  { type: 'ClaimHostname'; node_id: string; hostname: string; now: string } | { type: 'ReleaseHostname'; node_id: string; now: string };

export interface NodeRegistryState {
  /** hostname → node id */
  hostnames: Record<string, string>;
  /** node id → hostname it holds */
  holders: Record<string, string>;
}

/** The node holding a hostname, if any. */
export function nodeIdHoldingHostname(state: NodeRegistryState, hostname: string): string | null {
  return Object.prototype.hasOwnProperty.call(state.hostnames, hostname) ? state.hostnames[hostname]! : null;
}

export const nodeRegistryDecider: Decider<NodeRegistryCommand, NodeRegistryState, NodeRegistryEvent> = {
  initialState: () => ({ hostnames: {}, holders: {} }),

  decide(command, state) {
    switch (command.type) {
      case 'ClaimHostname': {
        const hostname = parseHostname(command.hostname);
        const holder = nodeIdHoldingHostname(state, hostname);
        if (holder === command.node_id) return [];
        if (holder !== null) {
          throw new PowernodeError('already_exists', `a node with hostname "${hostname}" already exists: pick another hostname`, {
            details: { field: 'hostname', hostname, node_id: holder, rule: 'hostname_unique' },
          });
        }
        const held = state.holders[command.node_id];
        if (held !== undefined) {
          throw new PowernodeError('already_exists', `node id ${command.node_id} already holds hostname "${held}": a node id is used once`, {
            details: { field: 'node_id', node_id: command.node_id, hostname: held, rule: 'node_id_unique' },
          });
        }
        return [{ type: 'NodeHostnameClaimed', data: { node_id: command.node_id, hostname, claimed_at: command.now } }];
      }
      case 'ReleaseHostname': {
        const held = state.holders[command.node_id];
        if (held === undefined) return [];
        return [{ type: 'NodeHostnameReleased', data: { node_id: command.node_id, hostname: held, released_at: command.now } }];
      }
      default:
        return assertNever(command);
    }
  },

  // The stream gets one event per created node, so the fold updates its own state in place (O(1) per event)
  // rather than copying both maps each time; the state belongs to the fold that created it.
  evolve(state, event) {
    switch (event.type) {
      case 'NodeHostnameClaimed': {
        const { node_id, hostname } = event.data;
        setEntry(state.hostnames, hostname, node_id);
        setEntry(state.holders, node_id, hostname);
        return state;
      }
      case 'NodeHostnameReleased': {
        const { node_id, hostname } = event.data;
        if (entryOf(state.hostnames, hostname) === node_id) delete state.hostnames[hostname];
        delete state.holders[node_id];
        return state;
      }
      default:
        return assertNever(event);
    }
  },
};
