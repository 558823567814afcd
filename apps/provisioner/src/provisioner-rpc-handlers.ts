import { PROVISIONER_RPCS } from '@powernode/contracts';
import { rpcHandlerTable, withStreamWriter, type RpcTransportHandler } from '@powernode/events';
import type { Logger, ServiceHost } from '@powernode/runtime';
import type { AgentSessions } from './agent-sessions.js';
import type { InstanceConsoleService } from './instance-console-service.js';
import type { InstanceExecService } from './instance-exec-service.js';
import type { ProvisionerService } from './provisioner-service.js';
import type { ProvisionerReadModels } from './read-models.js';

export interface ProvisionerRpcDeps {
  service: ProvisionerService;
  exec: InstanceExecService;
  consoles: InstanceConsoleService;
  agents: AgentSessions;
  readModels: ProvisionerReadModels;
  /** Where streamed answers (exec output) are published. */
  nats: ServiceHost<unknown>['nats'];
  logger: Logger;
}

/** The provisioner's commands, queries and agent calls on NATS, one handler per declaration in `PROVISIONER_RPCS`. */
export function provisionerRpcHandlers({ service, exec, consoles, agents, readModels, nats, logger }: ProvisionerRpcDeps): Map<string, RpcTransportHandler> {
  return rpcHandlerTable(
    PROVISIONER_RPCS,
    {
      createNode: ({ input, actor }, c) => service.createNode(input, actor, c.correlation_id),
      getNode: ({ input }) => service.getNode(input.node_id),
      listNodes: ({ input }) => service.listNodes(input),
      setNodeChannel: ({ input, actor }, c) => service.setNodeChannel(input, actor, c.correlation_id),
      provisionInstance: ({ input, actor }, c) => service.provisionInstance(input, actor, c.correlation_id),
      getInstance: ({ input }) => service.getInstance(input.id),
      listInstances: ({ input }) => service.listInstances(input),
      terminateInstance: ({ input, actor }, c) => service.terminateInstance(input.id, actor, c.correlation_id),
      stopInstance: ({ input, actor }, c) => service.stopInstance(input.id, actor, c.correlation_id),
      startInstance: ({ input, actor }, c) => service.startInstance(input.id, actor, c.correlation_id),
      execInstance: ({ input, actor }, c) => exec.exec(input, actor, c.correlation_id),
      execInstanceStream: withStreamWriter(nats, ({ input, actor }, c, writer) => exec.execStreamed(input, actor, c.correlation_id, writer)),
      driftReport: ({ input }) => service.driftReport(input.instance_id),
      instanceConsole: ({ input }) => consoles.read(input),
      agentEnrol: (input, c) => agents.enrol(input, c.correlation_id),
      agentDesired: ({ credential }) => agents.desired(credential),
      agentHeartbeat: ({ credential, heartbeat }, c) => agents.heartbeat(credential, heartbeat, c.correlation_id),
      replay: ({ projection }) => readModels.rebuild(projection),
      ping: () => ({ service: 'provisioner', ok: true }),
    },
    { logger },
  );
}
