import {
  contentDerivedId,
  isPowernodeError,
  MACHINE_DRIVER_KINDS,
  provisionerStreams,
  templateIdFor,
  type Actor,
  type InstanceStatus,
  type NodeChannel,
} from '@powernode/contracts';
import { claimRecoveringAbandoned, entryOf, executeCommand, uuidv7, type CommandMetadata, type EventStore } from '@powernode/events';
import type { Logger } from '@powernode/runtime';
import { sha256Hex, type EnrolmentKeys } from './agent-secrets.js';
import {
  desiredModulesFor,
  instanceDecider,
  instanceDriftReport,
  instanceView,
  listInstances,
  listNodes,
  nodeDecider,
  nodeRegistryDecider,
  nodeView,
  type InstanceCommand,
  type InstanceDriftReport,
  type InstanceState,
  type InstanceView,
  type NodeCommand,
  type NodeFacts,
  type NodeView,
} from './domain/index.js';
import { conditionalInstanceDecider } from './instance-commands.js';
import type { InstanceReactions } from './instance-reactions.js';
import { pageOf } from './list-pages.js';
import type { LivenessTable } from './liveness-table.js';
import type { ProvisionerReadModels } from './read-models.js';

/** The module category a base OS module belongs to. */
const BASE_OS_CATEGORY = 'system-base';

export interface ProvisionerSettings {
  /** How long a new instance's enrolment token stays valid. */
  enrolmentTtlMs: number;
  /** This provisioner's host: instances it provisions run on its driver, and only its reactions act on them. */
  provisionerHost: string;
}

export interface ProvisionerServiceDeps {
  store: EventStore;
  readModels: ProvisionerReadModels;
  /** Makes the driver follow what a command appended. */
  reactions: InstanceReactions;
  liveness: LivenessTable;
  keys: EnrolmentKeys;
  driverKind: string;
  settings: ProvisionerSettings;
  logger: Logger;
  clock?: () => Date;
}

/**
 * The operator-facing commands and queries of the provisioner: load state, gather facts from the read models,
 * let the decider decide, append with the expected version, answer once the read models have caught up, and
 * leave the driver work to the instance's reactions (the consumer of its events on the provisioner's host).
 */
export class ProvisionerService {
  private readonly clock: () => Date;

  constructor(private readonly deps: ProvisionerServiceDeps) {
    this.clock = deps.clock ?? (() => new Date());
  }

  private now(): string {
    return this.clock().toISOString();
  }

  private meta(actor: Actor, correlation_id: string, extra: Partial<CommandMetadata> = {}): CommandMetadata {
    return { actor: actor.name, correlation_id, ...extra };
  }

  // ---- nodes -----------------------------------------------------------------------------------------------

  /** Creates a node: hostname claimed on the registry first (unique), then the node's own stream. */
  async createNode(
    input: {
      hostname: string;
      node_template_id: string;
      channel?: NodeChannel | undefined;
      resources?: { memory_mb?: number | undefined; vcpus?: number | undefined } | undefined;
    },
    actor: Actor,
    correlation_id: string,
  ): Promise<{ node: NodeView }> {
    const node_id = uuidv7();
    const now = this.now();
    const meta = this.meta(actor, correlation_id);
    const node_template_id = await this.resolveTemplateId(input.node_template_id);
    const command: NodeCommand = {
      type: 'CreateNode',
      node_id,
      hostname: input.hostname,
      node_template_id,
      channel: input.channel,
      resources: input.resources,
      template_exists: this.templateExists(node_template_id),
      created_by: actor.name,
      now,
    };
    // Refusals that need no state (hostname format, unknown template) before anything is claimed.
    nodeDecider.decide(command, nodeDecider.initialState());
    await this.claimHostname(node_id, input.hostname, meta, now);
    let position: number;
    try {
      position = (await executeCommand(this.deps.store, provisionerStreams.node(node_id), nodeDecider, command, meta)).position;
    } catch (error) {
      await executeCommand(this.deps.store, provisionerStreams.nodeRegistry(), nodeRegistryDecider, { type: 'ReleaseHostname', node_id, now }, meta);
      throw error;
    }
    await this.deps.readModels.caughtUpTo(position);
    return { node: nodeView(this.deps.readModels.nodes.current, node_id) };
  }

  getNode(node_id: string): { node: NodeView } {
    return { node: nodeView(this.deps.readModels.nodes.current, node_id) };
  }

  listNodes(input: { limit?: number | undefined; cursor?: string | undefined }): { nodes: NodeView[]; next_cursor: string | null } {
    const page = pageOf(listNodes(this.deps.readModels.nodes.current), (n) => n.hostname, input);
    return { nodes: page.items, next_cursor: page.next_cursor };
  }

