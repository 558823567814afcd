import { createHash, randomBytes } from 'node:crypto';
import { readdirSync, readFileSync } from 'node:fs';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import { catalogStreams, moduleVersionIdFor, provisionerStreams } from '@powernode/contracts';
import { openEventStore, powernodeEventCatalogue, type EventEnvelope, type EventStore } from '@powernode/events';
import { startPlatform, type ServiceProcess, type TestPlatform, waitUntil } from '@powernode/testing';
import { LocalDriver } from '../src/drivers/index.js';

/** The stand-in agent that speaks the HTTP agent protocol. */
export const PROTOCOL_AGENT = fileURLToPath(new URL('./fixtures/protocol-agent.mjs', import.meta.url));

// Until instance-exec-api.spec.ts imports waitUntil from @powernode/testing itself.
export { waitUntil as waitFor } from '@powernode/testing';

/** `sha256:<hex>` of a label, for fake but well-formed digests. */
export function digestOf(label: string): string {
  return `sha256:${createHash('sha256').update(label).digest('hex')}`;
}

export function uniqueName(prefix: string): string {
  return `${prefix}-${randomBytes(4).toString('hex')}`;
}

export type Rest = (method: string, route: string, body?: unknown, token?: string) => Promise<{ status: number; body: any; headers: Headers }>;

export interface ProvisionerPlatform {
  platform: TestPlatform;
  dataDir: string;
  store: EventStore;
  /** REST under /api/v1/system with the admin token (or `token`). */
  rest: Rest;
  /** POST/GET under /api/v1/agent with an optional bearer credential. */
  agentApi(method: string, route: string, options?: { credential?: string; body?: unknown }): Promise<{ status: number; body: any; headers: Headers }>;
  mcp(): Promise<{ call: (name: string, args: Record<string, unknown>) => Promise<{ isError: boolean; data: any; text: string }>; close: () => Promise<void> }>;
  sandboxOf(instanceId: string): string;
  instanceDir(instanceId: string): string;
  /** The pid in the driver's pid file of an instance's agent, or null. */
  agentPid(instanceId: string): Promise<number | null>;
  instanceEvents(instanceId: string): Promise<EventEnvelope[]>;
  stop(): Promise<void>;
}

/** catalog + provisioner + gateway as real processes, the provisioner running the stand-in agent through the local driver. */
export async function startProvisionerPlatform(env: NodeJS.ProcessEnv = {}, options: { natsCluster?: boolean } = {}): Promise<ProvisionerPlatform> {
  const dataDir = await mkdtemp(path.join(os.tmpdir(), 'pn-provisioner-'));
  const platform = await startPlatform({
    services: ['catalog', 'provisioner', 'gateway'],
    dataDir,
    ...(options.natsCluster === undefined ? {} : { natsCluster: options.natsCluster }),
    env: {
      POWERNODE_AGENT_COMMAND: `'${process.execPath}' '${PROTOCOL_AGENT}'`,
      POWERNODE_HEARTBEAT_INTERVAL_MS: '300',
      ...env,
    },
  });
  const store = await openEventStore(platform.env['EVENT_STORE_URL']!, powernodeEventCatalogue());
  const request = async (url: string, method: string, token: string | undefined, body: unknown) => {
    const res = await fetch(url, {
      method,
      headers: { ...(token ? { authorization: `Bearer ${token}` } : {}), ...(body === undefined ? {} : { 'content-type': 'application/json' }) },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    const text = await res.text();
    return { status: res.status, body: text ? JSON.parse(text) : null, headers: res.headers };
  };
  const instanceDir = (id: string) => path.join(dataDir, 'instances', id);
  return {
    platform,
    dataDir,
    store,
    rest: (method, route, body, token) => request(`${platform.url}/api/v1/system${route}`, method, token ?? platform.adminToken, body),
    agentApi: (method, route, options = {}) => request(`${platform.url}/api/v1/agent/${route}`, method, options.credential, options.body),
    async mcp() {
      const client = new Client({ name: 'powernode-provisioner-test', version: '0.0.0' });
      await client.connect(
        new StreamableHTTPClientTransport(new URL(`${platform.url}/mcp`), { requestInit: { headers: { authorization: `Bearer ${platform.adminToken}` } } }),
      );
      return {
        call: async (name, args) => {
          const result = (await client.callTool({ name, arguments: args })) as {
            isError?: boolean;
            structuredContent?: unknown;
            content: { type: string; text: string }[];
          };
          const text = result.content.map((c) => c.text).join('\n');
          return { isError: Boolean(result.isError), data: result.structuredContent ?? (result.isError ? null : JSON.parse(text)), text };
        },
        close: () => client.close(),
      };
    },
    sandboxOf: (id) => path.join(instanceDir(id), 'sandbox'),
    instanceDir,
    async agentPid(id) {
      try {
        return (JSON.parse(await readFile(path.join(instanceDir(id), 'agent.pid'), 'utf8')) as { pid: number }).pid;
      } catch {
        return null;
      }
    },
    instanceEvents: (id) => store.readStream(provisionerStreams.instance(id)),
    async stop() {
      await store.close();
      await platform.stop();
      // Agents outlive the provisioner by design: stop whatever the tests left running before the directory goes.
      const sweeper = new LocalDriver({ dataDir, agentCommand: [process.execPath, PROTOCOL_AGENT], stopGraceMs: 2_000 });
      for (const id of await sweeper.list()) await sweeper.destroy(id);
      await sweeper.close();
      await rm(dataDir, { recursive: true, force: true });
    },
  };
}

/** Live processes whose environment names `instanceId` as their instance (the agents of an instance). */
export function agentProcessesOf(instanceId: string): number[] {
  const pids: number[] = [];
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const environ = readFileSync(`/proc/${entry}/environ`, 'utf8').split('\0');
      const stat = readFileSync(`/proc/${entry}/stat`, 'utf8');
      const state = stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3);
      if (state !== 'Z' && environ.includes(`POWERNODE_INSTANCE_ID=${instanceId}`)) pids.push(Number(entry));
    } catch {
      // gone meanwhile, or not ours to read
    }
  }
  return pids;
}

