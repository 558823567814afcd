/**
 * `npm run demo`: Tutorial 02 ("Your first custom module") scripted against a running platform (`npm start`).
 *
 * The example module examples/my-redis is validated, registered, published with dev signing through the real
 * webhook, ingested, promoted staging → blessed → live (the live promotion approved by a second token),
 * assigned to template `base`; a node is created and an instance provisioned, the demo waits until its
 * `running_module_digests` shows my-redis, prints the drift report, then terminates the instance, unassigns
 * the module and deletes it. Its dependencies (powernode-base-ruby, security-hardening and, through
 * security-hardening, system-base) are published and promoted to live first when no live 1.x version of them
 * exists yet, as the seeded catalog of the tutorial's prerequisites would hold them; they stay in the catalog.
 *
 * Every call is printed as the tutorial writes it (`platform.system_…({…})`) followed by its result. With
 * `--json`, each step is one JSON line instead: `{step, tool, args, result}` or `{step, command, result}`.
 *
 * Environment: POWERNODE_URL (default http://127.0.0.1:8080), POWERNODE_TOKEN (default: the contents of
 * `<POWERNODE_DATA_DIR>/admin-token`), POWERNODE_DATA_DIR (default ./.data; the CLI signs with the dev
 * Sigstore there, which the platform's ingest trusts), OCI_REGISTRY (default 127.0.0.1:5000).
 * Runs again without cleanup in between: every run publishes a new tag.
 */
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { MACHINE_DRIVER_KINDS } from '@powernode/contracts';
import { pollUntil } from '@powernode/runtime';

export const REPO_ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const CLI = path.join(REPO_ROOT, 'bin/powernode.mjs');

/** The dev Sigstore's signer identity and issuer (`powernode module sign --dev`), anchored as policy patterns. */
export const DEV_IDENTITY_REGEXP = 'https://powernode\\.dev/dev-signer';
export const DEV_ISSUER_REGEXP = 'https://powernode\\.dev/dev-issuer';

// ---- where the platform is ---------------------------------------------------------------------------------

/** The running platform the demo talks to. */
export interface DemoTarget {
  /** Gateway base URL. */
  url: string;
  /** Admin bearer token. */
  token: string;
  /** `host[:port]` of the OCI registry modules are pushed to. */
  registry: string;
  /** The platform's data dir (holds the dev Sigstore the CLI signs with). */
  dataDir: string;
}

/** Reads the target from the environment, the token from POWERNODE_TOKEN or the dev stack's admin-token file. */
export function demoTarget(env: NodeJS.ProcessEnv = process.env): DemoTarget {
  const dataDir = path.resolve(env['POWERNODE_DATA_DIR'] ?? './.data');
  const url = (env['POWERNODE_URL'] ?? 'http://127.0.0.1:8080').replace(/\/+$/, '');
  let token = env['POWERNODE_TOKEN'];
  const tokenFile = path.join(dataDir, 'admin-token');
  if (!token && existsSync(tokenFile)) token = readFileSync(tokenFile, 'utf8').trim();
  if (!token) throw new Error(`no admin token: set POWERNODE_TOKEN, or start the platform with npm start (it writes ${tokenFile})`);
  return { url, token, registry: env['OCI_REGISTRY'] ?? '127.0.0.1:5000', dataDir };
}

// ---- the MCP client ----------------------------------------------------------------------------------------

/** A tool call the platform refused: its error code (`invalid_transition`, `not_found`, …) and message. */
export class ToolCallError extends Error {
  constructor(
    readonly tool: string,
    readonly code: string,
    message: string,
    readonly details: Record<string, unknown> | undefined,
  ) {
    super(`${tool}: ${code}: ${message}`);
    this.name = 'ToolCallError';
  }
}

let rpcId = 0;

/** Calls MCP tools on the gateway (`POST /mcp`, JSON-RPC `tools/call`) with one bearer token. */
export class PlatformClient {
  constructor(
    readonly url: string,
    private readonly token: string,
  ) {}

  /** The same platform with another bearer token (e.g. the approver's). */
  as(token: string): PlatformClient {
    return new PlatformClient(this.url, token);
  }