  /** Changes the lowest promotion state the node accepts; its instances' desired state follows at once. */
  async setNodeChannel(input: { node_id: string; channel: NodeChannel }, actor: Actor, correlation_id: string): Promise<{ node: NodeView }> {
    const outcome = await executeCommand(
      this.deps.store,
      provisionerStreams.node(input.node_id),
      nodeDecider,
      { type: 'ChangeNodeChannel', node_id: input.node_id, channel: input.channel, changed_by: actor.name, now: this.now() },
      this.meta(actor, correlation_id),
    );
    await this.deps.readModels.caughtUpTo(outcome.position);
    return this.getNode(input.node_id);
  }

  // ---- instances -------------------------------------------------------------------------------------------

  /**
   * Records the request (with the SHA-256 of the instance's one-time enrolment token) on this provisioner's
   * host and answers with the instance as it then is: `pending` while the host's reaction brings it up through
   * the driver (→ provisioning → starting, or `error` naming the driver failure), or already `starting` where
   * the reaction runs in process. The agent's first heartbeat makes it `running`.
   */
  async provisionInstance(input: { node_id: string }, actor: Actor, correlation_id: string): Promise<{ instance: InstanceView }> {
    const instance_id = uuidv7();
    const now = this.now();
    const node = await this.nodeFacts(input.node_id);
    const outcome = await executeCommand(
      this.deps.store,
      provisionerStreams.instance(instance_id),
      instanceDecider,
      {
        type: 'RequestProvision',
        instance_id,
        node_id: input.node_id,
        node,
        driver: this.deps.driverKind,
        provisioner_host: this.deps.settings.provisionerHost,
        ...(node === null ? {} : { base_os: this.baseOsFacts(input.node_id) }),
        enrolment_token_sha256: sha256Hex(this.deps.keys.enrolmentToken(instance_id)),
        enrolment_expires_at: new Date(Date.parse(now) + this.deps.settings.enrolmentTtlMs).toISOString(),
        requested_by: actor.name,
        now,
      },
      this.meta(actor, correlation_id, { event_id: (i) => contentDerivedId('instance-provision-requested', instance_id, String(i)) }),
    );
    await this.deps.readModels.caughtUpTo(outcome.position);
    await this.deps.reactions.requested(instance_id, correlation_id);
    return this.getInstance(instance_id);
  }

  getInstance(id: string): { instance: InstanceView } {
    return { instance: this.view(id) };
  }

  listInstances(input: { limit?: number | undefined; cursor?: string | undefined; node_id?: string | undefined }): {
    instances: InstanceView[];
    next_cursor: string | null;
  } {
    const state = this.deps.readModels.instances.current;
    const all = listInstances(state, input.node_id === undefined ? {} : { node_id: input.node_id });
    const page = pageOf(all, (i) => `${i.created_at}\u0000${i.id}`, input);
    return { instances: page.items.map((i) => this.view(i.id)), next_cursor: page.next_cursor };
  }

  /**
   * Terminates an instance from any status (a terminated one again is a no-op): the event revokes its agent
   * credential; then the driver destroys its sandbox and private state and the shared cache loses what no
   * other instance needs. A failed destroy is retried by the periodic sweep; the answer is `terminated` anyway.
   */
  async terminateInstance(id: string, actor: Actor, correlation_id: string): Promise<{ instance: InstanceView }> {
    const outcome = await executeCommand(
      this.deps.store,
      provisionerStreams.instance(id),
      instanceDecider,
      { type: 'TerminateInstance', instance_id: id, terminated_by: actor.name, now: this.now() },
      this.meta(actor, correlation_id, { event_id: (i) => contentDerivedId('instance-terminated', id, String(i)) }),
    );
    await this.deps.readModels.caughtUpTo(outcome.position);
    try {
      await this.deps.reactions.requested(id, correlation_id);
    } catch (error) {
      this.deps.logger.error({ err: error, instance_id: id, correlation_id }, 'destroying the terminated instance failed; the sweep retries');
    }
    return this.getInstance(id);
  }

  /**
   * Stops the instance's agent (its sandbox and credential stay): running → stopping → stopped. Stopping a
   * stopped instance is a no-op; a status that cannot stop is refused with `invalid_transition` naming it.
   */
  async stopInstance(id: string, actor: Actor, correlation_id: string): Promise<{ instance: InstanceView }> {
    await this.changeStatus(
      id,
      (status) => (status === 'stopping' || status === 'stopped' ? null : 'stopping'),
      `stop requested by ${actor.name}`,
      actor,
      correlation_id,
    );
    await this.deps.reactions.requested(id, correlation_id);
    return this.getInstance(id);
  }

  /**
   * Starts a stopped (or failed) instance again: → starting, then running on its agent's next heartbeat.
   * Starting a running instance is a no-op; a status that cannot start is refused with `invalid_transition`.
   */
  async startInstance(id: string, actor: Actor, correlation_id: string): Promise<{ instance: InstanceView }> {
    await this.changeStatus(
      id,
      (status) => (status === 'starting' || status === 'running' ? null : 'starting'),
      `start requested by ${actor.name}`,
      actor,
      correlation_id,
    );
    await this.deps.reactions.requested(id, correlation_id);
    return this.getInstance(id);
  }

