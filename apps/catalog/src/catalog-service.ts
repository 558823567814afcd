import { createHash } from 'node:crypto';
import {
  catalogStreams,
  contentDerivedId,
  isPowernodeError,
  moduleBuildReportedEventIdFor,
  moduleBuildReportIdFor,
  moduleVersionIdFor,
  PowernodeError,
  templateIdFor,
  WEBHOOK_REFUSAL_MESSAGE,
  type Actor,
  type CreateModuleInput,
  type ModuleVersionBuiltData,
  type ModuleVersionRejectedData,
  type ModuleVersionReverifiedData,
} from '@powernode/contracts';
import { claimRecoveringAbandoned, executeCommand, uuidv7, type CommandMetadata, type EventStore } from '@powernode/events';
import type { Logger } from '@powernode/runtime';
import {
  catalogFactsFromReadModels,
  catalogQueries,
  currentCatalogViews,
  dependencyView,
  assignmentClosureFacts,
  getApproval,
  getModule,
  getModuleVersion,
  getTemplate,
  moduleVersionIds,
  pendingApprovalForVersion,
  resolveTemplate,
  templatesUsingModule,
  webhookRouteFor,
  type ApprovalView,
  type ModuleView,
  type CatalogViews,
  type TemplateView,
} from '@powernode/catalog-views';
import {
  moduleBuildReportDecider,
  moduleDecider,
  moduleRegistryDecider,
  moduleVersionDecider,
  promotionApprovalDecider,
  seedTemplateCommands,
  templateDecider,
  type TemplateState,
} from './domain/index.js';
import type { CatalogReadModels } from './read-models.js';
import { mintWebhookSecret, type SecretBox } from './secrets/secret-box.js';
import { WebhookAuthenticator } from './webhook-authenticator.js';

export interface WebhookDelivery {
  repository_full_name: string;
  raw_body_base64: string;
  signature: string;
  delivery_id: string;
  tag: string | null;
  artifact_ref: string | null;
}

/**
 * The catalog's command and query handlers: load aggregate state, gather facts from the read models, let the
 * decider decide, append with the expected version, and answer once the read models have caught up.
 */
export class CatalogService {
  private readonly webhooks: WebhookAuthenticator;

  constructor(
    private readonly store: EventStore,
    private readonly readModels: CatalogReadModels,
    private readonly secrets: Pick<SecretBox, 'encrypt' | 'decrypt'>,
    private readonly logger: Logger,
    private readonly clock: () => Date = () => new Date(),
  ) {
    this.webhooks = new WebhookAuthenticator(secrets);
  }

  private now(): string {
    return this.clock().toISOString();
  }

  private views(): CatalogViews {
    return currentCatalogViews(this.readModels);
  }

  private meta(actor: Actor | string, correlation_id: string, extra: Partial<CommandMetadata> = {}): CommandMetadata {
    return { actor: typeof actor === 'string' ? actor : actor.name, correlation_id, ...extra };
  }

  /** Creates the seeded templates once; ids derive from names so a second start changes nothing. */
  async seed(): Promise<void> {
    for (const command of seedTemplateCommands(this.now())) {
      try {
        const outcome = await executeCommand(this.store, catalogStreams.template(command.template_id), templateDecider, command, {
          actor: 'system',
          correlation_id: `seed-${command.name}`,
          event_id: (i) => contentDerivedId('seed', command.template_id, String(i)),
        });
        if (outcome.appended.length) this.logger.info({ template: command.name }, 'seeded template');
      } catch (error) {
        if (!(error instanceof PowernodeError && error.code === 'already_exists')) throw error;
      }
    }
  }

  // ---- modules ---------------------------------------------------------------------------------------------

