import { readFileSync } from 'node:fs';
import path from 'node:path';
import { pollUntil } from '@powernode/runtime';
import { DEV_IDENTITY_REGEXP, DEV_ISSUER_REGEXP, ociRepositoryOf, type ExampleModule } from './example-modules.js';
import type { Narrator } from './narration.js';
import { ToolCallError, type PlatformClient } from './platform-client.js';
import { displayPath, parseJson, runPowernode } from './powernode-cli.js';
import type { DemoTarget } from './target.js';

/*
 * The tutorial's steps, each narrated: shared by the demo, the end-to-end tests and the benchmarks.
 */

/** A module version as `system_list_module_versions` lists it. */
export interface VersionView {
  id: string;
  module_name: string;
  version_string: string;
  promotion_state: string;
  composefs_digest: string | null;
  oci_ref: string | null;
  oci_digest: string | null;
  cosign_verified: boolean;
  rejection_reason: string | null;
}

/** What the demo needs from a step: the platform, the narration, and the step's label. */
export interface StepContext {
  client: PlatformClient;
  narrator: Narrator;
  target: DemoTarget;
}

/** Calls a tool and records the call with its result. */
export async function narratedCall<T = any>(
  ctx: StepContext,
  step: string,
  tool: string,
  args: Record<string, unknown>,
  client: PlatformClient = ctx.client,
  token?: string,
): Promise<T> {
  const result = await client.call<T>(tool, args);
  ctx.narrator.record({ kind: 'call', step, tool, args, result, ...(token ? { token } : {}) });
  return result;
}

/**
 * Registers the module, or reuses the one registered under its name (a run that stopped half-way, or a
 * prerequisite already in the catalog) with a freshly rotated webhook secret. Returns the secret.
 */
export async function ensureModule(
  ctx: StepContext,
  module: ExampleModule,
  step = 'register',
): Promise<{ module: any; webhook_secret: string; created: boolean }> {
  try {
    const existing = await ctx.client.call<{ module: any }>('system_get_module', { module_name: module.name });
    ctx.narrator.record({
      kind: 'note',
      step,
      text: `${module.name} is already registered (repository ${existing.module.gitea_repo_full_name}): reusing it with a new webhook secret`,
    });
    const rotated = await narratedCall<{ webhook_secret: string }>(ctx, step, 'system_rotate_webhook_secret', { module_name: module.name });
    return { module: existing.module, webhook_secret: rotated.webhook_secret, created: false };
  } catch (error) {
    if (!(error instanceof ToolCallError) || error.code !== 'not_found') throw error;
  }
  const created = await narratedCall<{ module: any; webhook_secret: string }>(ctx, step, 'system_create_module', {
    name: module.name,
    category: module.category,
    variety: 'subscription',
    gitea_repo_full_name: module.repo,
    cosign_identity_regexp: DEV_IDENTITY_REGEXP,
    cosign_issuer_regexp: DEV_ISSUER_REGEXP,
    approval_policy: module.approval_policy,
    manifest_yaml: readFileSync(path.join(module.dir, 'manifest.yaml'), 'utf8'),
  });
  return { module: created.module, webhook_secret: created.webhook_secret, created: true };
}

/**
 * The next unused tag `v<series>.<n>`: one past the highest patch in the registry's tag list and in the
 * catalog's versions, so a rerun (or a module deleted and registered again) never reuses a tag.
 */
export async function nextTag(ctx: StepContext, moduleName: string, ociRepository: string, series: string): Promise<string> {
  const patches: number[] = [];
  const collect = (version: string) => {
    const match = new RegExp(`^v?${series.replace(/\./g, '\\.')}\\.(\\d+)$`).exec(version);
    if (match) patches.push(Number(match[1]));
  };
  const scheme = /^(127\.|localhost(:|$)|\[::1\])/.test(ctx.target.registry) ? 'http' : 'https';
  try {
    const res = await fetch(`${scheme}://${ctx.target.registry}/v2/${ociRepository}/tags/list`);
    if (res.ok) for (const tag of ((await res.json()) as { tags?: string[] | null }).tags ?? []) collect(tag);
    else await res.body?.cancel();
  } catch {
    // A registry that cannot list tags: the catalog's versions still decide.
  }
  try {
    for (const v of (await ctx.client.call<{ versions: VersionView[] }>('system_list_module_versions', { module_name: moduleName, limit: 200 })).versions)
      collect(v.version_string);
  } catch (error) {
    if (!(error instanceof ToolCallError) || error.code !== 'not_found') throw error;
  }
  return `v${series}.${patches.length === 0 ? 0 : Math.max(...patches) + 1}`;
}

/** `powernode module validate <dir> --json`: the local dry-run of tutorial step 4. Throws when invalid. */
export async function validateModule(ctx: StepContext, dir: string, step = 'validate'): Promise<{ valid: boolean; errors: unknown[]; warnings: unknown[] }> {
  const argv = ['module', 'validate', dir, '--json'];
  const run = await runPowernode(argv, process.env);
  const result = parseJson(run.stdout) as { valid: boolean; errors: unknown[]; warnings: unknown[] } | null;
  ctx.narrator.record({ kind: 'command', step, argv: ['powernode', ...argv.map((a) => displayPath(a))], result: result ?? run.stderr.trim() });
  if (run.code !== 0 || result?.valid !== true) throw new Error(`module ${dir} is not valid: ${run.stdout}${run.stderr}`);
  return result;
}

