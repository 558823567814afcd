import { spawnSync } from 'node:child_process';
import { rm } from 'node:fs/promises';
import type { AgentDesiredState } from '@powernode/contracts';
import { startRegistry, type ServiceProcess, type TestRegistry } from '@powernode/testing';
import { DEFAULT_INIT_TIMEOUT_MS, parseAgentConfig } from '../src/agent-config.js';
import { FINAL_HEARTBEAT_TIMEOUT_MS } from '../src/instance-agent.js';
import { startAgentGateway, type AgentGateway } from './agent-gateway.test-support.js';
import { agentEnvironment, logEntries, outputClosed, startAgent, testInstance, waitForLogEntry } from './agent-process.test-support.js';
import { freshDir, programWithLibraries, publishModule, type ModuleFile, type PublishedModule } from './module-artifacts.test-support.js';

// The local driver sends SIGKILL this long after SIGTERM (its default stop grace).
const LOCAL_DRIVER_STOP_GRACE_MS = 10_000;

const probe = (argv: string[]): boolean => spawnSync(argv[0]!, argv.slice(1), { stdio: 'ignore', timeout: 10_000 }).status === 0;
const ISOLATED =
  probe(['bwrap', '--ro-bind', '/', '/', '--proc', '/proc', '--dev', '/dev', '--unshare-all', '--die-with-parent', '--', '/bin/true']) ||
  probe(['unshare', '--fork', '--pid', '--mount', '--uts', '--ipc', '--net', '--kill-child', '--mount-proc', '--root=/', '--wd=/', '--', '/bin/true']);
const itIsolated = ISOLATED ? it : it.skip;

describe('the init timeout fits in the stop grace', () => {
  const required = {
    POWERNODE_INSTANCE_ID: 'inst-1',
    POWERNODE_SANDBOX_DIR: '/srv/sandbox',
    POWERNODE_GATEWAY_URL: 'http://127.0.0.1:1',
    POWERNODE_OCI_REGISTRY: '127.0.0.1:5000',
  };

  it('defaults to a budget that, with the last heartbeat, ends before the driver sends SIGKILL', () => {
    expect(parseAgentConfig(required).initTimeoutMs).toBe(DEFAULT_INIT_TIMEOUT_MS);
    expect(DEFAULT_INIT_TIMEOUT_MS + FINAL_HEARTBEAT_TIMEOUT_MS).toBeLessThan(LOCAL_DRIVER_STOP_GRACE_MS);
  });

  it('can be raised or lowered, and refuses what is not a positive number of milliseconds', () => {
    expect(parseAgentConfig({ ...required, POWERNODE_AGENT_INIT_TIMEOUT_MS: '60000' }).initTimeoutMs).toBe(60_000);
    expect(parseAgentConfig({ ...required, POWERNODE_AGENT_INIT_TIMEOUT_MS: '1' }).initTimeoutMs).toBe(1);
    for (const bad of ['0', '-5', 'soon', '1.5']) {
      expect(() => parseAgentConfig({ ...required, POWERNODE_AGENT_INIT_TIMEOUT_MS: bad })).toThrow(
        expect.objectContaining({ code: 'config_invalid', message: expect.stringContaining('POWERNODE_AGENT_INIT_TIMEOUT_MS') }),
      );
    }
  });
});

describe('SIGTERM: init.stop commands share one budget', () => {
  let registry: TestRegistry;
  let workDir: string;
  const modules: PublishedModule[] = [];
  const agents: ServiceProcess[] = [];
  const gateways: AgentGateway[] = [];

  beforeAll(async () => {
    registry = await startRegistry();
    workDir = await freshDir('shutdown');
    const tools: Record<string, ModuleFile> = {};
    for (const program of ['/usr/bin/true', '/usr/bin/sleep']) Object.assign(tools, await programWithLibraries(program));
    modules.push(await publishModule(registry.host, workDir, { name: 'tools', version: '1.0.0', files: tools }));
    // Both start at once and hang on stop.
    for (const name of ['slow-a', 'slow-b']) {
      modules.push(
        await publishModule(registry.host, workDir, {
          name,
          version: '1.0.0',
          files: { [`/etc/${name}.marker`]: `${name}\n` },
          init: { start: '/usr/bin/true', stop: '/usr/bin/sleep 30' },
        }),
      );
    }
  });

  afterAll(async () => {
    for (const agent of agents) await agent.kill();
    for (const gateway of gateways) await gateway.stop();
    for (const module of modules) await module.built.dispose();
    await registry?.stop();
    await rm(workDir, { recursive: true, force: true });
  });

  itIsolated(
    'the first hanging stop is killed when the budget runs out, the next is not run, and the agent still exits 0 after its last heartbeat',
    async () => {
      const instance = testInstance(workDir, 'budget');
      const [tools, slowA, slowB] = modules as [PublishedModule, PublishedModule, PublishedModule];
      const desired: AgentDesiredState = {
        instance_id: instance.instanceId,
        generation: '1',
        modules: [
          tools.desired(registry.host, { priority: 1000 }),
          slowA.desired(registry.host, { priority: 5000 }),
          slowB.desired(registry.host, { priority: 4000 }),
        ],
        unresolved: [],
      };
      const gateway = await startAgentGateway({ instanceId: instance.instanceId, enrolmentToken: instance.enrolmentToken, desired });
      gateways.push(gateway);
      const agent = startAgent(agentEnvironment(instance, gateway.url, registry.host, { POWERNODE_AGENT_INIT_TIMEOUT_MS: '1500' }));
      agents.push(agent);
      const running = await gateway.waitForHeartbeat((h) => h.generation === '1');
      expect(running.module_states).toMatchObject({ 'slow-a': 'started', 'slow-b': 'started' });
      await waitForLogEntry(agent, 'reconciled');

      expect(await agent.stop('SIGTERM')).toBe(0);
      await outputClosed(agent);
      // Highest priority first: slow-a gets what is left of the budget and is killed at its end.
      const [killed] = logEntries(agent, (entry) => entry['msg'] === 'init.stop failed');
      expect(killed).toMatchObject({ module_name: 'slow-a', reason: expect.stringMatching(/^did not finish within \d+ ms and was killed$/) });
      expect(Number(/within (\d+) ms/.exec(String(killed!['reason']))![1])).toBeLessThanOrEqual(1500);
      expect(logEntries(agent, (entry) => entry['msg'] === 'init.stop not run')).toEqual([
        expect.objectContaining({ module_name: 'slow-b', reason: expect.stringContaining('1500 ms shutdown budget') }),
      ]);
      const last = gateway.heartbeats[gateway.heartbeats.length - 1]!;
      expect(last.module_states['slow-a']).toMatch(/^failed: stop: did not finish within \d+ ms and was killed$/);
      expect(last.module_states['slow-b']).toMatch(/^failed: stop: not run: the 1500 ms shutdown budget/);
      expect(last.running_module_digests).toEqual({});
      expect(agent.lines.some((line) => line.includes('"msg":"stopped"'))).toBe(true);
    },
  );
});
