import { lstat, mkdir, readdir, readFile, readlink, rm, writeFile } from 'node:fs/promises';
import path from 'node:path';
import fc from 'fast-check';
import { PowernodeError } from '@powernode/contracts';
import { modulePathOfTarName } from '@powernode/artifact';
import { composeRoot } from '../src/root-composition.js';
import { ensureLayerTree } from '../src/stacked-root.js';
import type { VerifiedModule } from '../src/desired-module-pull.js';
import { craftedModule, type CraftedEntry } from './crafted-layers.test-support.js';
import { freshDir } from './module-artifacts.test-support.js';

/*
 * Composing never reaches outside the root it builds: whatever layers ship (a directory that a later layer
 * turns into a symlink to a host directory, in the same layer or a higher one), no mode, owner, time or
 * content outside the root changes. `ctime` changes with any metadata operation (chmod, chown, utimes,
 * xattrs), so an unchanged ctime covers them all.
 */

let workDir: string;
let serial = 0;

beforeAll(async () => {
  workDir = await freshDir('confine');
});

afterAll(async () => {
  await rm(workDir, { recursive: true, force: true });
});

/** Everything below `dir` (itself included): path → type, mode, owner, mtime, ctime, symlink target or content. */
async function snapshot(dir: string): Promise<Map<string, string>> {
  const out = new Map<string, string>();
  const walk = async (at: string): Promise<void> => {
    const stats = await lstat(at);
    const what = stats.isSymbolicLink() ? `-> ${await readlink(at)}` : stats.isFile() ? await readFile(at, 'utf8') : '';
    out.set(path.relative(dir, at) || '.', `${stats.mode.toString(8)} ${stats.uid}:${stats.gid} m${stats.mtimeMs} c${stats.ctimeMs} ${what}`);
    if (stats.isDirectory()) for (const child of (await readdir(at)).sort()) await walk(path.join(at, child));
  };
  await walk(dir);
  return out;
}

/** A user only the host directory's passwd has: found in a composed root, it was read from outside. */
const HOST_MARKER = 'hostonly';

/** The regular files below `dir` (never following a symlink) whose content has `marker`. */
async function filesContaining(dir: string, marker: string): Promise<string[]> {
  const found: string[] = [];
  const walk = async (at: string): Promise<void> => {
    const stats = await lstat(at).catch(() => undefined);
    if (stats?.isFile() === true && (await readFile(at, 'utf8')).includes(marker)) found.push(at);
    if (stats?.isDirectory() === true) for (const child of await readdir(at)) await walk(path.join(at, child));
  };
  await walk(dir);
  return found;
}

/** A host directory a layer could point at: a directory with a file and a subdirectory. */
async function hostDirectory(): Promise<string> {
  return hostDirectoryAt(path.join(workDir, `host-${serial++}`));
}

async function hostDirectoryAt(host: string): Promise<string> {
  await mkdir(path.join(host, 'ssh'), { recursive: true, mode: 0o755 });
  await writeFile(path.join(host, 'ssh', 'authorized_keys'), 'host key\n', { mode: 0o600 });
  await writeFile(path.join(host, 'passwd'), `${HOST_MARKER}:x:4242:4242::/:/bin/false\n`, { mode: 0o644 });
  return host;
}

async function module(name: string, entries: readonly CraftedEntry[], options: Parameters<typeof craftedModule>[3]): Promise<VerifiedModule> {
  return craftedModule(path.join(workDir, `layer-${serial++}-${name}`), name, entries, options);
}

const sshDirectory: CraftedEntry[] = [
  { type: 'directory', name: 'x', mode: 0o755 },
  { type: 'directory', name: 'x/ssh', mode: 0o777, uid: 1234, gid: 1234 },
  { type: 'file', name: 'x/ssh/authorized_keys', mode: 0o666, uid: 1234, gid: 1234, content: 'module key\n' },
];