  /** The tool's structured result; a refusal throws ToolCallError with the platform's code. */
  async call<T = any>(tool: string, args: Record<string, unknown>): Promise<T> {
    const res = await fetch(`${this.url}/mcp`, {
      method: 'POST',
      headers: { authorization: `Bearer ${this.token}`, 'content-type': 'application/json', accept: 'application/json, text/event-stream' },
      body: JSON.stringify({ jsonrpc: '2.0', id: ++rpcId, method: 'tools/call', params: { name: tool, arguments: args } }),
    });
    const text = await res.text();
    if (!res.ok) {
      const problem = parseJson(text) as { code?: string; detail?: string } | null;
      throw new ToolCallError(tool, problem?.code ?? `http_${res.status}`, problem?.detail ?? text, undefined);
    }
    const reply = JSON.parse(text) as { result?: { isError?: boolean; structuredContent?: any; content?: { text: string }[] }; error?: { message: string } };
    if (reply.error) throw new ToolCallError(tool, 'mcp_error', reply.error.message, undefined);
    const result = reply.result!;
    if (result.isError) {
      const error = result.structuredContent?.error as { code: string; message: string; details?: Record<string, unknown> } | undefined;
      throw new ToolCallError(tool, error?.code ?? 'internal', error?.message ?? result.content?.[0]?.text ?? 'tool failed', error?.details);
    }
    return (result.structuredContent ?? JSON.parse(result.content?.[0]?.text ?? '{}')) as T;
  }
}

function parseJson(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return null;
  }
}

// ---- narration ---------------------------------------------------------------------------------------------

/** One printed step: a tool call, a CLI command, or a remark. */
export type DemoRecord =
  | { kind: 'call'; step: string; tool: string; args: Record<string, unknown>; result: unknown; token?: string }
  | { kind: 'command'; step: string; argv: string[]; env?: Record<string, string>; result: unknown }
  | { kind: 'note'; step: string; text: string };

/** Where the demo's transcript goes. */
export interface Narrator {
  heading(title: string): void;
  record(record: DemoRecord): void;
}

/** Prints the transcript the way the tutorial writes it, results compacted to one line. */
export function textNarrator(write: (line: string) => void = (l) => process.stdout.write(`${l}\n`)): Narrator {
  return {
    heading: (title) => write(`\n── ${title}`),
    record(r) {
      switch (r.kind) {
        case 'call':
          write(`platform${r.token ? `[${r.token}]` : ''}.${r.tool}(${objectLiteral(r.args)})`);
          write(`// → ${compactJson(r.result)}`);
          return;
        case 'command':
          write(`$ ${[...Object.entries(r.env ?? {}).map(([k, v]) => `${k}=${v}`), ...r.argv.map(shellWord)].join(' ')}`);
          write(`// → ${compactJson(r.result)}`);
          return;
        case 'note':
          write(`// ${r.text}`);
          return;
        default:
          return assertNever(r);
      }
    },
  };
}

/** One JSON line per record (`{step, tool, args, result, as?}`, `{step, command, env?, result}`, `{step, note}`), secrets redacted, for machines. */
export function jsonNarrator(write: (line: string) => void = (l) => process.stdout.write(`${l}\n`)): Narrator {
  return {
    heading: () => undefined,
    record(r) {
      switch (r.kind) {
        case 'call':
          write(JSON.stringify({ step: r.step, tool: r.tool, args: r.args, result: r.result, ...(r.token ? { as: r.token } : {}) }, redactSecrets));
          return;
        case 'command':
          write(JSON.stringify({ step: r.step, command: r.argv, ...(r.env ? { env: r.env } : {}), result: r.result }, redactSecrets));
          return;
        case 'note':
          write(JSON.stringify({ step: r.step, note: r.text }));
          return;
        default:
          return assertNever(r);
      }
    },
  };
}

/** `{ module_name: "my-redis", to: "live" }`: arguments as the tutorial writes them. */
function objectLiteral(args: Record<string, unknown>): string {
  const entries = Object.entries(args).map(([k, v]) => `${/^[A-Za-z_$][\w$]*$/.test(k) ? k : JSON.stringify(k)}: ${typeof v === 'string' && v.length > 120 ? JSON.stringify(`${v.slice(0, 40)}…`) : JSON.stringify(v)}`);
  return entries.length === 0 ? '' : `{ ${entries.join(', ')} }`;
}

/** Secrets shown once by the platform stay out of transcripts. */
function redactSecrets(key: string, value: unknown): unknown {
  return (key === 'webhook_secret' || key === 'token') && typeof value === 'string' ? '(secret, shown once: redacted)' : value;
}

