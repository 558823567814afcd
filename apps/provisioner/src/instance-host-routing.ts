import { PROVISIONER_RPCS } from '@powernode/contracts';
import { hostRpcNamespace, RpcClient, type RpcTransportContext, type RpcTransportHandler } from '@powernode/events';
import type { ServiceHost } from '@powernode/runtime';

/*
 * Requests that need an instance's own host: its machine (exec, console), its agent's liveness (heartbeats,
 * which only that host's sweeper judges) or its key (enrolment, whose credential the key derives). Any provisioner replica may receive them from the shared queue; one
 * that does not run the instance forwards the request to `<namespace>.host.<host>.<pattern>`, which only that
 * host's replicas answer, and returns their reply as it is. Everything else is answered by whoever received it:
 * commands only append events, and the right host reacts to those.
 */

type InstanceOf = (payload: unknown, lookup: Pick<InstanceHostRoutingDeps, 'instanceOfCredential'>) => string | null;

const inputId: InstanceOf = (payload) => {
  const input = (payload as { input?: { id?: unknown; instance_id?: unknown } } | null)?.input;
  const id = input?.id ?? input?.instance_id;
  return typeof id === 'string' ? id : null;
};

const enrollingInstance: InstanceOf = (payload) => {
  const id = (payload as { instance_id?: unknown } | null)?.instance_id;
  return typeof id === 'string' ? id : null;
};

const credentialInstance: InstanceOf = (payload, lookup) => {
  const credential = (payload as { credential?: unknown } | null)?.credential;
  return typeof credential === 'string' ? lookup.instanceOfCredential(credential) : null;
};

/** Exec may run for its own timeout (at most 10 minutes): the forward waits for that and a margin. */
const EXEC_FORWARD_TIMEOUT_MS = 11 * 60_000;
const FORWARD_TIMEOUT_MS = 30_000;

const HOST_BOUND: ReadonlyArray<{ pattern: string; instanceOf: InstanceOf; timeout_ms: number }> = [
  { pattern: PROVISIONER_RPCS.execInstance.pattern, instanceOf: inputId, timeout_ms: EXEC_FORWARD_TIMEOUT_MS },
  { pattern: PROVISIONER_RPCS.execInstanceStream.pattern, instanceOf: inputId, timeout_ms: EXEC_FORWARD_TIMEOUT_MS },
  { pattern: PROVISIONER_RPCS.instanceConsole.pattern, instanceOf: inputId, timeout_ms: FORWARD_TIMEOUT_MS },
  { pattern: PROVISIONER_RPCS.agentHeartbeat.pattern, instanceOf: credentialInstance, timeout_ms: FORWARD_TIMEOUT_MS },
  // The host's key derives the credential, so a retried enrolment gets the same one there.
  { pattern: PROVISIONER_RPCS.agentEnrol.pattern, instanceOf: enrollingInstance, timeout_ms: FORWARD_TIMEOUT_MS },
];

export interface InstanceHostRoutingDeps {
  /** This provisioner's host. */
  provisionerHost: string;
  /** The host that runs the instance; null when any host may, or when it is unknown here (then answered here). */
  hostOf(instanceId: string): string | null;
  /** The instance an agent credential belongs to, as far as the read models know yet. */
  instanceOfCredential(credential: string): string | null;
  nats: ServiceHost<unknown>['nats'];
  /** `POWERNODE_BUS_NAMESPACE`. */
  namespace: string | undefined;
}

/** The handler table with each host-bound request forwarded to the instance's host when that is another one. */
export function routedToInstanceHost(handlers: ReadonlyMap<string, RpcTransportHandler>, deps: InstanceHostRoutingDeps): Map<string, RpcTransportHandler> {
  const clients = new Map<string, RpcClient>();
  const clientFor = (host: string): RpcClient => {
    let client = clients.get(host);
    if (client === undefined) {
      client = new RpcClient(deps.nats, { namespace: hostRpcNamespace(deps.namespace, host) });
      clients.set(host, client);
    }
    return client;
  };
  const routed = new Map(handlers);
  for (const { pattern, instanceOf, timeout_ms } of HOST_BOUND) {
    const local = handlers.get(pattern);
    if (local === undefined) continue;
    routed.set(pattern, async (payload: unknown, transport?: RpcTransportContext) => {
      const instanceId = instanceOf(payload, deps);
      const owner = instanceId === null ? null : deps.hostOf(instanceId);
      if (owner === null || owner === deps.provisionerHost) return local(payload, transport);
      return clientFor(owner).forward(pattern, payload, transport, { timeout_ms });
    });
  }
  return routed;
}