describe('composing never changes anything outside the root', () => {
  for (const [label, target] of [
    ['an absolute symlink', (host: string) => host],
    ['a relative symlink', (host: string, root: string) => path.relative(root, host)],
  ] as const) {
    it(`a higher layer turns a lower layer's directory parent into ${label} to a host directory: its modes stay in the root`, async () => {
      const host = await hostDirectory();
      const before = await snapshot(host);
      const low = await module('low', sshDirectory, { priority: 1000 });
      const root = path.join(workDir, 'roots', `r${serial++}`);
      const high = await module('high', [{ type: 'symlink', name: 'x', target: target(host, root) }], { priority: 2000 });
      await composeRoot(root, [low, high]);
      expect((await lstat(path.join(root, 'x'))).isSymbolicLink()).toBe(true);
      expect(await snapshot(host)).toEqual(before);
    });
  }

  it('the same layer lists a directory below a path it then ships as a symlink: copied and stacked extraction leave the host alone', async () => {
    const host = await hostDirectory();
    const before = await snapshot(host);
    const layer = await module('self', [...sshDirectory.slice(1), { type: 'symlink', name: 'x', target: host }], { priority: 1000 });
    await composeRoot(path.join(workDir, 'roots', `r${serial++}`), [layer]);
    const tree = await ensureLayerTree(path.join(workDir, `cache-${serial++}`), layer);
    expect(await readlink(path.join(tree, 'x'))).toBe(host);
    expect(await snapshot(host)).toEqual(before);
  });

  it('a directory replaced by a file keeps no recorded mode: what is later made there is not chmodded either', async () => {
    const low = await module('low', sshDirectory, { priority: 1000 });
    const high = await module('high', [{ type: 'file', name: 'x', mode: 0o644, content: 'a file now\n' }], { priority: 2000 });
    const root = path.join(workDir, 'roots', `r${serial++}`);
    await composeRoot(root, [low, high]);
    expect((await lstat(path.join(root, 'x'))).isFile()).toBe(true);
  });

  it('merged shared databases are not written through a symlink a higher layer put on their directory', async () => {
    const host = await hostDirectory();
    const before = await snapshot(host);
    const passwd = (user: string, id: number): CraftedEntry[] => [
      { type: 'directory', name: 'etc', mode: 0o755 },
      { type: 'file', name: 'etc/passwd', mode: 0o644, content: `${user}:x:${id}:${id}::/home/${user}:/bin/sh\n` },
    ];
    const a = await module('a', passwd('alice', 1000), { priority: 1000 });
    const b = await module('b', passwd('bob', 1001), { priority: 1100 });
    const planter = await module('planter', [{ type: 'symlink', name: 'etc', target: host }], { priority: 2000 });
    await expect(composeRoot(path.join(workDir, 'roots', `r${serial++}`), [a, b, planter])).rejects.toMatchObject({
      code: 'compose_failed',
      details: { path: '/etc/passwd' },
    });
    expect(await snapshot(host)).toEqual(before);
  });

  it('a shared database a higher layer turned into a directory is refused by name (compose_failed), never an untyped EISDIR', async () => {
    const passwd = (user: string, id: number): CraftedEntry[] => [
      { type: 'directory', name: 'etc', mode: 0o755 },
      { type: 'file', name: 'etc/passwd', mode: 0o644, content: `${user}:x:${id}:${id}::/home/${user}:/bin/sh\n` },
    ];
    const a = await module('a', passwd('alice', 1000), { priority: 1000 });
    const b = await module('b', passwd('bob', 1001), { priority: 1100 });
    const directory = await module('directory', [{ type: 'directory', name: 'etc/passwd', mode: 0o755 }], { priority: 2000 });
    await expect(composeRoot(path.join(workDir, 'roots', `r${serial++}`), [a, b, directory])).rejects.toMatchObject({
      code: 'compose_failed',
      details: { rule: 'not_a_file', path: '/etc/passwd' },
    });
  });

  it('shared databases are not read through a symlink the same layer put on their directory (a host /etc/shadow never reaches the root)', async () => {
    const host = await hostDirectory();
    const leaky = await module(
      'leaky',
      [
        { type: 'file', name: 'etc/passwd', mode: 0o644, content: 'leaky:x:1000:1000::/:/bin/sh\n' },
        { type: 'symlink', name: 'etc', target: host },
      ],
      { priority: 1000 },
    );
    const high = await module(
      'high',
      [
        { type: 'directory', name: 'etc', mode: 0o755 },
        { type: 'file', name: 'etc/passwd', mode: 0o644, content: 'high:x:1001:1001::/:/bin/sh\n' },
      ],
      { priority: 2000 },
    );
    const root = path.join(workDir, 'roots', `r${serial++}`);
    const composed = await composeRoot(root, [leaky, high]).catch((error: unknown) => error);
    expect(composed).toMatchObject({ code: 'compose_failed', details: { rule: 'root_confinement', path: '/etc/passwd', offending: '/etc' } });
  });

  it('service units are not written through a symlinked /etc/systemd', async () => {
    const host = await hostDirectory();
    const before = await snapshot(host);
    const planter = await module(
      'planter',
      [
        { type: 'directory', name: 'etc', mode: 0o755 },
        { type: 'symlink', name: 'etc/systemd', target: host },
      ],
      { priority: 1000, services: [{ name: 'web', start_command: '/usr/bin/web' }] },
    );
    await expect(composeRoot(path.join(workDir, 'roots', `r${serial++}`), [planter])).rejects.toMatchObject({ code: 'compose_failed' });
    expect(await snapshot(host)).toEqual(before);
  });
});