  async createModule(input: CreateModuleInput, actor: Actor, correlation_id: string): Promise<{ module: ModuleView; webhook_secret: string }> {
    const module_id = uuidv7();
    const now = this.now();
    const secret = mintWebhookSecret();
    const meta = this.meta(actor, correlation_id);
    await this.claimModuleIdentity(module_id, input, meta, now);
    let position: number;
    try {
      const outcome = await executeCommand(
        this.store,
        catalogStreams.module(module_id),
        moduleDecider,
        {
          type: 'RegisterModule',
          module_id,
          name: input.name,
          display_name: input.display_name ?? null,
          description: input.description ?? null,
          category: input.category,
          variety: input.variety,
          gitea_repo_full_name: input.gitea_repo_full_name,
          cosign_identity_regexp: input.cosign_identity_regexp,
          cosign_issuer_regexp: input.cosign_issuer_regexp,
          approval_policy: input.approval_policy ?? null,
          manifest_yaml: input.manifest_yaml ?? null,
          webhook_secret: { encrypted: this.secrets.encrypt(secret), entropy_bytes: 32 },
          now,
        },
        meta,
      );
      position = outcome.position;
    } catch (error) {
      // Registration refused (bad manifest, bad pattern…): give the name back so nothing changed.
      await executeCommand(this.store, catalogStreams.moduleRegistry(), moduleRegistryDecider, { type: 'ReleaseModuleIdentity', module_id, now }, meta);
      throw error;
    }
    await this.readModels.caughtUpTo(position);
    return { module: getModule(this.readModels.modules.current, input.name), webhook_secret: secret };
  }

  /**
   * Claims the module's name and repository for `module_id`. A claim whose module was never registered (a crash
   * between the two appends) is released and taken over once it is older than ABANDONED_CLAIM_MS; one whose
   * module was deleted (a crash before the release) at once.
   */
  private async claimModuleIdentity(module_id: string, input: CreateModuleInput, meta: CommandMetadata, now: string): Promise<void> {
    const registry = catalogStreams.moduleRegistry();
    await claimRecoveringAbandoned({
      store: this.store,
      registry,
      claim: () =>
        executeCommand(
          this.store,
          registry,
          moduleRegistryDecider,
          { type: 'ClaimModuleIdentity', module_id, name: input.name, gitea_repo_full_name: input.gitea_repo_full_name, now },
          meta,
        ),
      holderRefusing: (error) => {
        const rule = isPowernodeError(error) && error.code === 'already_exists' ? error.details?.['rule'] : undefined;
        return rule === 'module_name_unique' || rule === 'repository_unique' ? String((error as PowernodeError).details!['module_id']) : null;
      },
      holderStream: (holder) => catalogStreams.module(holder),
      holderEnded: (last) => last.type === 'ModuleDeleted',
      claimedAt: (event, holder) => {
        const data = event.data as { module_id?: string; claimed_at?: string };
        return event.type === 'ModuleIdentityClaimed' && data.module_id === holder ? (data.claimed_at ?? null) : null;
      },
      release: (holder) => executeCommand(this.store, registry, moduleRegistryDecider, { type: 'ReleaseModuleIdentity', module_id: holder, now }, meta),
      now: this.clock,
      onAbandoned: (holder) =>
        this.logger.warn(
          { name: input.name, gitea_repo_full_name: input.gitea_repo_full_name, module_id: holder },
          'releasing a module name claim whose module was never registered',
        ),
    });
  }

  getModule(name: string): { module: ModuleView } {
    return catalogQueries.getModule(this.views(), { module_name: name });
  }

  listModules(input: { limit?: number; cursor?: string; category?: string }): { modules: ModuleView[]; next_cursor: string | null } {
    return catalogQueries.listModules(this.views(), input);
  }

