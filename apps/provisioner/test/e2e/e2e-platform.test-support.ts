import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { canonicalJson } from '@powernode/contracts';
import { startPlatform, startRegistry, startRegistryGate, waitUntil, type RegistryGate, type TestPlatform, type TestRegistry } from '@powernode/testing';
/* eslint-disable @nx/enforce-module-boundaries -- the demo's own steps are what these tests drive and check */
import { DEV_IDENTITY_REGEXP, DEV_ISSUER_REGEXP } from '../../../../scripts/demo/example-modules.js';
import type { DemoRecord } from '../../../../scripts/demo/narration.js';
import { PlatformClient } from '../../../../scripts/demo/platform-client.js';
import { publishModule, waitForVersion, type PublishResult, type StepContext, type VersionView } from '../../../../scripts/demo/steps.js';
import { REPO_ROOT, type DemoTarget } from '../../../../scripts/demo/target.js';
/* eslint-enable @nx/enforce-module-boundaries */
import { LocalDriver } from '../../src/drivers/index.js';

/*
 * The whole platform as `npm start` runs it — catalog, ingest, provisioner and gateway as real processes on a
 * private nats-server, Debian's docker-registry, the real agent under the local driver — with a registry gate
 * (an HTTP proxy that can drop or stall requests) between everything and the registry. Modules are pushed
 * and pulled through the gate, so a test can take the registry away from agents or hold a pull half-way.
 */

/** A stored event as `GET /api/v1/system/events` returns it. */
export interface LoggedEvent {
  id: string;
  stream: string;
  version: number;
  position: number;
  type: string;
  actor?: string;
  data: any;
}

export interface E2ePlatform {
  platform: TestPlatform;
  registry: TestRegistry;
  gate: RegistryGate;
  /** Where the demo's steps point: gateway, admin token, the gate as registry, the data dir. */
  target: DemoTarget;
  client: PlatformClient;
  /** A step context whose transcript is kept in `transcript` (shown when a test fails). */
  ctx: StepContext;
  transcript: DemoRecord[];
  /** REST under /api/v1/system with the admin token. */
  rest(method: string, route: string, body?: unknown): Promise<{ status: number; body: any }>;
  instance(id: string): Promise<any>;
  drift(instanceId: string): Promise<any>;
  /** Every event of one stream, through the audit endpoint. */
  events(stream: string): Promise<LoggedEvent[]>;
  /** The pid the local driver recorded for an instance's agent, or null. */
  agentPid(instanceId: string): Promise<number | null>;
  stop(): Promise<void>;
}

/** The agent as the local driver starts it by default, with reconcile retries short enough for a test. */
function agentCommand(): string {
  const entry = path.join(REPO_ROOT, 'apps/agent/dist/main.js');
  return [
    '/usr/bin/env',
    'POWERNODE_AGENT_RETRY_INITIAL_MS=250',
    'POWERNODE_AGENT_RETRY_MAX_MS=1000',
    'POWERNODE_AGENT_OCI_RETRIES=1',
    'LOG_LEVEL=warn',
    `'${process.execPath}'`,
    `'${entry}'`,
  ].join(' ');
}