/**
 * One line of JSON as the tutorial shows results: the fields a reader follows (ids, states, digests), digests
 * shortened to 12 hex digits, secrets redacted, long strings cut.
 */
function compactJson(value: unknown): string {
  return JSON.stringify(value, (key, v: unknown) => {
    const redacted = redactSecrets(key, v);
    if (redacted !== v) return redacted;
    if (typeof v === 'string') {
      if (/^sha256:[0-9a-f]{64}$/.test(v)) return `${v.slice(0, 19)}…`;
      return v.length > 100 ? `${v.slice(0, 97)}…` : v;
    }
    if (v === null || typeof v !== 'object' || Array.isArray(v)) return v;
    return summaryOf(v as Record<string, unknown>);
  });
}

/** The fields of a platform object the tutorial's results show; other objects pass unchanged. */
function summaryOf(o: Record<string, unknown>): Record<string, unknown> {
  const pick = (...keys: string[]) => Object.fromEntries(keys.filter((k) => o[k] !== undefined && !(Array.isArray(o[k]) && (o[k] as unknown[]).length === 0)).map((k) => [k, o[k]]));
  if ('promotion_state' in o) return pick('id', 'version_string', 'promotion_state', 'composefs_digest', 'fsverity_root_hash', 'cosign_verified', 'rejection_reason');
  if ('running_module_digests' in o && 'status' in o) return pick('id', 'status', 'running_module_digests', 'errors', 'last_heartbeat_at');
  if ('gitea_repo_full_name' in o) return pick('id', 'name', 'category', 'gitea_repo_full_name', 'approval_policy', 'requires');
  if ('instance_ids' in o && 'hostname' in o) return pick('id', 'hostname', 'node_template_id', 'channel');
  if ('modules' in o && 'name' in o && Array.isArray(o['modules'])) return { id: o['id'], name: o['name'], modules: (o['modules'] as { name: string }[]).map((m) => m.name) };
  if ('requested_by' in o && 'status' in o) return pick('id', 'to', 'status', 'requested_by', 'decided_by');
  if ('manifest_digest' in o && 'ref' in o) return { ref: o['ref'], manifest_digest: o['manifest_digest'], composefs_digest: o['composefs_digest'], fsverity_root_hash: o['fsverity_root_hash'], signer: (o['signature'] as { signer?: unknown } | undefined)?.signer, webhook: { status: (o['webhook'] as { status?: unknown } | undefined)?.status } };
  if ('drift' in o && 'mismatched' in o) return pick('drift', 'missing', 'extra', 'mismatched', 'unresolved');
  return o;
}