  async updateModule(input: Record<string, unknown> & { module_name: string }, actor: Actor, correlation_id: string): Promise<{ module: ModuleView }> {
    const current = getModule(this.readModels.modules.current, input.module_name);
    const stream = catalogStreams.module(current.id);
    const meta = this.meta(actor, correlation_id);
    const now = this.now();
    let position = 0;
    const { module_name: _name, cosign_identity_regexp, cosign_issuer_regexp, ...changes } = input;
    if (cosign_identity_regexp !== undefined || cosign_issuer_regexp !== undefined) {
      const outcome = await executeCommand(
        this.store,
        stream,
        moduleDecider,
        {
          type: 'UpdateTrustPolicy',
          cosign_identity_regexp: String(cosign_identity_regexp ?? current.cosign_identity_regexp),
          cosign_issuer_regexp: String(cosign_issuer_regexp ?? current.cosign_issuer_regexp),
          now,
        },
        meta,
      );
      position = Math.max(position, outcome.position);
    }
    if (Object.keys(changes).length > 0) {
      const outcome = await executeCommand(this.store, stream, moduleDecider, { type: 'UpdateModule', changes, now }, meta);
      position = Math.max(position, outcome.position);
    }
    await this.readModels.caughtUpTo(position);
    return { module: getModule(this.readModels.modules.current, input.module_name) };
  }

  async rotateWebhookSecret(name: string, actor: Actor, correlation_id: string): Promise<{ module: ModuleView; webhook_secret: string }> {
    const current = getModule(this.readModels.modules.current, name);
    const secret = mintWebhookSecret();
    const outcome = await executeCommand(
      this.store,
      catalogStreams.module(current.id),
      moduleDecider,
      { type: 'RotateWebhookSecret', webhook_secret: { encrypted: this.secrets.encrypt(secret), entropy_bytes: 32 }, now: this.now() },
      this.meta(actor, correlation_id),
    );
    await this.readModels.caughtUpTo(outcome.position);
    return { module: getModule(this.readModels.modules.current, name), webhook_secret: secret };
  }

  async deleteModule(name: string, actor: Actor, correlation_id: string): Promise<{ deleted: true; versions_deleted: number }> {
    const current = getModule(this.readModels.modules.current, name);
    const meta = this.meta(actor, correlation_id);
    const now = this.now();
    const outcome = await executeCommand(
      this.store,
      catalogStreams.module(current.id),
      moduleDecider,
      {
        type: 'DeleteModule',
        assigned_templates: templatesUsingModule(this.readModels.templates.current, name),
        version_ids: moduleVersionIds(this.readModels.versions.current, name),
        now,
      },
      meta,
    );
    const released = await executeCommand(
      this.store,
      catalogStreams.moduleRegistry(),
      moduleRegistryDecider,
      { type: 'ReleaseModuleIdentity', module_id: current.id, now },
      meta,
    );
    await this.readModels.caughtUpTo(Math.max(outcome.position, released.position));
    const deleted = outcome.events.find((e) => e.type === 'ModuleDeleted');
    return { deleted: true, versions_deleted: deleted ? (deleted.data as { versions_deleted: number }).versions_deleted : 0 };
  }

  // ---- versions --------------------------------------------------------------------------------------------

  listModuleVersions(input: { module_name: string; limit?: number; cursor?: string; promotion_state?: string }) {
    return catalogQueries.listModuleVersions(this.views(), input);
  }

  getModuleVersion(id: string) {
    return catalogQueries.getModuleVersion(this.views(), { id });
  }

