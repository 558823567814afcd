import { agentHeartbeat } from '@powernode/contracts';
import {
  compositionKey,
  countsAsRunning,
  formatModuleState,
  heartbeatOf,
  planTransition,
  retryDelayMs,
  runningModuleDigests,
  type ComposedModule,
  type Composition,
  type ModuleRunState,
} from '../src/composition-state.js';
import { parseAgentConfig } from '../src/agent-config.js';
import { rootNameFor } from '../src/composed-roots.js';

const digest = (n: number): string => `sha256:${n.toString(16).padStart(64, '0')}`;

function module(name: string, options: Partial<ComposedModule> = {}): ComposedModule {
  return {
    module_name: name,
    version_id: `${name}-v1`,
    version_string: '1.0.0',
    oci_digest: digest(1),
    composefs_digest: digest(2),
    priority: 1000,
    effective_mask: [],
    init: { start: `start-${name}`, stop: `stop-${name}`, restart: null },
    run: { state: 'started' },
    ...options,
  };
}

function composition(modules: ComposedModule[]): Composition {
  return { generation: '7', root_dir: 'roots/7', composed_root_hash: digest(9), composition_key: compositionKey(modules), modules };
}

describe('module run states', () => {
  it.each<[ModuleRunState, string, boolean]>([
    [{ state: 'started' }, 'started', true],
    [{ state: 'skipped', reason: 'systemctl is not in the composed root' }, 'skipped: systemctl is not in the composed root', true],
    [{ state: 'failed', reason: 'exit code 1' }, 'failed: exit code 1', false],
    [{ state: 'pending' }, 'pending', false],
    [{ state: 'stopped' }, 'stopped', false],
  ])('%j is reported as %s and counts as running: %s', (run, text, runningNow) => {
    expect(formatModuleState(run)).toBe(text);
    expect(countsAsRunning(run)).toBe(runningNow);
  });

  it('running_module_digests lists only modules whose start did not fail', () => {
    const state = composition([
      module('ok', { composefs_digest: digest(10) }),
      module('skipped', { composefs_digest: digest(11), run: { state: 'skipped', reason: 'no init.start command' } }),
      module('broken', { composefs_digest: digest(12), run: { state: 'failed', reason: 'exit code 3' } }),
    ]);
    expect(runningModuleDigests(state)).toEqual({ ok: digest(10), skipped: digest(11) });
    expect(runningModuleDigests(null)).toEqual({});
  });
});

describe('heartbeats', () => {
  it('follow the contract, with the composed digests, the root hash, states and errors', () => {
    const state = composition([
      module('my-redis', { composefs_digest: digest(5), run: { state: 'skipped', reason: 'systemctl is not in the composed root' } }),
    ]);
    const services = [{ module: 'my-redis', name: 'redis-server.service', state: 'failed' as const, since: '2026-12-07T14:00:00.000Z' }];
    const heartbeat = heartbeatOf(
      state,
      [{ module_name: 'other', message: 'fsverity verification failed: /etc/x' }],
      { version: '0.1.0', bootId: 'boot-1' },
      services,
      '10.213.4.178',
    );
    expect(agentHeartbeat.parse(heartbeat)).toEqual({
      running_module_digests: { 'my-redis': digest(5) },
      composed_root_hash: digest(9),
      generation: '7',
      errors: [{ module_name: 'other', message: 'fsverity verification failed: /etc/x' }],
      module_states: { 'my-redis': 'skipped: systemctl is not in the composed root' },
      services,
      address: '10.213.4.178',
      agent_version: '0.1.0',
      boot_id: 'boot-1',
      // Files the kernel refused to read: none here (a qemu guest with verity=require reports them).
      integrity: [],
    });
  });

  it('before anything is composed report nothing running, and cap the error list at the contract maximum', () => {
    const errors = Array.from({ length: 150 }, (_, i) => ({ module_name: null, message: `problem ${i}` }));
    const heartbeat = heartbeatOf(null, errors, { version: '0.1.0', bootId: 'b' });
    expect(agentHeartbeat.safeParse(heartbeat).success).toBe(true);
    expect(heartbeat).toMatchObject({ running_module_digests: {}, composed_root_hash: null, generation: null, module_states: {}, address: null });
    expect(heartbeat.errors).toHaveLength(100);
  });
});

