import { lstat, readFile, readdir, readlink, rm, stat } from 'node:fs/promises';
import path from 'node:path';
import type { AgentDesiredModule, AgentDesiredState } from '@powernode/contracts';
import { describeDirectory, formatComposefsDescription } from '@powernode/artifact';
import { fsverityDigestOfBuffer } from '@powernode/fsverity';
import { startRegistry, type ServiceProcess, type TestRegistry } from '@powernode/testing';
import { startAgentGateway, type AgentGateway } from './agent-gateway.test-support.js';
import { agentEnvironment, logEntries, outputClosed, startAgent, testInstance, waitForLogEntry, type TestInstance } from './agent-process.test-support.js';
import { freshDir, publishModule, type PublishedModule } from './module-artifacts.test-support.js';

let registry: TestRegistry;
let workDir: string;
let base: PublishedModule;
let appV1: PublishedModule;
let appV2: PublishedModule;
const running: ServiceProcess[] = [];
const gateways: AgentGateway[] = [];

const APP_MASK = ['/etc/app/secret.key', '*.tmp'];

beforeAll(async () => {
  registry = await startRegistry();
  workDir = await freshDir('reconcile');
  base = await publishModule(registry.host, workDir, {
    name: 'base',
    version: '1.0.0',
    files: { '/etc/shared.conf': 'from base\n', '/etc/base-only.conf': 'base\n', '/etc/app/from-base.conf': 'base writes into app dir\n' },
  });
  appV1 = await publishModule(registry.host, workDir, {
    name: 'app',
    version: '1.0.0',
    files: { '/etc/shared.conf': 'from app v1\n', '/etc/app/app.conf': 'v1\n', '/etc/app/secret.key': 'do not ship\n', '/etc/app/build.tmp': 'cruft\n' },
  });
  appV2 = await publishModule(registry.host, workDir, {
    name: 'app',
    version: '2.0.0',
    files: { '/etc/shared.conf': 'from app v2\n', '/etc/app/app.conf': 'v2\n' },
  });
});

afterAll(async () => {
  for (const agent of running) await agent.kill();
  for (const gateway of gateways) await gateway.stop();
  await base?.built.dispose();
  await appV1?.built.dispose();
  await appV2?.built.dispose();
  await registry?.stop();
  await rm(workDir, { recursive: true, force: true });
});

function desiredState(instance: TestInstance, generation: string, modules: AgentDesiredModule[]): AgentDesiredState {
  return { instance_id: instance.instanceId, generation, modules, unresolved: [] };
}

function generationOne(instance: TestInstance, registryHost = registry.host): AgentDesiredState {
  // Listed highest priority first: the agent must order layers by priority, not by list position.
  return desiredState(instance, '1', [
    appV1.desired(registryHost, { priority: 5000, effective_mask: APP_MASK }),
    base.desired(registryHost, { priority: 1000 }),
  ]);
}

async function gatewayFor(instance: TestInstance, desired: AgentDesiredState): Promise<AgentGateway> {
  const gateway = await startAgentGateway({ instanceId: instance.instanceId, enrolmentToken: instance.enrolmentToken, heartbeatIntervalMs: 60_000, desired });
  gateways.push(gateway);
  return gateway;
}

function launch(env: Record<string, string>): ServiceProcess {
  const agent = startAgent(env);
  running.push(agent);
  return agent;
}

async function composedRootHash(root: string): Promise<string> {
  return fsverityDigestOfBuffer(formatComposefsDescription(await describeDirectory(root), { mtime: 0 }));
}

async function exists(file: string): Promise<boolean> {
  return lstat(file).then(
    () => true,
    () => false,
  );
}