  /** Ingest's hand-off: records a verified (or policy-failing) build; idempotent for the same module+tag+digest. */
  async recordBuild(build: ModuleVersionBuiltData, correlation_id: string, causation_id: string | null) {
    const version_id = moduleVersionIdFor(build.module_id, build.tag);
    if (version_id !== build.version_id)
      throw new PowernodeError('validation_failed', `version_id must be derived from module_id and tag (expected ${version_id})`);
    const outcome = await executeCommand(
      this.store,
      catalogStreams.moduleVersion(version_id),
      moduleVersionDecider,
      { type: 'RecordBuild', build },
      this.meta('ingest', correlation_id, {
        causation_id,
        // Per report, not per digest: a report of the same build under an edited trust policy carries a new
        // verdict, and an id derived from the digest alone would make the store drop it as already appended.
        event_id: (i) => contentDerivedId('record-build', version_id, build.oci_digest, causation_id ?? correlation_id, String(i)),
      }),
    );
    let position = outcome.position;
    if (outcome.appended.length > 0 && build.cosign_verified) {
      // The first verified build seeds the module's spec fields from its manifest (a no-op once seeded/edited).
      try {
        const seeded = await executeCommand(
          this.store,
          catalogStreams.module(build.module_id),
          moduleDecider,
          { type: 'SeedModuleSpec', manifest: build.manifest, source_version_id: version_id, now: this.now() },
          this.meta('ingest', correlation_id, { causation_id }),
        );
        position = Math.max(position, seeded.position);
      } catch (error) {
        this.logger.warn({ err: error, version_id }, 'manifest of the build could not seed the module spec');
      }
    }
    await this.readModels.caughtUpTo(position);
    return this.getModuleVersion(version_id);
  }

  async recordRejection(rejection: ModuleVersionRejectedData, correlation_id: string, causation_id: string | null) {
    const outcome = await executeCommand(
      this.store,
      catalogStreams.moduleVersion(rejection.version_id),
      moduleVersionDecider,
      { type: 'RecordRejection', rejection },
      this.meta('ingest', correlation_id, {
        causation_id,
        event_id: (i) => contentDerivedId('record-rejection', rejection.version_id, causation_id ?? correlation_id, String(i)),
      }),
    );
    await this.readModels.caughtUpTo(outcome.position);
    return this.getModuleVersion(rejection.version_id);
  }

  /** Ingest's re-verification of a recorded build: a changed signature verdict, or nothing when it is unchanged. */
  async recordReverification(reverification: ModuleVersionReverifiedData, correlation_id: string, causation_id: string | null) {
    const outcome = await executeCommand(
      this.store,
      catalogStreams.moduleVersion(reverification.version_id),
      moduleVersionDecider,
      { type: 'RecordReverification', reverification },
      this.meta('ingest', correlation_id, { causation_id }),
    );
    await this.readModels.caughtUpTo(outcome.position);
    return { ...this.getModuleVersion(reverification.version_id), changed: outcome.appended.length > 0 };
  }

  async promote(id: string, to: string, actor: Actor, correlation_id: string): Promise<{ version: unknown } | { approval: ApprovalView }> {
    const row = getModuleVersion(this.readModels.versions.current, id);
    const module = getModule(this.readModels.modules.current, row.module_name);
    const now = this.now();
    const meta = this.meta(actor, correlation_id);
    const facts = catalogFactsFromReadModels(this.readModels.modules.current, this.readModels.versions.current);
    try {
      const outcome = await executeCommand(
        this.store,
        catalogStreams.moduleVersion(id),
        moduleVersionDecider,
        {
          type: 'PromoteVersion',
          to,
          requested_by: actor.name,
          approval_policy: module.approval_policy,
          dependencies: dependencyView(facts),
          approval: null,
          now,
        },
        meta,
      );
      await this.readModels.caughtUpTo(outcome.position);
      return this.getModuleVersion(id);
    } catch (error) {
      if (!(error instanceof PowernodeError && error.code === 'approval_required')) throw error;
    }
    const pending = pendingApprovalForVersion(this.readModels.approvals.current, id, now);
    if (pending) return { approval: pending };
    const approval_id = uuidv7();
    const outcome = await executeCommand(
      this.store,
      catalogStreams.promotionApproval(approval_id),
      promotionApprovalDecider,
      {
        type: 'RequestPromotionApproval',
        approval_id,
        version: { version_id: id, module_id: row.module_id, module_name: row.module_name, version_string: row.version_string },
        requested_by: actor.name,
        requested_by_id: actor.id,
        now,
      },
      meta,
    );
    await this.readModels.caughtUpTo(outcome.position);
    return { approval: getApproval(this.readModels.approvals.current, approval_id, now) };
  }

