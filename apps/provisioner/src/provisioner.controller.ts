import { Controller, Inject, Module, type DynamicModule } from '@nestjs/common';
import { Ctx, MessagePattern, Payload, type NatsContext } from '@nestjs/microservices';
import { z } from 'zod';
import {
  agentCredentialRequest,
  agentEnrolInput,
  agentHeartbeatRequest,
  createNodeInput,
  driftReportInput,
  execInstanceInput,
  instanceIdInput,
  listInstancesInput,
  listNodesInput,
  nodeIdInput,
  PROVISIONER_RPC,
  provisionInstanceInput,
  rpcRequestSchema,
  setNodeChannelInput,
  replayRequestSchema,
} from '@powernode/contracts';
import { rpcHandler, streamedRpcHandler } from '@powernode/events';
import type { Logger, ServiceHost } from '@powernode/runtime';
import type { AgentSessions } from './agent-sessions.js';
import type { InstanceExecService } from './instance-exec-service.js';
import type { ProvisionerService } from './provisioner-service.js';
import type { ProvisionerReadModels } from './read-models.js';

export const PROVISIONER_DEPS = Symbol('PROVISIONER_DEPS');

export interface ProvisionerControllerDeps {
  service: ProvisionerService;
  exec: InstanceExecService;
  agents: AgentSessions;
  readModels: ProvisionerReadModels;
  /** Where streamed answers (exec output) are published. */
  nats: ServiceHost<unknown>['nats'];
  logger: Logger;
}


/** The provisioner's commands, queries and agent calls on NATS; every handler validates its payload and answers `{ok,…}`. */
@Controller()
export class ProvisionerController {
  private readonly handlers;

  constructor(@Inject(PROVISIONER_DEPS) deps: ProvisionerControllerDeps) {
    const { service, exec, agents, readModels, nats } = deps;
    const o = { logger: deps.logger };
    this.handlers = {
      createNode: rpcHandler(rpcRequestSchema(createNodeInput), ({ input, actor }, c) => service.createNode(input, actor, c.correlation_id), o),
      getNode: rpcHandler(rpcRequestSchema(nodeIdInput), ({ input }) => service.getNode(input.node_id), o),
      listNodes: rpcHandler(rpcRequestSchema(listNodesInput), ({ input }) => service.listNodes(input), o),
      setNodeChannel: rpcHandler(rpcRequestSchema(setNodeChannelInput), ({ input, actor }, c) => service.setNodeChannel(input, actor, c.correlation_id), o),
      provisionInstance: rpcHandler(rpcRequestSchema(provisionInstanceInput), ({ input, actor }, c) => service.provisionInstance(input, actor, c.correlation_id), o),
      getInstance: rpcHandler(rpcRequestSchema(instanceIdInput), ({ input }) => service.getInstance(input.id), o),
      listInstances: rpcHandler(rpcRequestSchema(listInstancesInput), ({ input }) => service.listInstances(input), o),
      terminateInstance: rpcHandler(rpcRequestSchema(instanceIdInput), ({ input, actor }, c) => service.terminateInstance(input.id, actor, c.correlation_id), o),
      stopInstance: rpcHandler(rpcRequestSchema(instanceIdInput), ({ input, actor }, c) => service.stopInstance(input.id, actor, c.correlation_id), o),
      startInstance: rpcHandler(rpcRequestSchema(instanceIdInput), ({ input, actor }, c) => service.startInstance(input.id, actor, c.correlation_id), o),
      driftReport: rpcHandler(rpcRequestSchema(driftReportInput), ({ input }) => service.driftReport(input.instance_id), o),
      execInstance: rpcHandler(rpcRequestSchema(execInstanceInput), ({ input, actor }, c) => exec.exec(input, actor, c.correlation_id), o),
      execInstanceStream: streamedRpcHandler(nats, rpcRequestSchema(execInstanceInput), ({ input, actor }, c, writer) => exec.execStreamed(input, actor, c.correlation_id, writer), o),
      agentEnrol: rpcHandler(agentEnrolInput, (input, c) => agents.enrol(input, c.correlation_id), o),
      agentDesired: rpcHandler(agentCredentialRequest, ({ credential }) => agents.desired(credential), o),
      agentHeartbeat: rpcHandler(agentHeartbeatRequest, ({ credential, heartbeat }, c) => agents.heartbeat(credential, heartbeat, c.correlation_id), o),
      replay: rpcHandler(replayRequestSchema, ({ projection }) => readModels.rebuild(projection), o),
      ping: rpcHandler(z.unknown(), () => ({ service: 'provisioner', ok: true }), o),
    };
  }