describe('planning a switch between compositions', () => {
  it('keeps unchanged running modules, restarts changed ones, stops removed ones (highest priority first), starts new ones (lowest first)', () => {
    const current = composition([
      module('base', { priority: 1000 }),
      module('app', { priority: 5000 }),
      module('gone', { priority: 3000 }),
      module('never-started', { priority: 4000, run: { state: 'failed', reason: 'exit code 1' } }),
    ]);
    const next = [
      module('base', { priority: 1000, run: { state: 'pending' } }),
      module('app', { priority: 5000, oci_digest: digest(3), composefs_digest: digest(4), run: { state: 'pending' } }),
      module('never-started', { priority: 4000, run: { state: 'pending' } }),
      module('new', { priority: 2000, run: { state: 'pending' } }),
    ];
    const plan = planTransition(current, next);
    expect([...plan.keep.entries()]).toEqual([['base', { state: 'started' }]]);
    expect(plan.stop.map((m) => m.module_name)).toEqual(['app', 'gone']);
    expect(plan.start).toEqual(['new', 'never-started', 'app']);
    expect(plan.restart).toEqual([]);
  });

  it('restarts kept modules that were started and have an init.restart, so they see the new root', () => {
    const restartable = { start: 's', stop: 't', restart: 'r' };
    const current = composition([
      module('svc', { init: restartable }),
      module('no-restart'),
      module('skipped', { init: restartable, run: { state: 'skipped', reason: 'systemctl is not in the composed root' } }),
    ]);
    const plan = planTransition(current, [
      module('svc', { init: restartable, run: { state: 'pending' } }),
      module('no-restart', { run: { state: 'pending' } }),
      module('skipped', { init: restartable, run: { state: 'pending' } }),
    ]);
    expect(plan.restart).toEqual(['svc']);
    expect(plan.start).toEqual([]);
    expect(plan.stop).toEqual([]);
  });

  it('treats a changed init command as a changed module, and starts everything from nothing', () => {
    const current = composition([module('svc')]);
    const changed = planTransition(current, [module('svc', { init: { start: 'other', stop: null, restart: null }, run: { state: 'pending' } })]);
    expect(changed.stop.map((m) => m.module_name)).toEqual(['svc']);
    expect(changed.start).toEqual(['svc']);
    expect(planTransition(null, [module('b', { priority: 2 }), module('a', { priority: 1 })])).toEqual({
      stop: [],
      start: ['a', 'b'],
      keep: new Map(),
      restart: [],
    });
  });

  it('identifies a module set independently of order and mask order', () => {
    const a = module('a', { effective_mask: ['/x', '/y'] });
    const b = module('b');
    expect(compositionKey([a, b])).toBe(compositionKey([b, { ...a, effective_mask: ['/y', '/x'] }]));
    expect(compositionKey([a, b])).not.toBe(compositionKey([a, { ...b, priority: 1001 }]));
    expect(compositionKey([a, b])).not.toBe(compositionKey([a]));
  });
});

describe('retries and names', () => {
  it('back off exponentially up to the cap', () => {
    expect([1, 2, 3, 4, 5, 10].map((attempt) => retryDelayMs(attempt, 1000, 10_000))).toEqual([1000, 2000, 4000, 8000, 10_000, 10_000]);
  });

  it('name a root after its generation when that is a safe file name, else after its hash', () => {
    expect(rootNameFor('42')).toBe('42');
    expect(rootNameFor('gen-2024.1_a')).toBe('gen-2024.1_a');
    expect(rootNameFor('../../etc')).toMatch(/^g-[0-9a-f]{32}$/);
    expect(rootNameFor('.hidden')).toMatch(/^g-[0-9a-f]{32}$/);
    expect(rootNameFor('a/b')).not.toBe(rootNameFor('a/c'));
  });
});

describe('configuration', () => {
  const valid = {
    POWERNODE_INSTANCE_ID: 'inst-1',
    POWERNODE_SANDBOX_DIR: '/var/lib/powernode/instances/inst-1/sandbox',
    POWERNODE_GATEWAY_URL: 'http://127.0.0.1:8080/',
    POWERNODE_OCI_REGISTRY: '127.0.0.1:5000',
    POWERNODE_ENROLMENT_TOKEN: 'x'.repeat(32),
  };

  it('resolves defaults from the sandbox', () => {
    expect(parseAgentConfig(valid)).toMatchObject({
      instanceId: 'inst-1',
      dataDir: '/var/lib/powernode/instances/inst-1/sandbox/data',
      cacheDir: '/var/lib/powernode/instances/inst-1/sandbox/data/cache',
      gatewayUrl: 'http://127.0.0.1:8080',
      heartbeatIntervalMs: undefined,
      isolation: 'auto',
      network: 'none',
    });
    expect(
      parseAgentConfig({ ...valid, POWERNODE_AGENT_CACHE_DIR: '/var/cache/powernode', POWERNODE_HEARTBEAT_INTERVAL_MS: '5000', POWERNODE_NATS_URL: '' }),
    ).toMatchObject({
      cacheDir: '/var/cache/powernode',
      heartbeatIntervalMs: 5000,
    });
  });

  it.each([
    [{ POWERNODE_INSTANCE_ID: '' }, /^POWERNODE_INSTANCE_ID: /],
    [{ POWERNODE_GATEWAY_URL: 'ftp://gateway' }, /^POWERNODE_GATEWAY_URL: must be an http:\/\/ or https:\/\/ URL \(got "ftp:\/\/gateway"\)$/],
    [{ POWERNODE_OCI_REGISTRY: 'http://registry' }, /^POWERNODE_OCI_REGISTRY: must be host\[:port\]/],
    [{ POWERNODE_HEARTBEAT_INTERVAL_MS: '10' }, /^POWERNODE_HEARTBEAT_INTERVAL_MS: /],
    [{ POWERNODE_AGENT_ISOLATION: 'chroot' }, /^POWERNODE_AGENT_ISOLATION: /],
    [{ POWERNODE_CA_PEM: 'not a certificate' }, /^POWERNODE_CA_PEM: must hold PEM certificates \(-----BEGIN CERTIFICATE-----\)$/],
    [{ POWERNODE_ENROLMENT_TOKEN: 'short' }, /^POWERNODE_ENROLMENT_TOKEN: must be at least 16 characters$/],
    [
      { POWERNODE_AGENT_RETRY_INITIAL_MS: '5000', POWERNODE_AGENT_RETRY_MAX_MS: '100' },
      /^POWERNODE_AGENT_RETRY_MAX_MS: must be at least POWERNODE_AGENT_RETRY_INITIAL_MS/,
    ],
  ])('refuses %j with one line naming the variable (and never echoing secrets)', (override, line) => {
    const env = Object.fromEntries(Object.entries({ ...valid, ...override }).filter(([, v]) => v !== ''));
    let problems: string[] = [];
    try {
      parseAgentConfig(env);
    } catch (error) {
      expect(error).toMatchObject({ code: 'config_invalid' });
      problems = (error as { details: { problems: string[] } }).details.problems;
    }
    expect(problems).toHaveLength(1);
    expect(problems[0]).toMatch(line);
    expect(problems[0]).not.toContain('short');
  });
});