  async approve(approval_id: string, actor: Actor, correlation_id: string) {
    const now = this.now();
    const meta = this.meta(actor, correlation_id);
    const decided = await executeCommand(
      this.store,
      catalogStreams.promotionApproval(approval_id),
      promotionApprovalDecider,
      { type: 'ApprovePromotion', approver: actor.name, approver_id: actor.id, approver_roles: [actor.role], now },
      meta,
    );
    if (decided.state.status === 'absent') throw new PowernodeError('not_found', `promotion approval ${approval_id} does not exist`);
    const record = decided.state.approval;
    const row = getModuleVersion(this.readModels.versions.current, record.version_id);
    const module = getModule(this.readModels.modules.current, row.module_name);
    const facts = catalogFactsFromReadModels(this.readModels.modules.current, this.readModels.versions.current);
    const promoted = await executeCommand(
      this.store,
      catalogStreams.moduleVersion(record.version_id),
      moduleVersionDecider,
      {
        type: 'PromoteVersion',
        to: 'live',
        requested_by: actor.name,
        approval_policy: module.approval_policy,
        dependencies: dependencyView(facts),
        approval: { approval_id, version_id: record.version_id, status: 'granted', approved_by: actor.name },
        now,
      },
      meta,
    );
    await this.readModels.caughtUpTo(Math.max(decided.position, promoted.position));
    return this.getModuleVersion(record.version_id);
  }

  async reject(approval_id: string, reason: string | undefined, actor: Actor, correlation_id: string) {
    const now = this.now();
    const outcome = await executeCommand(
      this.store,
      catalogStreams.promotionApproval(approval_id),
      promotionApprovalDecider,
      { type: 'RejectPromotion', approver: actor.name, approver_id: actor.id, approver_roles: [actor.role], reason: reason ?? null, now },
      this.meta(actor, correlation_id),
    );
    await this.readModels.caughtUpTo(outcome.position);
    return { approval: getApproval(this.readModels.approvals.current, approval_id, now) };
  }

  listApprovals(input: { limit?: number; cursor?: string }) {
    return catalogQueries.listApprovals(this.views(), input, this.now());
  }

  // ---- templates -------------------------------------------------------------------------------------------

  private template(idOrName: string): TemplateView {
    return resolveTemplate(this.readModels.templates.current, idOrName);
  }

  listTemplates(input: { limit?: number; cursor?: string }) {
    return catalogQueries.listTemplates(this.views(), input);
  }

  getTemplate(idOrName: string) {
    return catalogQueries.getTemplate(this.views(), { template_id: idOrName });
  }

  async createTemplate(name: string, description: string | undefined, actor: Actor, correlation_id: string) {
    const template_id = templateIdFor(name);
    const outcome = await executeCommand(
      this.store,
      catalogStreams.template(template_id),
      templateDecider,
      { type: 'CreateTemplate', template_id, name, description: description ?? null, now: this.now() },
      this.meta(actor, correlation_id),
    );
    await this.readModels.caughtUpTo(outcome.position);
    return { template: getTemplate(this.readModels.templates.current, template_id) };
  }

  async assign(templateIdOrName: string, module_name: string, actor: Actor, correlation_id: string) {
    const template = this.template(templateIdOrName);
    const modules = this.readModels.modules.current;
    const moduleId = modules.ids_by_name[module_name];
    const facts = catalogFactsFromReadModels(modules, this.readModels.versions.current);
    const outcome = await executeCommand(
      this.store,
      catalogStreams.template(template.id),
      templateDecider,
      (state: TemplateState) => ({
        type: 'AssignModule' as const,
        module_name,
        module: moduleId ? { module_id: moduleId, name: module_name } : null,
        closure: assignmentClosureFacts(state.status === 'active' ? state.template.modules.map((m) => m.module_name) : [], module_name, facts),
        now: this.now(),
      }),
      this.meta(actor, correlation_id),
    );
    await this.readModels.caughtUpTo(outcome.position);
    return { template: getTemplate(this.readModels.templates.current, template.id) };
  }