  @MessagePattern(PROVISIONER_RPC.createNode) createNode(@Payload() p: unknown, @Ctx() c: NatsContext) { return this.handlers.createNode(p, c); }
  @MessagePattern(PROVISIONER_RPC.getNode) getNode(@Payload() p: unknown, @Ctx() c: NatsContext) { return this.handlers.getNode(p, c); }
  @MessagePattern(PROVISIONER_RPC.listNodes) listNodes(@Payload() p: unknown, @Ctx() c: NatsContext) { return this.handlers.listNodes(p, c); }
  @MessagePattern(PROVISIONER_RPC.setNodeChannel) setNodeChannel(@Payload() p: unknown, @Ctx() c: NatsContext) { return this.handlers.setNodeChannel(p, c); }
  @MessagePattern(PROVISIONER_RPC.provisionInstance) provisionInstance(@Payload() p: unknown, @Ctx() c: NatsContext) { return this.handlers.provisionInstance(p, c); }
  @MessagePattern(PROVISIONER_RPC.getInstance) getInstance(@Payload() p: unknown, @Ctx() c: NatsContext) { return this.handlers.getInstance(p, c); }
  @MessagePattern(PROVISIONER_RPC.listInstances) listInstances(@Payload() p: unknown, @Ctx() c: NatsContext) { return this.handlers.listInstances(p, c); }
  @MessagePattern(PROVISIONER_RPC.terminateInstance) terminateInstance(@Payload() p: unknown, @Ctx() c: NatsContext) { return this.handlers.terminateInstance(p, c); }
  @MessagePattern(PROVISIONER_RPC.stopInstance) stopInstance(@Payload() p: unknown, @Ctx() c: NatsContext) { return this.handlers.stopInstance(p, c); }
  @MessagePattern(PROVISIONER_RPC.startInstance) startInstance(@Payload() p: unknown, @Ctx() c: NatsContext) { return this.handlers.startInstance(p, c); }
  @MessagePattern(PROVISIONER_RPC.driftReport) driftReport(@Payload() p: unknown, @Ctx() c: NatsContext) { return this.handlers.driftReport(p, c); }
  @MessagePattern(PROVISIONER_RPC.execInstance) execInstance(@Payload() p: unknown, @Ctx() c: NatsContext) { return this.handlers.execInstance(p, c); }
  @MessagePattern(PROVISIONER_RPC.execInstanceStream) execInstanceStream(@Payload() p: unknown, @Ctx() c: NatsContext) { return this.handlers.execInstanceStream(p, c); }
  @MessagePattern(PROVISIONER_RPC.agentEnrol) agentEnrol(@Payload() p: unknown, @Ctx() c: NatsContext) { return this.handlers.agentEnrol(p, c); }
  @MessagePattern(PROVISIONER_RPC.agentDesired) agentDesired(@Payload() p: unknown, @Ctx() c: NatsContext) { return this.handlers.agentDesired(p, c); }
  @MessagePattern(PROVISIONER_RPC.agentHeartbeat) agentHeartbeat(@Payload() p: unknown, @Ctx() c: NatsContext) { return this.handlers.agentHeartbeat(p, c); }
  @MessagePattern(PROVISIONER_RPC.replay) replay(@Payload() p: unknown, @Ctx() c: NatsContext) { return this.handlers.replay(p, c); }
  @MessagePattern(PROVISIONER_RPC.ping) ping(@Payload() p: unknown, @Ctx() c: NatsContext) { return this.handlers.ping(p, c); }
}

/** The provisioner microservice: its controller over already-started read models and services. */
@Module({})
export class ProvisionerModule {
  static register(deps: ProvisionerControllerDeps): DynamicModule {
    return { module: ProvisionerModule, controllers: [ProvisionerController], providers: [{ provide: PROVISIONER_DEPS, useValue: deps }] };
  }
}
