import { spawn, type ChildProcess } from 'node:child_process';
import { appendFile, mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { startPlatform, waitUntil, type TestPlatform } from '@powernode/testing';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../..');
let platform: TestPlatform;
let dir: string;
const children: ChildProcess[] = [];

function powernode(args: string[], env: NodeJS.ProcessEnv = {}): ChildProcess {
  const child = spawn(process.execPath, [path.join(root, 'bin/powernode.mjs'), ...args], {
    cwd: root,
    env: { ...process.env, POWERNODE_URL: platform.url, POWERNODE_TOKEN: platform.adminToken, ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  children.push(child);
  return child;
}

let modules = 0;
/** A change through the API: each registration appends events to the log. */
async function registerModule(): Promise<void> {
  const name = `audited-${++modules}`;
  const res = await fetch(`${platform.url}/api/v1/system/modules`, {
    method: 'POST',
    headers: { authorization: `Bearer ${platform.adminToken}`, 'content-type': 'application/json' },
    body: JSON.stringify({
      name,
      category: 'userland',
      variety: 'subscription',
      gitea_repo_full_name: `acme/${name}`,
      cosign_identity_regexp: '.*',
      cosign_issuer_regexp: '.*',
    }),
  });
  expect(res.status).toBe(201);
}

/** Every event of the log, by the admin API, in order. */
async function logPositions(): Promise<{ position: number; id: string }[]> {
  const out: { position: number; id: string }[] = [];
  for (let from = 0; ;) {
    const res = await fetch(`${platform.url}/api/v1/system/events?from=${from}&limit=500`, { headers: { authorization: `Bearer ${platform.adminToken}` } });
    const page = (await res.json()) as { events: { position: number; id: string }[] };
    if (page.events.length === 0) return out;
    out.push(...page.events.map((e) => ({ position: e.position, id: e.id })));
    from = page.events[page.events.length - 1]!.position;
  }
}

async function fileLines(file: string): Promise<Record<string, unknown>[]> {
  const text = await readFile(file, 'utf8').catch(() => '');
  // Complete lines only: the last one may be a write in progress (or the torn line the test leaves).
  return text
    .slice(0, text.lastIndexOf('\n') + 1)
    .split('\n')
    .filter((l) => l !== '')
    .map((l) => JSON.parse(l) as Record<string, unknown>);
}

function killed(child: ChildProcess, signal: NodeJS.Signals): Promise<void> {
  return new Promise((resolve) => {
    if (child.exitCode !== null || child.signalCode !== null) return resolve();
    child.once('exit', () => resolve());
    child.kill(signal);
  });
}

beforeAll(async () => {
  platform = await startPlatform({ services: ['catalog', 'gateway'] });
  dir = await mkdtemp(path.join(tmpdir(), 'pn-audit-'));
}, 120_000);

afterAll(async () => {
  for (const c of children) await killed(c, 'SIGKILL');
  await platform?.stop();
  await rm(dir, { recursive: true, force: true });
});

describe('powernode audit-sink', () => {
  it('writes every event once as a CloudEvents line, across a kill -9 and a torn last line', async () => {
    await registerModule();
    const file = path.join(dir, 'audit.jsonl');
    let sink = powernode(['audit-sink', '--out', file]);
    let head = (await logPositions()).at(-1)!.position;
    await waitUntil(`the file to reach position ${head}`, async () => (await fileLines(file)).at(-1)?.['powernodeposition'] === head, 20_000);

    // Killed while the log goes on; a torn line stands for a write the kill cut short.
    await killed(sink, 'SIGKILL');
    await registerModule();
    await registerModule();
    await appendFile(file, '{"specversion":"1.0","id":"torn');
    sink = powernode(['audit-sink', '--out', file]);
    await registerModule();
    head = (await logPositions()).at(-1)!.position;
    await waitUntil(`the file to reach position ${head}`, async () => (await fileLines(file)).at(-1)?.['powernodeposition'] === head, 20_000);
    await killed(sink, 'SIGTERM');

    const lines = await fileLines(file);
    const log = await logPositions();
    expect(lines.map((l) => l['powernodeposition'])).toEqual(log.map((e) => e.position));
    expect(lines.map((l) => l['id'])).toEqual(log.map((e) => e.id));
    for (const line of lines) {
      expect(line).toMatchObject({ specversion: '1.0', datacontenttype: 'application/json' });
      expect(String(line['type'])).toMatch(/^io\.powernode\.[A-Za-z]+\.v\d+$/);
      expect(String(line['source'])).toMatch(/^\/powernode\/streams\//);
      expect(line['data_withheld']).toBeUndefined();
    }
    const registered = lines.filter((l) => l['type'] === 'io.powernode.ModuleRegistered.v1').map((l) => (l['data'] as { name: string }).name);
    expect(registered).toEqual(expect.arrayContaining(['audited-1', 'audited-2', 'audited-3', 'audited-4']));
  }, 90_000);

  it('refuses a file it did not write, and a bad token, with the reason', async () => {
    const foreign = path.join(dir, 'foreign.jsonl');
    await appendFile(foreign, 'hello\n');
    const refused = powernode(['audit-sink', '--out', foreign]);
    const stderr: string[] = [];
    createInterface({ input: refused.stderr! }).on('line', (l) => stderr.push(l));
    const code = await new Promise<number | null>((r) => refused.once('exit', r));
    expect(code).toBe(1);
    expect(stderr.join('\n')).toContain('not an audit file this command wrote');
    expect(await readFile(foreign, 'utf8')).toBe('hello\n');

    const unauthenticated = powernode(['audit-sink'], { POWERNODE_TOKEN: 'pn_not_a_token_at_all_0000' });
    const errors: string[] = [];
    createInterface({ input: unauthenticated.stderr! }).on('line', (l) => errors.push(l));
    expect(await new Promise<number | null>((r) => unauthenticated.once('exit', r))).toBe(1);
    expect(errors.join('\n')).toMatch(/unauthenticated/);
  }, 30_000);
});

describe('powernode events --follow', () => {
  it('prints each event appended after it started, as it comes, and resumes from --from', async () => {
    const before = (await logPositions()).at(-1)!.position;
    const follower = powernode(['events', '--follow']);
    const seen: { position: number; type: string; data: { name?: string } | null }[] = [];
    createInterface({ input: follower.stdout! }).on('line', (l) => seen.push(JSON.parse(l)));
    const notes: string[] = [];
    createInterface({ input: follower.stderr! }).on('line', (l) => notes.push(l));
    // The stream starts at the head: wait until it says it is open before the change it should show.
    await waitUntil('the follower to open the stream', () => notes.some((l) => l.startsWith('powernode: following the event log after position')), 30_000);
    await registerModule();
    await waitUntil('the new module registered', () => seen.some((e) => e.type === 'ModuleRegistered' && e.data?.name === `audited-${modules}`), 15_000);
    expect(seen.every((e) => e.position > before)).toBe(true);
    await killed(follower, 'SIGINT');

    const replay = powernode(['events', '--follow', '--from', String(before)]);
    const replayed: { position: number }[] = [];
    createInterface({ input: replay.stdout! }).on('line', (l) => replayed.push(JSON.parse(l)));
    const head = (await logPositions()).at(-1)!.position;
    await waitUntil('the replay to reach the head', () => replayed.at(-1)?.position === head, 15_000);
    expect(replayed.map((e) => e.position)).toEqual((await logPositions()).filter((e) => e.position > before).map((e) => e.position));
    await killed(replay, 'SIGINT');
  }, 60_000);
});