  async unassign(templateIdOrName: string, module_name: string, actor: Actor, correlation_id: string) {
    const template = this.template(templateIdOrName);
    const outcome = await executeCommand(
      this.store,
      catalogStreams.template(template.id),
      templateDecider,
      { type: 'UnassignModule', module_name, now: this.now() },
      this.meta(actor, correlation_id),
    );
    await this.readModels.caughtUpTo(outcome.position);
    return { template: getTemplate(this.readModels.templates.current, template.id) };
  }

  composePreview(templateIdOrName: string) {
    return catalogQueries.composePreview(this.views(), { template_id: templateIdOrName });
  }

  // ---- webhook ---------------------------------------------------------------------------------------------

  /**
   * Authenticates a CI webhook (HMAC-SHA256 of the raw body with the module's secret, constant-time, and the
   * same work for an unknown repository), then lets the build report decider record it once per signed body
   * within the replay window, and once per delivery id of the module. Unknown repository and bad signature are
   * the same refusal, given before any payload rule so a forged request learns nothing about the payload.
   */
  async receiveWebhook(delivery: WebhookDelivery, correlation_id: string): Promise<{ delivery_id: string; duplicate: boolean; module_name: string }> {
    const route = webhookRouteFor(this.readModels.webhookRoutes.current, delivery.repository_full_name);
    const body = Buffer.from(delivery.raw_body_base64, 'base64');
    if (!this.webhooks.authenticates(route?.webhook_secret ?? null, body, delivery.signature) || !route) {
      throw new PowernodeError('unauthenticated', WEBHOOK_REFUSAL_MESSAGE);
    }
    const body_sha256 = createHash('sha256').update(body).digest('hex');
    const eventId = moduleBuildReportedEventIdFor(route.module_id, delivery.delivery_id);
    const answer = (duplicate: boolean) => ({ delivery_id: delivery.delivery_id, duplicate, module_name: route.module_name });
    try {
      const outcome = await executeCommand(
        this.store,
        catalogStreams.moduleBuildReport(moduleBuildReportIdFor(route.module_id, body_sha256)),
        moduleBuildReportDecider,
        {
          type: 'ReportModuleBuild',
          delivery_id: delivery.delivery_id,
          body_sha256,
          module: { module_id: route.module_id, module_name: route.module_name },
          repository_full_name: delivery.repository_full_name,
          tag: delivery.tag,
          artifact_ref: delivery.artifact_ref,
          now: this.now(),
        },
        this.meta(`webhook:${delivery.repository_full_name}`, correlation_id, { event_id: () => eventId }),
      );
      return answer(outcome.appended.length === 0);
    } catch (error) {
      // The module already stored this delivery id with another body: a delivery has one effect, whatever its
      // payload says now.
      if (isPowernodeError(error) && error.code === 'conflict' && error.details?.['id'] === eventId) return answer(true);
      throw error;
    }
  }

  /** What ingest verifies a build against: the module's current trust policy. */
  trustPolicy(module_id: string): {
    module_id: string;
    module_name: string;
    cosign_identity_regexp: string;
    cosign_issuer_regexp: string;
    gitea_repo_full_name: string;
  } {
    const module = this.readModels.modules.current.modules[module_id];
    if (!module) throw new PowernodeError('not_found', `module ${module_id} is not registered (deleted?)`);
    return {
      module_id,
      module_name: module.name,
      cosign_identity_regexp: module.cosign_identity_regexp,
      cosign_issuer_regexp: module.cosign_issuer_regexp,
      gitea_repo_full_name: module.gitea_repo_full_name,
    };
  }
}