/** What `powernode module publish --json` prints. */
export interface PublishResult {
  ref: string;
  digest: string;
  manifest_digest: string;
  composefs_digest: string;
  fsverity_root_hash: string;
  webhook: unknown;
}

/**
 * `powernode module publish <dir> --ref <registry>/<repo>:<tag> … --dev`: what the module's CI runs on a tag.
 * The CLI signs with the dev Sigstore in the platform's data dir and calls the webhook with the module's secret.
 */
export async function publishModule(
  ctx: StepContext,
  input: { dir: string; repo: string; tag: string; webhookSecret: string; registry?: string },
  step = 'publish',
): Promise<PublishResult> {
  const ref = `${input.registry ?? ctx.target.registry}/${ociRepositoryOf(input.repo)}:${input.tag}`;
  const webhookUrl = `${ctx.target.url}/api/v1/system/webhooks/gitea/module`;
  const argv = ['module', 'publish', input.dir, '--ref', ref, '--repo-full-name', input.repo, '--webhook-url', webhookUrl, '--dev', '--json', '--quiet'];
  const env = { ...process.env, POWERNODE_DATA_DIR: ctx.target.dataDir, POWERNODE_WEBHOOK_SECRET: input.webhookSecret };
  const run = await runPowernode(argv, env);
  const result = parseJson(run.stdout) as PublishResult | null;
  // The secret travels in the environment, so the printed command line holds none.
  ctx.narrator.record({
    kind: 'command',
    step,
    env: { POWERNODE_WEBHOOK_SECRET: '<webhook secret>' },
    argv: ['powernode', ...argv.map((a) => displayPath(a))],
    result: result ?? run.stderr.trim(),
  });
  if (run.code !== 0 || result === null)
    throw new Error(`publishing ${input.dir} as ${ref} failed (exit ${run.code}): ${run.stderr.trim() || run.stdout.trim()}`);
  return result;
}

/** Polls until `probe` answers something; fails naming `what` after `limitMs`. */
export async function waitUntil<T>(what: string, probe: () => Promise<T | null | undefined | false>, limitMs = 120_000, everyMs = 200): Promise<T> {
  const value = await pollUntil(probe, { timeoutMs: limitMs, intervalMs: everyMs });
  if (value === undefined) throw new Error(`timed out after ${Math.round(limitMs / 1000)} s waiting for ${what}`);
  return value;
}

/** Waits until ingest has recorded `version_string` of the module; throws with the reason when it was rejected or unverified. */
export async function waitForVersion(ctx: StepContext, moduleName: string, versionString: string, step = 'ingest'): Promise<VersionView> {
  const args = { module_name: moduleName };
  const found = await waitUntil(`ingest to record ${moduleName} ${versionString}`, async () => {
    const { versions } = await ctx.client.call<{ versions: VersionView[] }>('system_list_module_versions', args);
    return versions.find((v) => v.version_string === versionString) ?? null;
  });
  const { versions } = await narratedCall<{ versions: VersionView[] }>(ctx, step, 'system_list_module_versions', args);
  if (found.rejection_reason !== null || !found.cosign_verified)
    throw new Error(`${moduleName} ${versionString} was ingested but cannot be promoted: ${found.rejection_reason ?? 'signature not verified'}`);
  return versions.find((v) => v.id === found.id) ?? found;
}

/**
 * Promotes a version one state, approving with `approver` when the platform answers with a pending approval
 * (a live promotion under `require_approval`). Returns the version as promoted.
 */
export async function promoteVersion(
  ctx: StepContext,
  versionId: string,
  to: string,
  approver: { client: PlatformClient; label: string } | null,
  step = 'promote',
): Promise<VersionView> {
  const answer = await narratedCall<{ version?: VersionView; approval?: { id: string; status: string } }>(ctx, step, 'system_promote_module_version', {
    id: versionId,
    to,
  });
  if (answer.version !== undefined) return answer.version;
  if (answer.approval === undefined) throw new Error(`promoting ${versionId} to ${to} answered neither a version nor an approval: ${JSON.stringify(answer)}`);
  if (approver === null) throw new Error(`promoting ${versionId} to ${to} needs approval ${answer.approval.id}, and no approver token was given`);
  const approved = await narratedCall<{ version: VersionView }>(
    ctx,
    step,
    'system_approve_promotion',
    { approval_id: answer.approval.id },
    approver.client,
    approver.label,
  );
  return approved.version;
}

/** Publishes the next tag of a module under examples/ and waits until it is ingested: the version. */
export async function publishNextVersion(
  ctx: StepContext,
  module: ExampleModule,
  webhookSecret: string,
  dir: string = module.dir,
): Promise<{ tag: string; published: PublishResult; version: VersionView }> {
  const tag = await nextTag(ctx, module.name, ociRepositoryOf(module.repo), module.series);
  const published = await publishModule(ctx, { dir, repo: module.repo, tag, webhookSecret });
  const version = await waitForVersion(ctx, module.name, tag.slice(1));
  return { tag, published, version };
}

/** Waits until the instance satisfies `ready`, then records one `system_get_instance` with that state. */
export async function waitForInstance(
  ctx: StepContext,
  instanceId: string,
  what: string,
  ready: (instance: any) => boolean,
  step = 'provision',
  limitMs = 180_000,
): Promise<any> {
  await waitUntil(what, async () => ready((await ctx.client.call<{ instance: any }>('system_get_instance', { id: instanceId })).instance), limitMs);
  return (await narratedCall<{ instance: any }>(ctx, step, 'system_get_instance', { id: instanceId })).instance;
}
