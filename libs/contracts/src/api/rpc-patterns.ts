/** NATS request/reply subjects of the services' commands and queries (Nest `@MessagePattern` names). */
export const CATALOG_RPC = {
  createModule: 'catalog.module.create',
  getModule: 'catalog.module.get',
  listModules: 'catalog.module.list',
  updateModule: 'catalog.module.update',
  rotateWebhookSecret: 'catalog.module.rotate_webhook_secret',
  deleteModule: 'catalog.module.delete',
  listModuleVersions: 'catalog.version.list',
  getModuleVersion: 'catalog.version.get',
  promoteModuleVersion: 'catalog.version.promote',
  recordBuild: 'catalog.version.record_build',
  recordRejection: 'catalog.version.record_rejection',
  recordReverification: 'catalog.version.record_reverification',
  approvePromotion: 'catalog.approval.approve',
  rejectPromotion: 'catalog.approval.reject',
  listApprovals: 'catalog.approval.list',
  listTemplates: 'catalog.template.list',
  getTemplate: 'catalog.template.get',
  createTemplate: 'catalog.template.create',
  assignModule: 'catalog.template.assign',
  unassignModule: 'catalog.template.unassign',
  composePreview: 'catalog.template.compose_preview',
  receiveWebhook: 'catalog.webhook.receive',
  trustPolicy: 'catalog.module.trust_policy',
  replay: 'catalog.projections.replay',
  ping: 'catalog.ping',
} as const;

/** NATS request/reply subjects the gateway answers (it serves reads from its own read models). */
export const GATEWAY_RPC = {
  replay: 'gateway.projections.replay',
} as const;

/** NATS request/reply subjects of the ingest service. */
export const INGEST_RPC = {
  /** `{actor, input:{id}}`: verify a recorded version's signature again under its module's current trust policy. */
  reverifyVersion: 'ingest.version.reverify',
  ping: 'ingest.ping',
} as const;

export const PROVISIONER_RPC = {
  createNode: 'provisioner.node.create',
  getNode: 'provisioner.node.get',
  listNodes: 'provisioner.node.list',
  setNodeChannel: 'provisioner.node.set_channel',
  provisionInstance: 'provisioner.instance.provision',
  getInstance: 'provisioner.instance.get',
  listInstances: 'provisioner.instance.list',
  terminateInstance: 'provisioner.instance.terminate',
  stopInstance: 'provisioner.instance.stop',
  startInstance: 'provisioner.instance.start',
  execInstance: 'provisioner.instance.exec',
  /** Like execInstance, but the output goes to the subject in the request's Powernode-Stream-Subject header as it comes. */
  execInstanceStream: 'provisioner.instance.exec_stream',
  driftReport: 'provisioner.instance.drift',
  agentEnrol: 'provisioner.agent.enrol',
  agentDesired: 'provisioner.agent.desired',
  agentHeartbeat: 'provisioner.agent.heartbeat',
  replay: 'provisioner.projections.replay',
  ping: 'provisioner.ping',
} as const;
