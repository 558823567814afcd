import { spawnSync } from 'node:child_process';
import { chmod, mkdir, readFile, rm, writeFile, copyFile } from 'node:fs/promises';
import path from 'node:path';
import type { AgentDesiredState } from '@powernode/contracts';
import { startRegistry, type ServiceProcess, type TestRegistry } from '@powernode/testing';
import { runInitCommand, type InitCommandRequest } from '../src/init-commands.js';
import { detectIsolationBoundary, isolatedArgv, type IsolationBoundary } from '../src/isolation-boundary.js';
import { startAgentGateway, type AgentGateway } from './agent-gateway.test-support.js';
import { agentEnvironment, logEntries, outputClosed, startAgent, testInstance, waitForLogEntry } from './agent-process.test-support.js';
import { freshDir, programWithLibraries, publishModule, type ModuleFile, type PublishedModule } from './module-artifacts.test-support.js';

// Which boundaries this machine offers, probed the way the agent does (synchronously, to pick the tests).
const probe = (argv: string[]): boolean => spawnSync(argv[0]!, argv.slice(1), { stdio: 'ignore', timeout: 10_000 }).status === 0;
const BWRAP = probe(['bwrap', '--ro-bind', '/', '/', '--proc', '/proc', '--dev', '/dev', '--unshare-all', '--die-with-parent', '--', '/bin/true']);
const UNSHARE = probe([
  'unshare',
  '--fork',
  '--pid',
  '--mount',
  '--uts',
  '--ipc',
  '--net',
  '--kill-child',
  '--mount-proc',
  '--root=/',
  '--wd=/',
  '--',
  '/bin/true',
]);
const AVAILABLE: Array<Exclude<IsolationBoundary, { kind: 'none' }>> = [
  ...(BWRAP ? [{ kind: 'bwrap' as const, program: 'bwrap' }] : []),
  ...(UNSHARE ? [{ kind: 'unshare' as const, program: 'unshare' }] : []),
];
const itIsolated = AVAILABLE.length > 0 ? it : it.skip;

let workDir: string;
let toolFiles: Record<string, ModuleFile>;
let hostMarker: string;

beforeAll(async () => {
  workDir = await freshDir('init');
  toolFiles = {};
  for (const program of ['/usr/bin/true', '/usr/bin/false', '/usr/bin/test', '/usr/bin/sleep', '/usr/bin/printenv'])
    Object.assign(toolFiles, await programWithLibraries(program));
  hostMarker = path.join(workDir, 'host-only.marker');
  await writeFile(hostMarker, 'exists on the host only\n');
});

afterAll(async () => {
  await rm(workDir, { recursive: true, force: true });
});

/** A root with the tools, a marker and the mount-point skeleton, as composition would leave it. */
async function toolRoot(label: string, withLibraries = true): Promise<string> {
  const root = path.join(workDir, `root-${label}`);
  for (const [modulePath, file] of Object.entries(toolFiles)) {
    if (!withLibraries && !modulePath.startsWith('/usr/bin/')) continue;
    const target = path.join(root, modulePath);
    await mkdir(path.dirname(target), { recursive: true });
    await copyFile((file as { copyOf: string }).copyOf, target);
    await chmod(target, 0o755);
  }
  await mkdir(path.join(root, 'etc'), { recursive: true });
  await writeFile(path.join(root, 'etc/only-in-root.marker'), 'composed\n');
  for (const dir of ['dev', 'proc', 'sys', 'run', 'tmp']) await mkdir(path.join(root, dir), { recursive: true });
  return root;
}

function request(root: string, boundary: IsolationBoundary, command: string | null, overrides: Partial<InitCommandRequest> = {}): InitCommandRequest {
  return { moduleName: 'svc', action: 'start', command, root, boundary, hostname: 'init-test', network: 'none', timeoutMs: 20_000, ...overrides };
}