describe('agent against a real registry and the agent endpoints', () => {
  it('enrols once, composes two modules in priority order with the effective mask, heartbeats the digests, and resumes after a restart without re-enrolling', async () => {
    const instance = testInstance(workDir, 'enrol');
    const gateway = await gatewayFor(instance, generationOne(instance));
    const env = agentEnvironment(instance, gateway.url, registry.host);
    const agent = launch(env);

    const heartbeat = await gateway.waitForHeartbeat((h) => h.generation === '1');
    expect(heartbeat.running_module_digests).toEqual({ base: base.built.composefsDigest, app: appV1.built.composefsDigest });
    expect(heartbeat.errors).toEqual([]);
    expect(heartbeat.module_states).toEqual({ base: 'skipped: no init.start command', app: 'skipped: no init.start command' });
    expect(gateway.enrolments).toEqual([{ accepted: true }]);
    expect(gateway.invalidHeartbeats).toEqual([]);

    expect(await readlink(path.join(instance.sandboxDir, 'current'))).toBe('roots/1');
    const root = path.join(instance.sandboxDir, 'current');
    // The higher priority layer wins on the overlapping path; the lower one's other files stay.
    expect(await readFile(path.join(root, 'etc/shared.conf'), 'utf8')).toBe('from app v1\n');
    expect(await readFile(path.join(root, 'etc/base-only.conf'), 'utf8')).toBe('base\n');
    expect(await readFile(path.join(root, 'etc/app/from-base.conf'), 'utf8')).toBe('base writes into app dir\n');
    expect(await readFile(path.join(root, 'etc/app/app.conf'), 'utf8')).toBe('v1\n');
    // The effective mask removed an anchored path and an unanchored pattern from app's layer.
    expect(await exists(path.join(root, 'etc/app/secret.key'))).toBe(false);
    expect(await exists(path.join(root, 'etc/app/build.tmp'))).toBe(false);
    expect(heartbeat.composed_root_hash).toBe(await composedRootHash(path.join(instance.sandboxDir, 'roots/1')));

    // The credential is persisted, readable by the agent only.
    const credentialFile = path.join(instance.dataDir, 'credential.json');
    expect((await stat(credentialFile)).mode & 0o777).toBe(0o600);
    // The tree layers sit in the cache under their digests.
    expect(await exists(path.join(instance.cacheDir, 'blobs/sha256', base.treeDigest.slice(7)))).toBe(true);

    expect(await agent.stop('SIGTERM')).toBe(0);

    // Restarted with the same (already spent) token: the persisted credential is used, no enrolment happens.
    const restarted = launch(env);
    await waitForLogEntry(restarted, 'using the persisted instance credential');
    await waitForLogEntry(restarted, 'resumed the composed root', (entry) => entry['generation'] === '1');
    const afterRestart = await gateway.waitForHeartbeat((h) => h.boot_id !== heartbeat.boot_id && h.generation === '1');
    expect(afterRestart.running_module_digests).toEqual(heartbeat.running_module_digests);
    expect(afterRestart.composed_root_hash).toBe(heartbeat.composed_root_hash);
    expect(gateway.enrolments).toEqual([{ accepted: true }]);
    expect(gateway.unauthorised).toBe(0);
    expect(await restarted.stop('SIGTERM')).toBe(0);
  });

  it('a spent enrolment token is refused by the platform: an agent without a persisted credential exits 1, its last line saying why and that restarting cannot help', async () => {
    const instance = testInstance(workDir, 'reuse');
    const gateway = await gatewayFor(instance, generationOne(instance));
    const first = launch(agentEnvironment(instance, gateway.url, registry.host));
    await gateway.waitForHeartbeat((h) => h.generation === '1');
    expect(await first.stop('SIGTERM')).toBe(0);

    // Same instance and token, but a fresh data dir (the credential is lost): the token cannot be used twice.
    const env = agentEnvironment(instance, gateway.url, registry.host, { POWERNODE_AGENT_DATA_DIR: path.join(workDir, 'reuse-other-data') });
    const second = launch(env);
    await expect(second.waitForLog(() => false, 30_000)).rejects.toThrow(/exited \(code 1\)/);
    await outputClosed(second);
    expect(gateway.enrolments).toEqual([{ accepted: true }, { accepted: false, reason: 'token reused' }]);
    // The last line says what happened, where the credential was looked for, and what to do instead of restarting.
    const last = JSON.parse(second.lines.filter((line) => line.trim() !== '').at(-1)!) as Record<string, unknown>;
    expect(last).toMatchObject({ level: 60, code: 'unauthenticated', retryable: false, exit_code: 1 });
    expect(last['msg']).toMatch(
      /^agent cannot start: the platform refused the enrolment token \(cannot enrol: the gateway answered 401: the enrolment token was already used\)/,
    );
    expect(last['msg']).toContain(`no instance credential is persisted in ${path.join(workDir, 'reuse-other-data')}`);
    expect(last['msg']).toMatch(/every restart will fail the same way/);
    expect(last['msg']).toMatch(/create a new one/);
  });

  it('switches to a new generation atomically: the composed root is always complete, the old one is removed after the switch', async () => {
    const instance = testInstance(workDir, 'switch');
    const gateway = await gatewayFor(instance, generationOne(instance));
    const agent = launch(agentEnvironment(instance, gateway.url, registry.host));
    const first = await gateway.waitForHeartbeat((h) => h.generation === '1');

    // Readers of `current` during the switch see v1 or v2, never a missing file or a half-built root.
    const seen = new Set<string>();
    const failures: string[] = [];
    let watching = true;
    const watcher = (async () => {
      while (watching) {
        try {
          seen.add(await readFile(path.join(instance.sandboxDir, 'current/etc/shared.conf'), 'utf8'));
          if (!(await exists(path.join(instance.sandboxDir, 'current/etc/base-only.conf')))) failures.push('base-only.conf missing');
        } catch (error) {
          failures.push((error as Error).message);
        }
        await new Promise((resolve) => setImmediate(resolve));
      }
    })();
    gateway.setDesired(
      desiredState(instance, '2', [
        appV2.desired(registry.host, { priority: 5000, effective_mask: APP_MASK }),
        base.desired(registry.host, { priority: 1000 }),
      ]),
    );
    const second = await gateway.waitForHeartbeat((h) => h.generation === '2');
    watching = false;
    await watcher;

    expect(failures).toEqual([]);
    expect([...seen].every((text) => text === 'from app v1\n' || text === 'from app v2\n')).toBe(true);
    expect(second.running_module_digests).toEqual({ base: base.built.composefsDigest, app: appV2.built.composefsDigest });
    expect(second.composed_root_hash).not.toBe(first.composed_root_hash);
    expect(await readlink(path.join(instance.sandboxDir, 'current'))).toBe('roots/2');
    expect(await readFile(path.join(instance.sandboxDir, 'current/etc/shared.conf'), 'utf8')).toBe('from app v2\n');
    expect(await readdir(path.join(instance.sandboxDir, 'roots'))).toEqual(['2']);
    expect(await agent.stop('SIGTERM')).toBe(0);
    await outputClosed(agent);
    const switched = logEntries(agent, (entry) => entry['msg'] === 'switched to the new root');
    expect(switched.map((entry) => [entry['root'], entry['previous_root']])).toEqual([
      ['roots/1', null],
      ['roots/2', 'roots/1'],
    ]);
  });

  it('two instances sharing one cache compose the same artifacts side by side', async () => {
    const sharedCache = path.join(workDir, 'shared-cache');
    const instances = [testInstance(workDir, 'share-a', sharedCache), testInstance(workDir, 'share-b', sharedCache)];
    const gatewaysOfPair = await Promise.all(instances.map((instance) => gatewayFor(instance, generationOne(instance))));
    const agents = instances.map((instance, i) => launch(agentEnvironment(instance, gatewaysOfPair[i]!.url, registry.host)));
    const beats = await Promise.all(gatewaysOfPair.map((gateway) => gateway.waitForHeartbeat((h) => h.generation === '1')));
    expect(beats[0]!.running_module_digests).toEqual({ base: base.built.composefsDigest, app: appV1.built.composefsDigest });
    expect(beats[1]!.running_module_digests).toEqual(beats[0]!.running_module_digests);
    expect(beats[1]!.composed_root_hash).toBe(beats[0]!.composed_root_hash);
    // One entry per artifact manifest and tree layer, whichever agent stored it first.
    const cached = (await readdir(path.join(sharedCache, 'blobs/sha256'))).filter((name) => !name.includes('.partial-'));
    expect(cached.sort()).toEqual(
      [base.treeDigest, appV1.treeDigest, base.built.manifestDigest, appV1.built.manifestDigest].map((digest) => digest.slice(7)).sort(),
    );
    for (const agent of agents) expect(await agent.stop('SIGTERM')).toBe(0);
  });

  it('refuses a new generation whose module version is not the one the platform verified, keeping the running composition', async () => {
    const instance = testInstance(workDir, 'wrong-version');
    const gateway = await gatewayFor(instance, generationOne(instance));
    const agent = launch(agentEnvironment(instance, gateway.url, registry.host));
    const before = await gateway.waitForHeartbeat((h) => h.generation === '1');

    // The registry serves app v2 at the digest, but the platform verified (and promoted) another composefs digest.
    const wrong = { ...appV2.desired(registry.host, { priority: 5000 }), composefs_digest: appV1.built.composefsDigest };
    gateway.setDesired(desiredState(instance, '2', [wrong, base.desired(registry.host, { priority: 1000 })]));
    const refused = await gateway.waitForHeartbeat((h) => h.errors.length > 0);
    expect(refused.generation).toBe('1');
    expect(refused.errors).toEqual([
      { module_name: 'app', message: expect.stringMatching(/composefs digest .* but the platform verified .*it is not the version that was promoted/) },
    ]);
    expect(refused.running_module_digests).toEqual(before.running_module_digests);
    expect(await readlink(path.join(instance.sandboxDir, 'current'))).toBe('roots/1');
    expect(await agent.stop('SIGTERM')).toBe(0);
  });

  it('rejects bad configuration with one line naming the variable and exit 1', async () => {
    const instance = testInstance(workDir, 'config');
    const agent = launch(
      agentEnvironment(instance, 'http://127.0.0.1:9', registry.host, { POWERNODE_HEARTBEAT_INTERVAL_MS: 'often', POWERNODE_SANDBOX_DIR: 'relative/dir' }),
    );
    await expect(agent.waitForLog(() => false, 30_000)).rejects.toThrow(/exited \(code 1\)/);
    await outputClosed(agent);
    const problems = agent.lines.filter((line) => line.startsWith('agent: configuration error:'));
    expect(problems).toHaveLength(2);
    expect(problems.some((line) => line.startsWith('agent: configuration error: POWERNODE_HEARTBEAT_INTERVAL_MS:'))).toBe(true);
    expect(problems.some((line) => line.startsWith('agent: configuration error: POWERNODE_SANDBOX_DIR: must be an absolute path'))).toBe(true);
  });
});
