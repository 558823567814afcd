import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { MY_REDIS, ociRepositoryOf } from './example-modules.js';
import type { Narrator } from './narration.js';
import { checkRedisOnInstance, type OnInstanceOutput } from './on-instance.js';
import { PlatformClient, ToolCallError } from './platform-client.js';
import { ensurePrerequisites } from './prerequisites.js';
import {
  ensureModule,
  narratedCall,
  nextTag,
  promoteVersion,
  publishModule,
  validateModule,
  waitForInstance,
  waitForVersion,
  waitUntil,
  type StepContext,
  type VersionView,
} from './steps.js';
import type { DemoTarget } from './target.js';

/** What a demo run created and saw, for callers that check it. */
export interface DemoOutcome {
  version: VersionView;
  template_id: string;
  node_id: string;
  instance_id: string;
  running_module_digests: Record<string, string>;
  drift: boolean;
  /** What `powernode instances exec` printed on the instance, per command (machine instances only). */
  on_instance: Record<string, OnInstanceOutput>;
}

type Cleanup = Array<{ what: string; run: () => Promise<unknown> }>;

/**
 * The tutorial end to end against `target`, narrated. Cleans up after itself (instance terminated, module
 * unassigned and deleted, approver token revoked), also when a step fails; the failure is then rethrown.
 */
export async function runDemo(target: DemoTarget, narrator: Narrator): Promise<DemoOutcome> {
  const ctx: StepContext = { client: new PlatformClient(target.url, target.token), narrator, target };
  const cleanup: Cleanup = [];
  let outcome: DemoOutcome;
  try {
    outcome = await tutorial(ctx, cleanup);
  } catch (error) {
    await cleanUp(ctx, cleanup);
    await ctx.client.close();
    throw error;
  }
  const failures = await cleanUp(ctx, cleanup);
  await ctx.client.close();
  if (failures.length > 0) throw new Error(`cleanup failed: ${failures.join('; ')}`);
  return outcome;
}

/** Runs the cleanup steps newest first, each even when an earlier one failed; returns what failed. */
async function cleanUp(ctx: StepContext, cleanup: Cleanup): Promise<string[]> {
  ctx.narrator.heading('Cleanup');
  const failures: string[] = [];
  for (const step of cleanup) {
    try {
      await step.run();
    } catch (error) {
      failures.push(`${step.what}: ${error instanceof Error ? error.message : String(error)}`);
    }
  }
  if (failures.length > 0) ctx.narrator.record({ kind: 'note', step: 'cleanup', text: `cleanup incomplete: ${failures.join('; ')}` });
  return failures;
}

/** The tutorial's steps; each thing created registers how to undo it in `cleanup` (newest first). */
async function tutorial(ctx: StepContext, cleanup: Cleanup): Promise<DemoOutcome> {
  const { narrator } = ctx;
  const suffix = randomBytes(3).toString('hex');

  // A second person approves live promotions: an approver token, revoked at the end.
  narrator.heading('Set-up — a second token that approves live promotions');
  const issued = await narratedCall<{ token: string; id: string }>(ctx, 'approver', 'system_create_token', {
    role: 'approver',
    name: `demo-approver-${suffix}`,
  });
  cleanup.unshift({ what: 'revoke the approver token', run: () => narratedCall(ctx, 'cleanup', 'system_revoke_token', { id: issued.id }) });
  const approver = { client: ctx.client.as(issued.token), label: 'approver' };
  cleanup.unshift({ what: "close the approver's connection", run: () => approver.client.close() });

  await ensurePrerequisites(ctx, approver);

  narrator.heading('Step 4 — Validate the manifest locally');
  await validateModule(ctx, MY_REDIS.dir);
  await narratedCall(ctx, 'validate', 'system_validate_module_manifest', { manifest_yaml: readFileSync(path.join(MY_REDIS.dir, 'manifest.yaml'), 'utf8') });

  narrator.heading('Step 5 — Register the module on the platform');
  const registered = await ensureModule(ctx, MY_REDIS);
  cleanup.unshift({ what: 'delete my-redis', run: () => narratedCall(ctx, 'cleanup', 'system_delete_module', { name: MY_REDIS.name }) });

  narrator.heading('Steps 6–7 — Tag, build, sign, push, call the webhook (what CI runs)');
  const tag = await nextTag(ctx, MY_REDIS.name, ociRepositoryOf(MY_REDIS.repo), MY_REDIS.series);
  await publishModule(ctx, { dir: MY_REDIS.dir, repo: MY_REDIS.repo, tag, webhookSecret: registered.webhook_secret });

  narrator.heading('Step 8 — Verify ingestion, then promote');
  const built = await waitForVersion(ctx, MY_REDIS.name, tag.slice(1));
  let version = built;
  for (const to of ['staging', 'blessed', 'live']) version = await promoteVersion(ctx, built.id, to, approver);

  narrator.heading('Step 9 — Assign to a template and provision');
  const { templates } = await ctx.client.call<{ templates: { id: string; name: string }[] }>('system_list_templates', { limit: 200 });
  const base = templates.find((t) => t.name === 'base');
  if (base === undefined) throw new Error('template base does not exist: the catalog seeds it at start-up (npm start)');
  try {
    await narratedCall(ctx, 'assign', 'system_assign_module_to_template', { template_id: base.id, module_name: MY_REDIS.name });
  } catch (error) {
    // Left by a run that stopped half-way: the assignment is what this step wants anyway.
    if (!(error instanceof ToolCallError) || error.code !== 'already_assigned') throw error;
    narrator.record({ kind: 'note', step: 'assign', text: 'my-redis is assigned to base already' });
  }
  cleanup.unshift({
    what: 'unassign my-redis from base',
    run: () => narratedCall(ctx, 'cleanup', 'system_unassign_module_from_template', { template_id: base.id, module_name: MY_REDIS.name }),
  });
  const { node } = await narratedCall<{ node: { id: string } }>(ctx, 'provision', 'system_create_node', {
    hostname: `redis-test-${suffix}`,
    node_template_id: base.id,
  });
  const { instance } = await narratedCall<{ instance: { id: string } }>(ctx, 'provision', 'system_provision_instance', { node_id: node.id });
  cleanup.unshift({ what: 'terminate the instance', run: () => narratedCall(ctx, 'cleanup', 'system_terminate_instance', { id: instance.id }) });

  narrator.heading('Verification');
  const running = await waitForInstance(
    ctx,
    instance.id,
    'the instance to run my-redis',
    (i) => i.status === 'running' && i.running_module_digests?.[MY_REDIS.name] === version.composefs_digest,
    'verify',
  );
  // Every module of the closure arrives in one generation, so this is normally false at once.
  let last: unknown;
  await waitUntil(
    'the drift report to show no drift',
    async () => {
      last = await ctx.client.call<{ drift: boolean }>('system_drift_report', { instance_id: instance.id });
      return !(last as { drift: boolean }).drift;
    },
    30_000,
  ).catch((error: Error) => {
    throw new Error(`${error.message}; last report: ${JSON.stringify(last)}`);
  });
  const drift = await narratedCall<{ drift: boolean }>(ctx, 'verify', 'system_drift_report', { instance_id: instance.id });

  narrator.heading('Verification — on the instance itself');
  const onInstance = await checkRedisOnInstance(ctx, running);
  return {
    version,
    template_id: base.id,
    node_id: node.id,
    instance_id: instance.id,
    running_module_digests: running.running_module_digests,
    drift: drift.drift,
    on_instance: onInstance,
  };
}