describe('init commands run as argv inside the isolation boundary, rooted at the composed root', () => {
  let root: string;
  beforeAll(async () => {
    root = await toolRoot('shared');
  });

  describe.each(AVAILABLE.length > 0 ? AVAILABLE : [{ kind: 'bwrap' as const, program: 'bwrap' }])('with $kind', (boundary) => {
    itIsolated('runs a program of the composed root and reports success or the exit code', async () => {
      await expect(runInitCommand(request(root, boundary, '/usr/bin/true'))).resolves.toEqual({ outcome: 'succeeded', argv: ['/usr/bin/true'] });
      // A bare name is looked up in the root's PATH, not the host's.
      await expect(runInitCommand(request(root, boundary, 'true'))).resolves.toEqual({ outcome: 'succeeded', argv: ['/usr/bin/true'] });
      await expect(runInitCommand(request(root, boundary, 'false'))).resolves.toMatchObject({ outcome: 'failed', reason: 'exit code 1', exitCode: 1 });
    });

    itIsolated('sees the composed root, not the host: a host-only path is absent, a root-only path is present', async () => {
      await expect(readFile(hostMarker, 'utf8')).resolves.toBe('exists on the host only\n');
      await expect(runInitCommand(request(root, boundary, `test -e ${hostMarker}`))).resolves.toMatchObject({ outcome: 'failed', exitCode: 1 });
      await expect(runInitCommand(request(root, boundary, 'test -e /etc/only-in-root.marker'))).resolves.toMatchObject({ outcome: 'succeeded' });
    });

    itIsolated("gets a clean environment: the host's variables do not leak in, the module name does", async () => {
      process.env['POWERNODE_AGENT_TEST_SECRET'] = 'host secret';
      try {
        await expect(runInitCommand(request(root, boundary, 'printenv POWERNODE_AGENT_TEST_SECRET'))).resolves.toMatchObject({
          outcome: 'failed',
          exitCode: 1,
        });
        await expect(runInitCommand(request(root, boundary, 'printenv POWERNODE_MODULE'))).resolves.toMatchObject({ outcome: 'succeeded' });
      } finally {
        delete process.env['POWERNODE_AGENT_TEST_SECRET'];
      }
    });

    itIsolated('kills a command that outlives the timeout and reports it failed', async () => {
      await expect(runInitCommand(request(root, boundary, 'sleep 30', { timeoutMs: 300 }))).resolves.toEqual({
        outcome: 'failed',
        reason: 'did not finish within 300 ms and was killed',
        argv: ['/usr/bin/sleep', '30'],
        exitCode: null,
      });
    });

    itIsolated('skips a program that is present but cannot be executed in the root (its loader is missing)', async () => {
      const bare = await toolRoot(`bare-${boundary.kind}`, false);
      await expect(runInitCommand(request(bare, boundary, '/usr/bin/true'))).resolves.toMatchObject({
        outcome: 'skipped',
        reason: expect.stringMatching(/^\/usr\/bin\/true cannot be executed in the composed root/),
      });
    });
  });

  it('skips a program the composed root does not have (no init system): systemctl in a module-only root', async () => {
    const boundary: IsolationBoundary = AVAILABLE[0] ?? { kind: 'bwrap', program: 'bwrap' };
    await expect(runInitCommand(request(root, boundary, 'systemctl start redis-server'))).resolves.toEqual({
      outcome: 'skipped',
      reason: 'systemctl is not in the composed root (no init system or binary to run it)',
    });
  });

  it('skips systemctl in a sandbox even when the root ships it: only a machine instance runs an init system', async () => {
    const withSystemctl = path.join(workDir, 'root-with-systemctl');
    await mkdir(path.join(withSystemctl, 'usr/bin'), { recursive: true });
    await writeFile(path.join(withSystemctl, 'usr/bin/systemctl'), '#!/bin/sh\nexit 1\n');
    await chmod(path.join(withSystemctl, 'usr/bin/systemctl'), 0o755);
    for (const boundary of [
      { kind: 'bwrap', program: 'bwrap' },
      { kind: 'unshare', program: 'unshare' },
    ] satisfies IsolationBoundary[]) {
      await expect(runInitCommand(request(withSystemctl, boundary, 'systemctl start redis-server'))).resolves.toEqual({
        outcome: 'skipped',
        reason: `no init system runs in a ${boundary.kind} sandbox (the local driver); a machine instance (nspawn) runs systemctl`,
      });
    }
  });

  it('never hands a command to a shell: shell syntax is refused before anything runs', async () => {
    const boundary: IsolationBoundary = AVAILABLE[0] ?? { kind: 'none', reason: 'none here' };
    const result = await runInitCommand(request(root, boundary, `true && touch ${hostMarker}.pwned`));
    expect(result).toMatchObject({ outcome: 'failed', reason: expect.stringMatching(/^cannot split command .*a background or "&&" operator/) });
    await expect(readFile(`${hostMarker}.pwned`)).rejects.toMatchObject({ code: 'ENOENT' });
  });

  it('without an isolation boundary nothing runs: the command is skipped with the reason', async () => {
    await expect(runInitCommand(request(root, { kind: 'none', reason: 'bwrap is not installed; unshare is not installed' }, '/usr/bin/true'))).resolves.toEqual(
      {
        outcome: 'skipped',
        reason: 'no isolation boundary available (bwrap is not installed; unshare is not installed)',
      },
    );
    await expect(runInitCommand(request(root, { kind: 'none', reason: 'x' }, null))).resolves.toEqual({ outcome: 'skipped', reason: 'no init.start command' });
    await expect(detectIsolationBoundary('none')).resolves.toEqual({ kind: 'none', reason: 'disabled by POWERNODE_AGENT_ISOLATION=none' });
  });

  it('builds the bubblewrap and unshare command lines with the root read-only (bwrap), namespaces unshared and the argv last', () => {
    const command = {
      root: '/sandbox/current',
      argv: ['/usr/bin/redis-server', '--port', '6379'],
      hostname: 'node-1',
      network: 'none' as const,
      moduleName: 'my-redis',
    };
    const bwrap = isolatedArgv({ kind: 'bwrap', program: 'bwrap' }, command);
    expect(bwrap.slice(0, 4)).toEqual(['bwrap', '--ro-bind', '/sandbox/current', '/']);
    expect(bwrap).toContain('--unshare-all');
    expect(bwrap).not.toContain('--share-net');
    expect(bwrap).toContain('--clearenv');
    expect(bwrap.slice(-4)).toEqual(['--', '/usr/bin/redis-server', '--port', '6379']);
    expect(isolatedArgv({ kind: 'bwrap', program: 'bwrap' }, { ...command, network: 'host' })).toContain('--share-net');
    const unshare = isolatedArgv({ kind: 'unshare', program: 'unshare' }, command);
    expect(unshare).toEqual([
      'unshare',
      '--fork',
      '--pid',
      '--mount',
      '--uts',
      '--ipc',
      '--net',
      '--kill-child',
      '--mount-proc',
      '--root=/sandbox/current',
      '--wd=/',
      '--',
      '/usr/bin/redis-server',
      '--port',
      '6379',
    ]);
  });
});