export interface CatalogModule {
  id: string;
  name: string;
}

/** Catalog set-up through the public API, plus builds recorded the way ingest records them. */
export function catalogSetup(p: ProvisionerPlatform) {
  return {
    async registerModule(name: string, category: string, spec: Record<string, unknown> = {}): Promise<CatalogModule> {
      const res = await p.rest('POST', '/modules', {
        name,
        category,
        variety: 'subscription',
        gitea_repo_full_name: `acme/${name}`,
        cosign_identity_regexp: 'https://ci\\.example\\.com/acme/.*',
        cosign_issuer_regexp: 'https://token\\.actions\\.example\\.com',
        approval_policy: 'auto_approve',
      });
      if (res.status !== 201) throw new Error(`register ${name}: ${res.status} ${JSON.stringify(res.body)}`);
      if (Object.keys(spec).length > 0) {
        const updated = await p.rest('PATCH', `/modules/${name}`, spec);
        if (updated.status !== 200) throw new Error(`update ${name}: ${updated.status} ${JSON.stringify(updated.body)}`);
      }
      return { id: res.body.module.id, name };
    },

    /** Appends ModuleVersionBuilt as ingest does and waits until the catalog knows the version. */
    async recordBuild(
      module: CatalogModule,
      version: string,
      manifest: Record<string, unknown> = {},
    ): Promise<{ version_id: string; oci_digest: string; composefs_digest: string }> {
      const tag = `v${version}`;
      const version_id = moduleVersionIdFor(module.id, tag);
      const oci_digest = digestOf(`${module.name}@${version}:manifest`);
      const composefs_digest = digestOf(`${module.name}@${version}:composefs`);
      await p.store.append(
        catalogStreams.moduleVersion(version_id),
        [
          {
            type: 'ModuleVersionBuilt',
            actor: 'ingest',
            data: {
              version_id,
              module_id: module.id,
              module_name: module.name,
              version_string: version,
              tag,
              oci_ref: `127.0.0.1:5000/acme/${module.name}:${tag}`,
              oci_digest,
              composefs_digest,
              fsverity_root_hash: digestOf(`${module.name}@${version}:root`),
              cosign_verified: true,
              signer_identity: 'https://ci.example.com/acme/x',
              signer_issuer: 'https://token.actions.example.com',
              sbom_summary: { format: 'CycloneDX', component_count: 1 },
              manifest: { schema_version: 1, name: module.name, version, ...manifest },
              built_at: new Date().toISOString(),
            },
          },
        ],
        { expected: 'no_stream' },
      );
      await waitUntil(`the catalog to know ${module.name} ${version}`, async () => (await p.rest('GET', `/module-versions/${version_id}`)).status === 200);
      return { version_id, oci_digest, composefs_digest };
    },

    async promote(versionId: string, ...states: string[]): Promise<void> {
      for (const to of states) {
        const res = await p.rest('POST', `/module-versions/${versionId}/promote`, { to });
        if (res.status !== 200 || res.body.version?.promotion_state !== to)
          throw new Error(`promote ${versionId} to ${to}: ${res.status} ${JSON.stringify(res.body)}`);
      }
    },

    async createTemplate(name: string, modules: string[]): Promise<string> {
      const res = await p.rest('POST', '/templates', { name });
      if (res.status !== 201) throw new Error(`template ${name}: ${res.status} ${JSON.stringify(res.body)}`);
      for (const module_name of modules) {
        const assigned = await p.rest('POST', `/templates/${res.body.template.id}/modules`, { module_name });
        if (assigned.status !== 200) throw new Error(`assign ${module_name}: ${assigned.status} ${JSON.stringify(assigned.body)}`);
      }
      return res.body.template.id as string;
    },
  };
}

/** A second provisioner host beside the platform's: a data directory and driver of its own, the same store and bus. */
export interface SecondHost {
  dataDir: string;
  process: ServiceProcess;
  /** SIGKILLs its provisioner and starts it again. */
  restart(): Promise<void>;
  /** Kills its provisioner, destroys what its driver still runs and removes its directory. */
  stop(): Promise<void>;
}

export async function startSecondHost(p: ProvisionerPlatform, host: string): Promise<SecondHost> {
  const dataDir = await mkdtemp(path.join(os.tmpdir(), `pn-${host}-`));
  const start = () => p.platform.startReplica('provisioner', { POWERNODE_PROVISIONER_HOST: host, POWERNODE_DATA_DIR: dataDir });
  const second: SecondHost = {
    dataDir,
    process: await start(),
    async restart() {
      await second.process.kill();
      second.process = await start();
    },
    async stop() {
      await second.process.kill();
      const sweeper = new LocalDriver({ dataDir, agentCommand: [process.execPath, PROTOCOL_AGENT], stopGraceMs: 2_000 });
      for (const id of await sweeper.list()) await sweeper.destroy(id);
      await sweeper.close();
      await rm(dataDir, { recursive: true, force: true });
    },
  };
  return second;
}