/*
 * The same promise over generated layers: any sequence of directories, files and symlinks (names with `..`,
 * `.`, absolute or repeated; symlinks to the host directory, to its parent, to `/`, relative or absolute; any
 * mode, set-id bits included) composed in any number of layers, copied or extracted per tree. Composing may
 * refuse; it never changes anything outside the root. Bounded: a fixed number of runs and a time budget.
 */
describe('generated layers never reach outside the root (property)', () => {
  // Mostly names the reader accepts (a layer with one bad name is refused whole), a few it must refuse.
  const component = fc.oneof(
    { arbitrary: fc.constantFrom('x', 'ssh', 'etc'), weight: 4 },
    { arbitrary: fc.constant('passwd'), weight: 2 },
    { arbitrary: fc.constantFrom('systemd', 'system'), weight: 1 },
  );
  const spelled = (parts: fc.Arbitrary<string[]>): fc.Arbitrary<string> =>
    fc.tuple(fc.boolean(), parts).map(([absolute, list]) => `${absolute ? '/' : ''}${list.join('/')}`);
  const spelledPath = (tarName: string): string => tarName.replace(/^\/+|\/+$/g, '');
  // Paths composing itself writes to or reads from, and their parents, come up often.
  const known = fc.constantFrom('x', 'x/ssh', 'x/ssh/k', 'etc', 'etc/passwd', 'etc/systemd', 'etc/systemd/system');
  const name = fc.oneof(
    { arbitrary: known, weight: 20 },
    { arbitrary: spelled(fc.array(component, { minLength: 1, maxLength: 3 })), weight: 20 },
    { arbitrary: spelled(fc.array(fc.oneof(component, fc.constantFrom('..', '.')), { minLength: 1, maxLength: 4 })), weight: 1 },
  );
  const owner = fc.constantFrom(0, 1234);
  const climb = (levels: number): string => `${'../'.repeat(levels)}host`;
  const targets = (host: string): fc.Arbitrary<string> =>
    fc.oneof(
      { arbitrary: fc.constantFrom(host, climb(3)), weight: 2 },
      { arbitrary: fc.constantFrom(path.join(host, 'ssh'), '..', '../..', climb(4), climb(5), climb(6), '/', 'x', 'ssh/../..', '.'), weight: 1 },
    );
  const entry = (host: string): fc.Arbitrary<CraftedEntry> =>
    fc.oneof(
      fc.record({ type: fc.constant('directory' as const), name, mode: fc.constantFrom(0o755, 0o777, 0o700, 0o2775, 0o1777), uid: owner, gid: owner }),
      fc.record({
        type: fc.constant('file' as const),
        name,
        mode: fc.constantFrom(0o644, 0o666, 0o4755, 0o600),
        uid: owner,
        gid: owner,
        content: fc.constantFrom('', 'alice:x:1000:1000::/:/bin/sh\n', 'bob:x:1001:1001::/:/bin/sh\n', 'data\n'),
      }),
      fc.record({ type: fc.constant('symlink' as const), name, target: targets(host), uid: owner, gid: owner }),
    );

  // The class of the known escapes: something below a path, then that path turned into a symlink.
  const replacedParent = (host: string): fc.Arbitrary<CraftedEntry[]> =>
    fc
      .tuple(fc.oneof(fc.constantFrom('x', 'etc', 'etc/systemd'), spelled(fc.array(component, { minLength: 1, maxLength: 2 }))), entry(host), targets(host))
      .map(([parent, below, target]) => [
        { ...below, name: `${parent}/${below.name.replace(/^\/+/, '')}` },
        { type: 'symlink' as const, name: parent, target },
      ]);
  const layerEntries = (host: string): fc.Arbitrary<CraftedEntry[]> =>
    fc
      .tuple(
        // Often a shared database first, which composing reads back and merges with other layers' copies.
        fc.option(
          fc.constantFrom<CraftedEntry>(
            { type: 'file', name: 'etc/passwd', mode: 0o644, content: 'alice:x:1000:1000::/:/bin/sh\n' },
            { type: 'file', name: 'etc/passwd', mode: 0o644, content: 'bob:x:1001:1001::/:/bin/sh\n' },
          ),
          { nil: undefined },
        ),
        fc.array(fc.oneof({ arbitrary: entry(host).map((one) => [one]), weight: 3 }, { arbitrary: replacedParent(host), weight: 1 }), {
          minLength: 1,
          maxLength: 6,
        }),
      )
      // A path listed twice makes the whole layer refused: keep the first, so most layers get composed.
      .map(([database, parts]) =>
        [...(database === undefined ? [] : [database]), ...parts.flat()].filter(
          (one, index, all) => all.findIndex((other) => spelledPath(other.name) === spelledPath(one.name)) === index,
        ),
      );

  it('copied roots and per-layer trees: nothing outside the root is written, chmodded, chowned, linked or read into it', async () => {
    // sandbox/host is what layers aim at; each run composes in sandbox/runs/<run>/root and its cache beside it.
    const sandbox = path.join(workDir, 'property');
    const host = path.join(sandbox, 'host');
    await mkdir(path.join(sandbox, 'runs'), { recursive: true });
    let run = 0;
    await fc.assert(
      fc.asyncProperty(
        fc.array(
          fc.record({
            entries: layerEntries(host),
            priority: fc.integer({ min: 0, max: 3 }),
            services: fc.oneof({ arbitrary: fc.constant(false), weight: 3 }, { arbitrary: fc.constant(true), weight: 1 }),
          }),
          { minLength: 1, maxLength: 3 },
        ),
        async (layers) => {
          const runDir = path.join(sandbox, 'runs', `run-${run++}`);
          await mkdir(runDir, { recursive: true });
          // Afresh each run, so a failing run does not taint the next (and shrinking finds the real culprit).
          await rm(host, { recursive: true, force: true });
          await hostDirectoryAt(host);
          const before = await snapshot(host);
          try {
            const modules = await Promise.all(
              layers.map((layer, index) =>
                craftedModule(path.join(runDir, `layer-${index}`), `m${index}`, layer.entries, {
                  priority: layer.priority,
                  services: layer.services ? [{ name: 'web', start_command: '/usr/bin/web' }] : [],
                }),
              ),
            );
            await composeRoot(path.join(runDir, 'root'), modules).catch(expectRefusal);
            for (const module of modules) await ensureLayerTree(path.join(runDir, 'cache'), module).catch(expectRefusal);
            expect(await snapshot(host)).toEqual(before);
            // Nothing appeared beside the roots either (a `..` that climbed out of one).
            expect((await readdir(sandbox)).sort()).toEqual(['host', 'runs']);
            expect((await readdir(path.join(sandbox, 'runs'))).sort()).toEqual([`run-${run - 1}`]);
            expect((await readdir(runDir)).filter((child) => !/^(root|cache|layer-\d+)$/.test(child))).toEqual([]);
            // Nor was anything read from outside into the root.
            expect(await filesContaining(path.join(runDir, 'root'), HOST_MARKER)).toEqual([]);
          } finally {
            await rm(runDir, { recursive: true, force: true });
          }
        },
      ),
      { numRuns: 80, interruptAfterTimeLimit: 30_000 },
    );
  }, 120_000);

  it('the tar reader gives every name it accepts as an absolute path with no `..`, `.` or empty component', () => {
    const piece = fc.constantFrom('a', 'b', '..', '.', '', '/', './', '../', '//');
    fc.assert(
      fc.property(
        fc.array(piece, { maxLength: 8 }).map((pieces) => pieces.join('')),
        (tarName) => {
          let modulePath: string;
          try {
            modulePath = modulePathOfTarName(tarName);
          } catch (error) {
            return error instanceof PowernodeError && error.code === 'manifest_invalid';
          }
          return (
            modulePath === '/' ||
            (modulePath.startsWith('/') &&
              modulePath
                .slice(1)
                .split('/')
                .every((part) => part !== '' && part !== '.' && part !== '..'))
          );
        },
      ),
      { numRuns: 500 },
    );
  });
});

/** A refusal is allowed (a bad archive, a symlink on the way); a crash of another kind is not. */
function expectRefusal(error: unknown): void {
  if (!(error instanceof PowernodeError)) throw error;
}