describe('the agent starts modules in isolation, reports each outcome, and stops them on SIGTERM', () => {
  let registry: TestRegistry;
  let modules: Record<string, PublishedModule>;
  const agents: ServiceProcess[] = [];
  const gateways: AgentGateway[] = [];

  beforeAll(async () => {
    registry = await startRegistry();
    const publish = (name: string, files: Record<string, ModuleFile>, init?: { start?: string; stop?: string; restart?: string }): Promise<PublishedModule> =>
      publishModule(registry.host, workDir, { name, version: '1.0.0', files, ...(init === undefined ? {} : { init }) });
    modules = {
      tools: await publish('tools', toolFiles),
      'svc-ok': await publish(
        'svc-ok',
        { '/etc/svc-ok.marker': 'ok\n' },
        { start: '/usr/bin/test -e /etc/svc-ok.marker', stop: '/usr/bin/test -e /etc/svc-ok.marker', restart: '/usr/bin/test -e /etc/svc-ok.marker' },
      ),
      'svc-host': await publish('svc-host', { '/etc/svc-host.marker': 'host\n' }, { start: `test -e ${hostMarker}` }),
      'svc-systemd': await publish(
        'svc-systemd',
        { '/etc/redis/redis.conf': 'port 6379\n' },
        { start: 'systemctl start redis-server', stop: 'systemctl stop redis-server' },
      ),
      // The build refuses shell syntax in init commands; the desired state below carries one anyway.
      'svc-shell': await publish('svc-shell', { '/etc/svc-shell.marker': 'shell\n' }),
    };
  });

  afterAll(async () => {
    for (const agent of agents) await agent.kill();
    for (const gateway of gateways) await gateway.stop();
    for (const module of Object.values(modules ?? {})) await module.built.dispose();
    await registry?.stop();
  });

  function desiredFor(instanceId: string, generation: string, priorityShift = 0): AgentDesiredState {
    return {
      instance_id: instanceId,
      generation,
      modules: Object.values(modules).map((module, index) => {
        const entry = module.desired(registry.host, { priority: module.spec.name === 'tools' ? 1000 : 4000 + index + priorityShift });
        return module.spec.name === 'svc-shell' ? { ...entry, init: { ...entry.init, start: 'true; touch /tmp/pwned' } } : entry;
      }),
      unresolved: [],
    };
  }

  async function run(label: string, extraEnv: Record<string, string> = {}): Promise<{ agent: ServiceProcess; gateway: AgentGateway; instanceId: string }> {
    const instance = testInstance(workDir, label);
    const gateway = await startAgentGateway({
      instanceId: instance.instanceId,
      enrolmentToken: instance.enrolmentToken,
      desired: desiredFor(instance.instanceId, '1'),
    });
    gateways.push(gateway);
    const agent = startAgent(agentEnvironment(instance, gateway.url, registry.host, extraEnv));
    agents.push(agent);
    return { agent, gateway, instanceId: instance.instanceId };
  }

  itIsolated('started, failed and skipped starts are reported per module; only modules whose start did not fail count as running', async () => {
    const { agent, gateway, instanceId } = await run('isolated');
    const heartbeat = await gateway.waitForHeartbeat((h) => h.generation === '1');
    expect(heartbeat.module_states).toEqual({
      tools: 'skipped: no init.start command',
      'svc-ok': 'started',
      'svc-host': 'failed: exit code 1',
      'svc-systemd': 'skipped: systemctl is not in the composed root (no init system or binary to run it)',
      'svc-shell': expect.stringMatching(/^failed: cannot split command "true; touch \/tmp\/pwned" into arguments: a command separator ";"/),
    });
    expect(heartbeat.running_module_digests).toEqual({
      tools: modules['tools']!.built.composefsDigest,
      'svc-ok': modules['svc-ok']!.built.composefsDigest,
      'svc-systemd': modules['svc-systemd']!.built.composefsDigest,
    });
    await waitForLogEntry(agent, 'reconciled', (entry) => entry['generation'] === '1');
    const started = logEntries(agent, (entry) => entry['msg'] === 'init.start succeeded');
    expect(started).toEqual([
      expect.objectContaining({ module_name: 'svc-ok', argv: ['/usr/bin/test', '-e', '/etc/svc-ok.marker'], isolation: AVAILABLE[0]!.kind }),
    ]);

    // A new root (same modules, other priorities): the started module that stays is restarted in it, the
    // module whose start failed is tried again, nothing is started twice.
    gateway.setDesired(desiredFor(instanceId, '2', 100));
    const second = await gateway.waitForHeartbeat((h) => h.generation === '2');
    expect(second.module_states['svc-ok']).toBe('started');
    expect(second.module_states['svc-host']).toBe('failed: exit code 1');
    await waitForLogEntry(agent, 'reconciled', (entry) => entry['generation'] === '2');
    expect(logEntries(agent, (entry) => entry['msg'] === 'init.restart succeeded')).toEqual([expect.objectContaining({ module_name: 'svc-ok' })]);
    expect(logEntries(agent, (entry) => entry['msg'] === 'init.start succeeded')).toHaveLength(1);
    expect(logEntries(agent, (entry) => entry['msg'] === 'init.start failed' && entry['module_name'] === 'svc-host')).toHaveLength(2);

    expect(await agent.stop('SIGTERM')).toBe(0);
    await outputClosed(agent);
    const stopped = logEntries(agent, (entry) => entry['msg'] === 'init.stop succeeded');
    expect(stopped).toEqual([expect.objectContaining({ module_name: 'svc-ok', argv: ['/usr/bin/test', '-e', '/etc/svc-ok.marker'] })]);
    // Only a started module is stopped; the final heartbeat says so.
    expect(logEntries(agent, (entry) => String(entry['msg']).startsWith('init.stop') && entry['module_name'] !== 'svc-ok')).toEqual([]);
    const last = gateway.heartbeats[gateway.heartbeats.length - 1]!;
    expect(last.module_states['svc-ok']).toBe('stopped');
    // After a stop nothing of the composition is in use: started modules were stopped, the others with them.
    expect(last.running_module_digests).toEqual({});
    expect(last.module_states['svc-systemd']).toBe('stopped');
    expect(last.module_states['svc-host']).toBe('failed: exit code 1');
    expect(agent.lines.some((line) => line.includes('"msg":"stopped"'))).toBe(true);
  });

  it('with isolation disabled every start is skipped with the reason, and the composed modules still count as running', async () => {
    const { agent, gateway } = await run('no-isolation', { POWERNODE_AGENT_ISOLATION: 'none' });
    await waitForLogEntry(agent, 'no isolation boundary: module init commands will be recorded as skipped');
    const heartbeat = await gateway.waitForHeartbeat((h) => h.generation === '1');
    const reason = 'skipped: no isolation boundary available (disabled by POWERNODE_AGENT_ISOLATION=none)';
    expect(heartbeat.module_states).toEqual({
      tools: 'skipped: no init.start command',
      'svc-ok': reason,
      'svc-host': reason,
      'svc-systemd': reason,
      // A command that is not a valid argv fails whatever the boundary.
      'svc-shell': expect.stringMatching(/^failed: cannot split command/),
    });
    expect(Object.keys(heartbeat.running_module_digests).sort()).toEqual(['svc-host', 'svc-ok', 'svc-systemd', 'tools']);
    expect(await agent.stop('SIGTERM')).toBe(0);
  });
});