  /** `system_drift_report`: what the instance's node should run against what its agent last reported. */
  driftReport(instance_id: string): InstanceDriftReport {
    const view = this.view(instance_id);
    return instanceDriftReport(desiredModulesFor(this.deps.readModels.desired.current, { instance_id }), view);
  }

  // ---- internals -------------------------------------------------------------------------------------------

  private view(id: string): InstanceView {
    const liveness = this.deps.liveness.get(id);
    const view = instanceView(this.deps.readModels.instances.current, id, liveness);
    const gone = view.status === 'terminated';
    return {
      ...view,
      services: gone ? [] : (liveness?.services ?? []),
      address: gone ? null : (liveness?.address ?? null),
      integrity: gone ? [] : (liveness?.integrity ?? []),
    };
  }

  /** Appends the status `target` picks for the current status (null: nothing to do), decided on fresh state. */
  private async changeStatus(
    id: string,
    target: (status: InstanceStatus) => InstanceStatus | null,
    reason: string,
    actor: Actor,
    correlation_id: string,
  ): Promise<void> {
    const outcome = await executeCommand(
      this.deps.store,
      provisionerStreams.instance(id),
      conditionalInstanceDecider,
      (state: InstanceState): InstanceCommand | null => {
        // An unknown instance goes to the decider, whose refusal names it.
        const to = state.status === 'none' ? 'stopped' : target(state.status);
        return to === null ? null : { type: 'ChangeStatus', instance_id: id, to, reason, now: this.now() };
      },
      this.meta(actor, correlation_id),
    );
    await this.deps.readModels.caughtUpTo(outcome.position);
  }

  private templateExists(templateId: string): boolean {
    return Object.prototype.hasOwnProperty.call(this.deps.readModels.desired.current.templates, templateId);
  }

  /**
   * A template id, or the id of the template with that name (the catalog accepts either). A template created a
   * moment ago by the catalog may not be folded here yet: look again once caught up with the store.
   */
  private async resolveTemplateId(idOrName: string): Promise<string> {
    const lookup = (): string | null => {
      if (this.templateExists(idOrName)) return idOrName;
      const byName = templateIdFor(idOrName);
      return this.templateExists(byName) ? byName : null;
    };
    const found = lookup();
    if (found !== null) return found;
    await this.deps.readModels.caughtUpWithStore();
    return lookup() ?? idOrName;
  }

  /** Whether the driver needs a base OS, and whether the node's desired modules hold a system-base module. */
  private baseOsFacts(nodeId: string): { required: boolean; present: boolean; template_id: string } {
    const desired = desiredModulesFor(this.deps.readModels.desired.current, { node_id: nodeId });
    return {
      required: MACHINE_DRIVER_KINDS.has(this.deps.driverKind),
      present: Object.values(desired.modules).some((module) => module.category === BASE_OS_CATEGORY),
      template_id: desired.node_template_id,
    };
  }

  private async nodeFacts(nodeId: string): Promise<NodeFacts | null> {
    const find = (): NodeFacts | null => {
      const node = entryOf(this.deps.readModels.nodes.current.nodes, nodeId);
      // A node another host created a moment ago reaches each read model on its own runner: the desired state,
      // which provisioning also reads, must know it too.
      if (node === undefined || entryOf(this.deps.readModels.desired.current.nodes, nodeId) === undefined) return null;
      return { hostname: node.hostname, node_template_id: node.node_template_id };
    };
    const found = find();
    if (found !== null) return found;
    await this.deps.readModels.caughtUpWithStore();
    return find();
  }

  /** Claims the hostname for `nodeId`; takes over a claim a crash left without a node (ABANDONED_CLAIM_MS). */
  private async claimHostname(nodeId: string, hostname: string, meta: CommandMetadata, now: string): Promise<void> {
    const registry = provisionerStreams.nodeRegistry();
    await claimRecoveringAbandoned(
      {
        store: this.deps.store,
        registry,
        claim: () => executeCommand(this.deps.store, registry, nodeRegistryDecider, { type: 'ClaimHostname', node_id: nodeId, hostname, now }, meta),
        holderRefusing: (error) =>
          isPowernodeError(error) && error.code === 'already_exists' && error.details?.['rule'] === 'hostname_unique' ? String(error.details['node_id']) : null,
        holderStream: (holder) => provisionerStreams.node(holder),
        claimedAt: (event, holder) => {
          const data = event.data as { node_id?: string; hostname?: string; claimed_at?: string };
          return event.type === 'NodeHostnameClaimed' && data.node_id === holder && data.hostname === hostname ? (data.claimed_at ?? null) : null;
        },
        release: (holder) => executeCommand(this.deps.store, registry, nodeRegistryDecider, { type: 'ReleaseHostname', node_id: holder, now }, meta),
        now: this.clock,
        onAbandoned: (holder) => this.deps.logger.warn({ hostname, node_id: holder }, 'releasing a hostname claim whose node was never created'),
      },
      1,
    );
  }
}