/** Starts registry, gate and platform; heartbeats every 300 ms. */
export async function startE2ePlatform(options: { hypervisor?: 'local' | 'nspawn' | 'qemu' } = {}): Promise<E2ePlatform> {
  const registry = await startRegistry();
  const gate = await startRegistryGate(registry.host);
  const dataDir = await mkdtemp(path.join(os.tmpdir(), 'pn-e2e-'));
  let platform: TestPlatform;
  try {
    platform = await startPlatform({
      services: ['catalog', 'ingest', 'provisioner', 'gateway'],
      dataDir,
      env: {
        OCI_REGISTRY: gate.host,
        POWERNODE_DEV_SIGNING: 'true',
        POWERNODE_HEARTBEAT_INTERVAL_MS: '300',
        POWERNODE_AGENT_COMMAND: agentCommand(),
        POWERNODE_HYPERVISOR: options.hypervisor ?? 'local',
      },
    });
  } catch (error) {
    await gate.stop();
    await registry.stop();
    await rm(dataDir, { recursive: true, force: true });
    throw error;
  }
  const target: DemoTarget = { url: platform.url, token: platform.adminToken, registry: gate.host, dataDir };
  const client = new PlatformClient(platform.url, platform.adminToken);
  const transcript: DemoRecord[] = [];
  const ctx: StepContext = { client, target, narrator: { heading: () => undefined, record: (r) => transcript.push(r) } };
  const rest: E2ePlatform['rest'] = async (method, route, body) => {
    const res = await fetch(`${platform.url}/api/v1/system${route}`, {
      method,
      headers: { authorization: `Bearer ${platform.adminToken}`, ...(body === undefined ? {} : { 'content-type': 'application/json' }) },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    const text = await res.text();
    return { status: res.status, body: text ? JSON.parse(text) : null };
  };
  return {
    platform,
    registry,
    gate,
    target,
    client,
    ctx,
    transcript,
    rest,
    instance: async (id) => (await client.call<{ instance: any }>('system_get_instance', { id })).instance,
    drift: (instanceId) => client.call('system_drift_report', { instance_id: instanceId }),
    async events(stream) {
      const all: LoggedEvent[] = [];
      let from: number | null = 0;
      while (from !== null) {
        const page = await rest('GET', `/events?stream=${encodeURIComponent(stream)}&from=${from}&limit=1000`);
        if (page.status !== 200) throw new Error(`events of ${stream}: ${page.status} ${JSON.stringify(page.body)}`);
        all.push(...(page.body.events as LoggedEvent[]));
        from = page.body.next_from as number | null;
      }
      return all;
    },
    async agentPid(instanceId) {
      try {
        return (JSON.parse(await readFile(path.join(dataDir, 'instances', instanceId, 'agent.pid'), 'utf8')) as { pid: number }).pid;
      } catch {
        return null;
      }
    },
    async stop() {
      gate.setMode({ kind: 'open' });
      // Terminate what still runs through the platform, then make sure no agent outlives the test.
      const listed = await rest('GET', '/instances?limit=200').catch(() => null);
      for (const i of (listed?.body?.instances ?? []) as { id: string }[]) await rest('POST', `/instances/${i.id}/terminate`).catch(() => undefined);
      await platform.stop();
      const sweeper = new LocalDriver({ dataDir, stopGraceMs: 2_000 });
      for (const id of await sweeper.list()) await sweeper.destroy(id);
      await sweeper.close();
      await gate.stop();
      await registry.stop();
      await rm(dataDir, { recursive: true, force: true });
    },
  };
}

/** Polls until `probe` answers something truthy; fails naming `what` (a wait, not a timing assertion). */
export function eventually<T>(
  what: string,
  probe: () => Promise<T | null | undefined | false> | T | null | undefined | false,
  limitMs = 60_000,
): Promise<Exclude<T, null | undefined | false>> {
  return waitUntil(what, probe, limitMs, 100);
}

/** A small module of our own: one release file naming its version, optionally a payload of random bytes. */
export interface ProbeModule {
  name: string;
  repo: string;
  webhookSecret: string;
  work: string;
}

/** Registers a probe module (auto-approved live promotions, dev-signer trust policy) with a unique name. */
export async function registerProbe(e: E2ePlatform, label: string): Promise<ProbeModule> {
  const name = `${label}-${randomBytes(3).toString('hex')}`;
  const repo = `e2e/${name}`;
  const created = await e.client.call<{ webhook_secret: string }>('system_create_module', {
    name,
    category: 'userland',
    variety: 'subscription',
    gitea_repo_full_name: repo,
    cosign_identity_regexp: DEV_IDENTITY_REGEXP,
    cosign_issuer_regexp: DEV_ISSUER_REGEXP,
    approval_policy: 'auto_approve',
  });
  return { name, repo, webhookSecret: created.webhook_secret, work: await mkdtemp(path.join(os.tmpdir(), `pn-e2e-${name}-`)) };
}

/** Writes, publishes (real CLI, dev signing, real webhook) and waits for the ingested version `version` of a probe. */
export async function publishProbe(
  e: E2ePlatform,
  probe: ProbeModule,
  version: string,
  payloadBytes = 0,
): Promise<{ version: VersionView; published: PublishResult; treeLayer: string; descriptionLayer: string }> {
  const dir = path.join(probe.work, version);
  await mkdir(path.join(dir, 'rootfs/etc', probe.name), { recursive: true });
  await writeFile(
    path.join(dir, 'manifest.yaml'),
    `schema_version: 1\nname: ${probe.name}\ndisplay_name: "Rollout probe"\ndescription: "Carries its version in /etc/${probe.name}/release"\nlicense: "MIT"\nfile_spec:\n  - "/etc/${probe.name}/**"\n`,
  );
  await writeFile(path.join(dir, 'rootfs/etc', probe.name, 'release'), `${probe.name} ${version}\n`);
  if (payloadBytes > 0) await writeFile(path.join(dir, 'rootfs/etc', probe.name, 'payload.bin'), randomBytes(payloadBytes));
  const published = await publishModule(e.ctx, { dir, repo: probe.repo, tag: `v${version}`, webhookSecret: probe.webhookSecret });
  const built = await waitForVersion(e.ctx, probe.name, version);
  const layers = (published as PublishResult & { layers: { media_type: string; digest: string }[] }).layers;
  const treeLayer = layers.find((l) => l.media_type === 'application/vnd.powernode.module.layer.v1.tar')!.digest;
  const descriptionLayer = layers.find((l) => l.media_type === 'application/vnd.powernode.composefs.dump.v1')!.digest;
  return { version: built, published, treeLayer, descriptionLayer };
}

/** Promotes through each state in turn (auto-approved modules: no approval step). */
export async function promoteThrough(e: E2ePlatform, versionId: string, ...states: string[]): Promise<void> {
  for (const to of states) {
    const answer = await e.client.call<{ version?: VersionView }>('system_promote_module_version', { id: versionId, to });
    if (answer.version?.promotion_state !== to) throw new Error(`promoting ${versionId} to ${to} answered ${JSON.stringify(answer)}`);
  }
}

/** Creates a template holding `modules` and a node of it on `channel`; returns both ids. */
export async function templateAndNode(
  e: E2ePlatform,
  label: string,
  modules: string[],
  channel: 'live' | 'blessed' | 'staging' = 'live',
): Promise<{ templateId: string; nodeId: string }> {
  const { template } = await e.client.call<{ template: { id: string } }>('system_create_template', { name: `${label}-${randomBytes(3).toString('hex')}` });
  for (const module_name of modules) await e.client.call('system_assign_module_to_template', { template_id: template.id, module_name });
  return { templateId: template.id, nodeId: await nodeOf(e, template.id, label, channel) };
}

/** A node of the template on `channel`. */
export async function nodeOf(e: E2ePlatform, templateId: string, label: string, channel: 'live' | 'blessed' | 'staging' = 'live'): Promise<string> {
  const { node } = await e.client.call<{ node: { id: string } }>('system_create_node', {
    hostname: `${label}-${randomBytes(3).toString('hex')}`,
    node_template_id: templateId,
    channel,
  });
  return node.id;
}

/** Provisions an instance of the node and waits until it runs `module` at `digest`. */
export async function runningInstance(e: E2ePlatform, nodeId: string, module: string, digest: string): Promise<string> {
  const { instance } = await e.client.call<{ instance: { id: string } }>('system_provision_instance', { node_id: nodeId });
  await convergedOn(e, instance.id, module, digest);
  return instance.id;
}

/** Waits until the instance runs `module` at `digest` and its drift report shows no drift; returns the instance. */
export async function convergedOn(e: E2ePlatform, instanceId: string, module: string, digest: string, limitMs = 60_000): Promise<any> {
  const instance = await eventually(
    `instance ${instanceId} to run ${module} at ${digest}`,
    async () => {
      const i = await e.instance(instanceId);
      return i.status === 'running' && i.running_module_digests[module] === digest ? i : null;
    },
    limitMs,
  );
  await eventually(`no drift on ${instanceId}`, async () => (await e.drift(instanceId)).drift === false, limitMs);
  return instance;
}

/** Waits for a heartbeat of the instance recorded after `since` (ISO time). */
export async function heartbeatAfter(e: E2ePlatform, instanceId: string, since: string): Promise<any> {
  return eventually(`a heartbeat from ${instanceId} after ${since}`, async () => {
    const i = await e.instance(instanceId);
    return i.last_heartbeat_at !== null && i.last_heartbeat_at > since ? i : null;
  });
}

/**
 * Checks an instance's event stream for anything recorded twice: event ids are unique, the instance was
 * requested, enrolled and terminated at most once, every status change starts where the previous one ended,
 * and no heartbeat record repeats the previous one without something (a stale mark, a status change) between.
 */
export function expectNoDuplicateEvents(events: LoggedEvent[]): void {
  expect(new Set(events.map((e) => e.id)).size).toBe(events.length);
  expect(events.filter((e) => e.type === 'InstanceProvisionRequested')).toHaveLength(1);
  expect(events.filter((e) => e.type === 'InstanceEnrolled').length).toBeLessThanOrEqual(1);
  expect(events.filter((e) => e.type === 'InstanceTerminated').length).toBeLessThanOrEqual(1);
  let status = 'pending';
  let lastReport: string | null = null;
  for (const e of events) {
    if (e.type === 'InstanceStatusChanged') {
      expect({ event: e.id, from: e.data.from }).toEqual({ event: e.id, from: status });
      expect(e.data.to).not.toBe(status);
      status = e.data.to;
      lastReport = null;
    } else if (e.type === 'InstanceHeartbeatStale') {
      lastReport = null;
    } else if (e.type === 'InstanceHeartbeatReceived') {
      const { at: _at, ...report } = e.data as Record<string, unknown>;
      const key = canonicalJson(report);
      expect({ event: e.id, repeats_previous_report: key === lastReport }).toEqual({ event: e.id, repeats_previous_report: false });
      lastReport = key;
    }
  }
}

/** One line of `npm run demo --json`. */
export interface DemoStep {
  step: string;
  tool?: string;
  command?: string[];
  note?: string;
  args?: any;
  env?: Record<string, string>;
  result?: any;
  /** Which token made the call, when not the admin's. */
  as?: string;
}

/** Runs `scripts/demo.ts --json` as a child process against the platform, as a user would; its steps parsed. */
export async function runDemoScript(e: E2ePlatform): Promise<{ code: number | null; steps: DemoStep[]; stderr: string }> {
  const env: NodeJS.ProcessEnv = {};
  for (const [k, v] of Object.entries(process.env)) if (!/^(POWERNODE_|OCI_|NODE_OPTIONS$)/.test(k)) env[k] = v;
  Object.assign(env, { POWERNODE_URL: e.target.url, POWERNODE_TOKEN: e.target.token, POWERNODE_DATA_DIR: e.target.dataDir, OCI_REGISTRY: e.target.registry });
  const child = spawn(process.execPath, ['--import', 'tsx', path.join(REPO_ROOT, 'scripts/demo.ts'), '--json'], {
    cwd: REPO_ROOT,
    env,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stdout = '';
  let stderr = '';
  child.stdout.setEncoding('utf8').on('data', (c: string) => (stdout += c));
  child.stderr.setEncoding('utf8').on('data', (c: string) => (stderr += c));
  const code = await new Promise<number | null>((resolve) => child.once('close', resolve));
  const steps = stdout
    .split('\n')
    .filter((l) => l.trim() !== '')
    .map((l) => JSON.parse(l) as DemoStep);
  return { code, steps, stderr };
}