function shellWord(word: string): string {
  return /^[\w@%+=:,./-]+$/.test(word) ? word : `'${word.replace(/'/g, `'\\''`)}'`;
}

function assertNever(value: never): never {
  throw new Error(`unexpected ${JSON.stringify(value)}`);
}

// ---- the example modules ----------------------------------------------------------------------------------

/** A module under examples/ with how the demo registers and tags it. */
export interface ExampleModule {
  name: string;
  /** The module repository (manifest.yaml, rootfs/). */
  dir: string;
  category: 'system-base' | 'network-overlay' | 'container-runtimes' | 'security-hardening' | 'userland';
  /** The git repository it is registered with; its lowercase form is the OCI repository. */
  repo: string;
  /** Tags are `v<series>.<n>`: `1.0` for the dependencies (my-redis requires ^1.0), `0.1` for my-redis. */
  series: string;
  approval_policy: 'require_approval' | 'auto_approve';
}

const example = (name: string, category: ExampleModule['category'], repo: string, series: string, approval_policy: ExampleModule['approval_policy']): ExampleModule => ({
  name,
  dir: path.join(REPO_ROOT, 'examples', name),
  category,
  repo,
  series,
  approval_policy,
});

/** The tutorial's prerequisites in dependency order: what Tutorial 01's seeded catalog would hold, live. */
export const PREREQUISITE_MODULES: readonly ExampleModule[] = [
  example('system-base', 'system-base', 'powernode/modules/system-base', '1.0', 'auto_approve'),
  example('security-hardening', 'security-hardening', 'powernode/modules/security-hardening', '1.0', 'auto_approve'),
  example('powernode-base-ruby', 'userland', 'powernode/modules/powernode-base-ruby', '1.0', 'auto_approve'),
];

/** The tutorial's module: a live promotion needs a second person's approval. */
export const MY_REDIS: ExampleModule = example('my-redis', 'userland', 'demo/modules/my-redis-module', '0.1', 'require_approval');

// ---- steps (shared with the end-to-end tests) --------------------------------------------------------------

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
export async function narratedCall<T = any>(ctx: StepContext, step: string, tool: string, args: Record<string, unknown>, client: PlatformClient = ctx.client, token?: string): Promise<T> {
  const result = await client.call<T>(tool, args);
  ctx.narrator.record({ kind: 'call', step, tool, args, result, ...(token ? { token } : {}) });
  return result;
}

/**
 * Registers the module, or reuses the one registered under its name (a run that stopped half-way, or a
 * prerequisite already in the catalog) with a freshly rotated webhook secret. Returns the secret.
 */
export async function ensureModule(ctx: StepContext, module: ExampleModule, step = 'register'): Promise<{ module: any; webhook_secret: string; created: boolean }> {
  try {
    const existing = await ctx.client.call<{ module: any }>('system_get_module', { module_name: module.name });
    ctx.narrator.record({ kind: 'note', step, text: `${module.name} is already registered (repository ${existing.module.gitea_repo_full_name}): reusing it with a new webhook secret` });
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
    for (const v of (await ctx.client.call<{ versions: VersionView[] }>('system_list_module_versions', { module_name: moduleName, limit: 200 })).versions) collect(v.version_string);
  } catch (error) {
    if (!(error instanceof ToolCallError) || error.code !== 'not_found') throw error;
  }
  return `v${series}.${patches.length === 0 ? 0 : Math.max(...patches) + 1}`;
}

/** The OCI repository a module's git repository is pushed to (lowercase, as the CI workflow does). */
export function ociRepositoryOf(repo: string): string {
  return repo.toLowerCase();
}

/** Runs the CLI (no shell) and resolves with its exit code and output. */
export function runPowernode(args: readonly string[], env: NodeJS.ProcessEnv): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [CLI, ...args], { cwd: REPO_ROOT, env, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (c: string) => (stdout += c));
    child.stderr.setEncoding('utf8').on('data', (c: string) => (stderr += c));
    child.once('error', reject);
    child.once('close', (code) => resolve({ code, stdout, stderr }));
  });
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
export async function publishModule(ctx: StepContext, input: { dir: string; repo: string; tag: string; webhookSecret: string; registry?: string }, step = 'publish'): Promise<PublishResult> {
  const ref = `${input.registry ?? ctx.target.registry}/${ociRepositoryOf(input.repo)}:${input.tag}`;
  const webhookUrl = `${ctx.target.url}/api/v1/system/webhooks/gitea/module`;
  const argv = ['module', 'publish', input.dir, '--ref', ref, '--repo-full-name', input.repo, '--webhook-url', webhookUrl, '--dev', '--json', '--quiet'];
  const env = { ...process.env, POWERNODE_DATA_DIR: ctx.target.dataDir, POWERNODE_WEBHOOK_SECRET: input.webhookSecret };
  const run = await runPowernode(argv, env);
  const result = parseJson(run.stdout) as PublishResult | null;
  // The secret travels in the environment, so the printed command line holds none.
  ctx.narrator.record({ kind: 'command', step, env: { POWERNODE_WEBHOOK_SECRET: '<webhook secret>' }, argv: ['powernode', ...argv.map((a) => displayPath(a))], result: result ?? run.stderr.trim() });
  if (run.code !== 0 || result === null) throw new Error(`publishing ${input.dir} as ${ref} failed (exit ${run.code}): ${run.stderr.trim() || run.stdout.trim()}`);
  return result;
}

function displayPath(arg: string): string {
  return arg.startsWith(`${REPO_ROOT}/`) ? path.relative(REPO_ROOT, arg) : arg;
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
  if (found.rejection_reason !== null || !found.cosign_verified) throw new Error(`${moduleName} ${versionString} was ingested but cannot be promoted: ${found.rejection_reason ?? 'signature not verified'}`);
  return versions.find((v) => v.id === found.id) ?? found;
}

/**
 * Promotes a version one state, approving with `approver` when the platform answers with a pending approval
 * (a live promotion under `require_approval`). Returns the version as promoted.
 */
export async function promoteVersion(ctx: StepContext, versionId: string, to: string, approver: { client: PlatformClient; label: string } | null, step = 'promote'): Promise<VersionView> {
  const answer = await narratedCall<{ version?: VersionView; approval?: { id: string; status: string } }>(ctx, step, 'system_promote_module_version', { id: versionId, to });
  if (answer.version !== undefined) return answer.version;
  if (answer.approval === undefined) throw new Error(`promoting ${versionId} to ${to} answered neither a version nor an approval: ${JSON.stringify(answer)}`);
  if (approver === null) throw new Error(`promoting ${versionId} to ${to} needs approval ${answer.approval.id}, and no approver token was given`);
  const approved = await narratedCall<{ version: VersionView }>(ctx, step, 'system_approve_promotion', { approval_id: answer.approval.id }, approver.client, approver.label);
  return approved.version;
}

/** Publishes the next tag of a module under examples/ and waits until it is ingested: the version. */
export async function publishNextVersion(ctx: StepContext, module: ExampleModule, webhookSecret: string, dir: string = module.dir): Promise<{ tag: string; published: PublishResult; version: VersionView }> {
  const tag = await nextTag(ctx, module.name, ociRepositoryOf(module.repo), module.series);
  const published = await publishModule(ctx, { dir, repo: module.repo, tag, webhookSecret });
  const version = await waitForVersion(ctx, module.name, tag.slice(1));
  return { tag, published, version };
}

/** Waits until the instance satisfies `ready`, then records one `system_get_instance` with that state. */
export async function waitForInstance(ctx: StepContext, instanceId: string, what: string, ready: (instance: any) => boolean, step = 'provision', limitMs = 180_000): Promise<any> {
  await waitUntil(what, async () => ready((await ctx.client.call<{ instance: any }>('system_get_instance', { id: instanceId })).instance), limitMs);
  return (await narratedCall<{ instance: any }>(ctx, step, 'system_get_instance', { id: instanceId })).instance;
}

// ---- the tutorial ------------------------------------------------------------------------------------------

/** What a demo run created and saw, for callers that check it. */
export interface DemoOutcome {
  version: VersionView;
  template_id: string;
  node_id: string;
  instance_id: string;
  running_module_digests: Record<string, string>;
  drift: boolean;
  /** What `powernode instances exec` printed on the instance, per command (machine instances only). */
  on_instance: Record<string, { exit_code: number | null; stdout: string }>;
}


/**
 * The tutorial's last step, on the instance itself: `powernode instances exec <id> -- <argv…>` runs each
 * command inside the instance and prints what it printed. Throws when a command fails.
 */
export async function checkOnInstance(ctx: StepContext, instanceId: string, commands: readonly (readonly string[])[]): Promise<Record<string, { exit_code: number | null; stdout: string }>> {
  const env = { ...process.env, POWERNODE_URL: ctx.target.url, POWERNODE_TOKEN: ctx.target.token };
  const seen: Record<string, { exit_code: number | null; stdout: string }> = {};
  for (const command of commands) {
    const argv = ['instances', 'exec', instanceId, '--', ...command];
    const run = await runPowernode(argv, env);
    ctx.narrator.record({ kind: 'command', step: 'on the instance', argv: ['powernode', ...argv], result: { exit_code: run.code, stdout: run.stdout.trim(), stderr: run.stderr.trim() } });
    seen[command.join(' ')] = { exit_code: run.code, stdout: run.stdout.trim() };
    if (run.code !== 0) throw new Error(`${command.join(' ')} on instance ${instanceId} exited ${run.code}: ${run.stderr.trim() || run.stdout.trim()}`);
  }
  return seen;
}

/** Ensures a live 1.x version of each prerequisite: reuses one that is live already, else publishes and promotes. */
export async function ensurePrerequisites(ctx: StepContext, approver: { client: PlatformClient; label: string }): Promise<void> {
  for (const module of PREREQUISITE_MODULES) {
    ctx.narrator.heading(`Prerequisite ${module.name}`);
    let live: VersionView | undefined;
    try {
      const { versions } = await ctx.client.call<{ versions: VersionView[] }>('system_list_module_versions', { module_name: module.name, limit: 200 });
      live = versions.find((v) => v.promotion_state === 'live' && v.cosign_verified && v.version_string.startsWith('1.'));
    } catch (error) {
      if (!(error instanceof ToolCallError) || error.code !== 'not_found') throw error;
    }
    if (live !== undefined) {
      ctx.narrator.record({ kind: 'note', step: 'prerequisite', text: `${module.name} ${live.version_string} is live already` });
      continue;
    }
    await validateModule(ctx, module.dir, 'prerequisite');
    const { webhook_secret } = await ensureModule(ctx, module, 'prerequisite');
    const { version } = await publishNextVersion(ctx, module, webhook_secret);
    for (const to of ['staging', 'blessed', 'live']) await promoteVersion(ctx, version.id, to, approver, 'prerequisite');
  }
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
    throw error;
  }
  const failures = await cleanUp(ctx, cleanup);
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
  const issued = await narratedCall<{ token: string; id: string }>(ctx, 'approver', 'system_create_token', { role: 'approver', name: `demo-approver-${suffix}` });
  cleanup.unshift({ what: 'revoke the approver token', run: () => narratedCall(ctx, 'cleanup', 'system_revoke_token', { id: issued.id }) });
  const approver = { client: ctx.client.as(issued.token), label: 'approver' };

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
  cleanup.unshift({ what: 'unassign my-redis from base', run: () => narratedCall(ctx, 'cleanup', 'system_unassign_module_from_template', { template_id: base.id, module_name: MY_REDIS.name }) });
  const { node } = await narratedCall<{ node: { id: string } }>(ctx, 'provision', 'system_create_node', { hostname: `redis-test-${suffix}`, node_template_id: base.id });
  const { instance } = await narratedCall<{ instance: { id: string } }>(ctx, 'provision', 'system_provision_instance', { node_id: node.id });
  cleanup.unshift({ what: 'terminate the instance', run: () => narratedCall(ctx, 'cleanup', 'system_terminate_instance', { id: instance.id }) });

  narrator.heading('Verification');
  const running = await waitForInstance(ctx, instance.id, 'the instance to run my-redis', (i) => i.status === 'running' && i.running_module_digests?.[MY_REDIS.name] === version.composefs_digest, 'verify');
  // Every module of the closure arrives in one generation, so this is normally false at once.
  let last: unknown;
  await waitUntil('the drift report to show no drift', async () => {
    last = await ctx.client.call<{ drift: boolean }>('system_drift_report', { instance_id: instance.id });
    return !(last as { drift: boolean }).drift;
  }, 30_000).catch((error: Error) => {
    throw new Error(`${error.message}; last report: ${JSON.stringify(last)}`);
  });
  const drift = await narratedCall<{ drift: boolean }>(ctx, 'verify', 'system_drift_report', { instance_id: instance.id });

  narrator.heading('Verification — on the instance itself');
  let onInstance: DemoOutcome['on_instance'] = {};
  if (MACHINE_DRIVER_KINDS.has(String(running.driver))) {
    await waitUntil('redis-server to be active on the instance', async () => {
      const { instance: now } = await ctx.client.call<{ instance: { services?: Array<{ name: string; state: string }> } }>('system_get_instance', { id: instance.id });
      return now.services?.some((s) => s.name === 'redis-server.service' && s.state === 'active') === true;
    }, 60_000);
    onInstance = await checkOnInstance(ctx, instance.id, [
      ['systemctl', 'is-active', 'redis-server'],
      ['redis-cli', 'ping'],
    ]);
  } else {
    narrator.record({ kind: 'note', step: 'on the instance', text: `instance ${instance.id} runs on the ${String(running.driver)} driver, which boots no machine: nothing runs redis there (POWERNODE_HYPERVISOR=nspawn, or auto as root with systemd-container, boots one)` });
  }
  return { version, template_id: base.id, node_id: node.id, instance_id: instance.id, running_module_digests: running.running_module_digests, drift: drift.drift, on_instance: onInstance };
}

async function main(): Promise<void> {
  const json = process.argv.includes('--json');
  const narrator = json ? jsonNarrator() : textNarrator();
  try {
    const outcome = await runDemo(demoTarget(), narrator);
    const ping = outcome.on_instance['redis-cli ping']?.stdout;
    const checked = ping === undefined ? '' : ` (redis-cli ping on the instance answered ${ping})`;
    if (!json) process.stdout.write(`\nDone: my-redis ${outcome.version.version_string} ran on instance ${outcome.instance_id} without drift${checked}, and was cleaned up.\n`);
  } catch (error) {
    process.stderr.write(`demo failed: ${error instanceof Error ? error.message : String(error)}\n`);
    process.exitCode = 1;
  }
}

if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(path.resolve(process.argv[1])).href) await main();
