import { PROVISIONER_RPCS } from '@powernode/contracts';
import type { RpcClient } from '@powernode/events';
import { forwarded } from './forwarded-operation.js';
import { instanceExecStream } from './instance-exec-stream.js';
import type { Operation } from './operation.js';

/** The provisioner's public operations (CONTRACT §2): nodes, instances, drift; each an MCP tool and a REST route. */
export function provisionerOperations(rpc: RpcClient): Operation[] {
  return [
    forwarded({ rpc, declaration: PROVISIONER_RPCS.createNode }),
    forwarded({ rpc, declaration: PROVISIONER_RPCS.listNodes }),
    forwarded({ rpc, declaration: PROVISIONER_RPCS.getNode }),
    forwarded({ rpc, declaration: PROVISIONER_RPCS.setNodeChannel }),
    forwarded({ rpc, declaration: PROVISIONER_RPCS.provisionInstance }),
    forwarded({ rpc, declaration: PROVISIONER_RPCS.listInstances }),
    forwarded({ rpc, declaration: PROVISIONER_RPCS.getInstance }),
    forwarded({ rpc, declaration: PROVISIONER_RPCS.driftReport }),
    forwarded({ rpc, declaration: PROVISIONER_RPCS.instanceConsole }),
    forwarded({ rpc, declaration: PROVISIONER_RPCS.terminateInstance }),
    forwarded({ rpc, declaration: PROVISIONER_RPCS.stopInstance }),
    forwarded({ rpc, declaration: PROVISIONER_RPCS.startInstance }),
    { ...forwarded({ rpc, declaration: PROVISIONER_RPCS.execInstance }), stream: instanceExecStream(rpc) },
  ];
}
