import { copyFile, lstat, mkdir, readdir, readFile, readlink, rm, symlink, writeFile } from 'node:fs/promises';
import path from 'node:path';
import type { AgentDesiredModule } from '@powernode/contracts';
import { buildModuleArtifact, parseComposefsDescription, type BuiltModuleArtifact } from '@powernode/artifact';
import { composeRoot, compositionOrder, describeComposedRoot } from '../src/root-composition.js';
import type { VerifiedModule } from '../src/desired-module-pull.js';
import { isMissingCachedLayer } from '../src/layer-extraction.js';
import { runHostCommand, unmount } from '../src/host-commands.js';
import { composeStackedRoot, describeStackedRoot, readStack, stackLowers } from '../src/stacked-root.js';
import { findExecutableInRoot, resolveFileInRoot } from '../src/executable-lookup.js';
import { freshDir, writeModuleDir, type ModuleSpec } from './module-artifacts.test-support.js';
import { craftedModule, type CraftedEntry } from './crafted-layers.test-support.js';

let workDir: string;
const builds: BuiltModuleArtifact[] = [];

beforeAll(async () => {
  workDir = await freshDir('compose');
});

afterAll(async () => {
  for (const built of builds) await built.dispose();
  await rm(workDir, { recursive: true, force: true });
});

/** Builds a module and presents it as the pull would: verified, with its tree layer file and description. */
async function verifiedModule(
  spec: ModuleSpec,
  desired: { priority: number; effective_mask?: string[] },
  symlinks: Record<string, string> = {},
): Promise<VerifiedModule> {
  const dir = await writeModuleDir(path.join(workDir, `${spec.name}-${builds.length}`), spec);
  for (const [modulePath, target] of Object.entries(symlinks)) {
    await mkdir(path.dirname(path.join(dir, 'rootfs', modulePath)), { recursive: true });
    await symlink(target, path.join(dir, 'rootfs', modulePath));
  }
  const built = await buildModuleArtifact({ dir, version: spec.version, sourceDateEpoch: 1_700_000_000 });
  builds.push(built);
  const tree = built.manifest.layers[0]!;
  const entries = parseComposefsDescription(built.blobs.get(built.composefsDigest)!.bytes!).entries.filter((entry) => entry.path !== '/');
  const desiredModule: AgentDesiredModule = {
    module_name: spec.name,
    version_id: spec.name,
    version_string: spec.version,
    oci_ref: `127.0.0.1:5000/test/${spec.name}:${spec.version}`,
    oci_digest: built.manifestDigest,
    composefs_digest: built.composefsDigest,
    priority: desired.priority,
    effective_mask: desired.effective_mask ?? [],
    init: { start: null, stop: null, restart: null },
  };
  // A private copy of the layer, as the cache would hold it (tests alter it).
  const layerPath = path.join(workDir, `layer-${builds.length}-${tree.digest.slice(7, 19)}`);
  await copyFile(built.blobs.get(tree.digest)!.path, layerPath);
  return {
    desired: desiredModule,
    manifestDigest: built.manifestDigest,
    composefsDigest: built.composefsDigest,
    rootHash: built.rootHash,
    treeLayer: tree,
    treeLayerPath: layerPath,
    entries,
    services: built.moduleManifest.services ?? [],
  };
}

async function exists(file: string): Promise<boolean> {
  return lstat(file).then(
    () => true,
    () => false,
  );
}

describe('composing a root from verified layers', () => {
  it('orders layers by priority, then name, whatever order the platform listed them in', () => {
    const m = (module_name: string, priority: number) => ({ desired: { module_name, priority } });
    expect(compositionOrder([m('z', 5), m('b', 1), m('a', 5), m('c', 3)]).map((x) => x.desired.module_name)).toEqual(['b', 'c', 'a', 'z']);
  });

  it('lays higher priorities over lower ones and applies each module its own effective mask (anchored, unanchored, directory)', async () => {
    const low = await verifiedModule(
      { name: 'low', version: '1.0.0', files: { '/etc/shared.conf': 'low\n', '/etc/low.conf': 'low\n', '/var/cache/app/index': 'low cache\n' } },
      { priority: 1000 },
    );
    const high = await verifiedModule(
      {
        name: 'high',
        version: '1.0.0',
        files: {
          '/etc/shared.conf': 'high\n',
          '/etc/high.key': 'secret\n',
          '/etc/notes.tmp': 'cruft\n',
          '/var/cache/app/more': 'high cache\n',
          '/usr/bin/tool': 'tool\n',
        },
      },
      { priority: 2000, effective_mask: ['/etc/high.key', '*.tmp', '/var/cache/app/'] },
    );
    const root = path.join(workDir, 'root-priority');
    const composed = await composeRoot(root, [high, low]);
    expect(await readFile(path.join(root, 'etc/shared.conf'), 'utf8')).toBe('high\n');
    expect(await readFile(path.join(root, 'etc/low.conf'), 'utf8')).toBe('low\n');
    expect(await exists(path.join(root, 'etc/high.key'))).toBe(false);
    expect(await exists(path.join(root, 'etc/notes.tmp'))).toBe(false);
    // high's masked directory is skipped with its content; low's copy of the directory stays.
    expect(await readFile(path.join(root, 'var/cache/app/index'), 'utf8')).toBe('low cache\n');
    expect(await exists(path.join(root, 'var/cache/app/more'))).toBe(false);
    expect(composed.masked['high']).toEqual(expect.arrayContaining(['/etc/high.key', '/etc/notes.tmp', '/var/cache/app', '/var/cache/app/more']));
    expect(composed.masked['low']).toEqual([]);
    // Modes come from the archive; the mount-point skeleton is added.
    expect((await lstat(path.join(root, 'usr/bin/tool'))).mode & 0o7777).toBe(0o644);
    expect((await lstat(path.join(root, 'tmp'))).mode & 0o7777).toBe(0o1777);
    expect(composed.rootHash).toBe((await describeComposedRoot(root)).rootHash);

    // Same layers in the other listed order: the same tree, the same hash.
    const again = await composeRoot(path.join(workDir, 'root-priority-again'), [low, high]);
    expect(again.rootHash).toBe(composed.rootHash);
  });

  it('never writes through a symlink a lower layer planted: the upper layer replaces it inside the root', async () => {
    const outside = path.join(workDir, 'outside');
    await mkdir(outside, { recursive: true });
    await writeFile(path.join(outside, 'passwd'), 'host passwd\n');
    const low = await verifiedModule(
      { name: 'planter', version: '1.0.0', files: {} },
      { priority: 1000 },
      { '/etc/conf.d': outside, '/etc/passwd': path.join(outside, 'passwd') },
    );
    const high = await verifiedModule(
      { name: 'writer', version: '1.0.0', files: { '/etc/conf.d/x.conf': 'x\n', '/etc/passwd': 'root:x:0:0\n' } },
      { priority: 2000 },
    );
    const root = path.join(workDir, 'root-symlinks');
    await composeRoot(root, [low, high]);
    expect((await lstat(path.join(root, 'etc/conf.d'))).isDirectory()).toBe(true);
    expect(await readFile(path.join(root, 'etc/conf.d/x.conf'), 'utf8')).toBe('x\n');
    expect((await lstat(path.join(root, 'etc/passwd'))).isFile()).toBe(true);
    expect(await readFile(path.join(outside, 'passwd'), 'utf8')).toBe('host passwd\n');
    expect(await exists(path.join(outside, 'x.conf'))).toBe(false);

    // Alone, the planter's symlinks are composed as symlinks (they point nowhere useful inside the root).
    const alone = path.join(workDir, 'root-planter');
    await composeRoot(alone, [low]);
    expect(await readlink(path.join(alone, 'etc/conf.d'))).toBe(outside);
  });

  it('verifies the cached layer again while extracting: a file altered after the pull ⇒ fsverity_mismatch naming it', async () => {
    const module = await verifiedModule({ name: 'victim', version: '1.0.0', files: { '/etc/victim.conf': 'protected-mode yes\n' } }, { priority: 1000 });
    const layer = await readFile(module.treeLayerPath);
    const at = layer.indexOf('protected-mode yes');
    layer.write('protected-mode no!', at);
    await writeFile(module.treeLayerPath, layer);
    await expect(composeRoot(path.join(workDir, 'root-tampered'), [module])).rejects.toMatchObject({
      code: 'fsverity_mismatch',
      message: expect.stringMatching(/^fsverity verification failed: \/etc\/victim\.conf /),
    });
  });

  it('verifies the whole archive: bytes appended after the end marker ⇒ digest_mismatch', async () => {
    const module = await verifiedModule({ name: 'appended', version: '1.0.0', files: { '/etc/a.conf': 'a\n' } }, { priority: 1000 });
    await writeFile(module.treeLayerPath, Buffer.concat([await readFile(module.treeLayerPath), Buffer.alloc(512, 1)]));
    await expect(composeRoot(path.join(workDir, 'root-appended'), [module])).rejects.toMatchObject({
      code: 'digest_mismatch',
      message: expect.stringContaining(module.treeLayer.digest),
    });
  });

  it('refuses a layer that lacks an entry its description lists', async () => {
    const full = await verifiedModule({ name: 'full', version: '1.0.0', files: { '/etc/a.conf': 'a\n', '/etc/b.conf': 'b\n' } }, { priority: 1000 });
    const partial = await verifiedModule({ name: 'full', version: '1.0.0', files: { '/etc/a.conf': 'a\n' } }, { priority: 1000 });
    // The layer of the smaller tree presented with the description (and digest) of the bigger one.
    const mixed: VerifiedModule = { ...full, treeLayerPath: partial.treeLayerPath, treeLayer: partial.treeLayer };
    await expect(composeRoot(path.join(workDir, 'root-missing'), [mixed])).rejects.toMatchObject({
      code: 'fsverity_mismatch',
      message: expect.stringMatching(/^fsverity verification failed: \/etc\/b\.conf \(module full, presence: expected present, got missing\)/),
    });
  });

  it('a cached layer that disappeared after its pull is not_found (retryable, naming module and blob), so the agent pulls it again', async () => {
    const module = await verifiedModule({ name: 'collected', version: '1.0.0', files: { '/etc/a.conf': 'a\n' } }, { priority: 1000 });
    await rm(module.treeLayerPath);
    const failure = await composeRoot(path.join(workDir, 'root-collected'), [module]).then(
      () => undefined,
      (error: unknown) => error,
    );
    expect(isMissingCachedLayer(failure)).toBe(true);
    expect(failure).toMatchObject({
      code: 'not_found',
      retryable: true,
      details: { module_name: 'collected', blob: module.treeLayer.digest },
      message: expect.stringContaining('disappeared from the artifact cache after it was verified'),
    });
    // Any other failure is not mistaken for a missing layer.
    await writeFile(module.treeLayerPath, Buffer.alloc(1024));
    const other = await composeRoot(path.join(workDir, 'root-collected-2'), [module]).then(
      () => undefined,
      (error: unknown) => error,
    );
    expect(other).toBeDefined();
    expect(isMissingCachedLayer(other)).toBe(false);
  });

  it('refuses an effective mask that is not a valid glob, naming the module and pattern', async () => {
    const module = await verifiedModule({ name: 'masked', version: '1.0.0', files: { '/etc/a.conf': 'a\n' } }, { priority: 1000, effective_mask: ['/etc/[a'] });
    await expect(composeRoot(path.join(workDir, 'root-bad-mask'), [module])).rejects.toMatchObject({
      code: 'validation_failed',
      message: expect.stringMatching(/^module masked: effective_mask\[0\] "\/etc\/\[a"/),
    });
  });
});

const asRoot = process.getuid?.() === 0 ? describe : describe.skip;

asRoot('a stacked root (machines; needs root for overlayfs)', () => {
  /** The slow ground truth: every file of a read-only overlay of the stack, hashed. */
  async function hashOfMountedStack(rootDir: string): Promise<string> {
    const stack = (await readStack(rootDir))!;
    const view = path.join(workDir, `view-${Math.random().toString(16).slice(2)}`);
    await mkdir(view);
    const lowers = stackLowers(rootDir, stack).join(':');
    expect((await runHostCommand(['mount', '-t', 'overlay', 'overlay', '-o', `ro,lowerdir=${lowers}`, view], 30_000)).code).toBe(0);
    try {
      return (await describeComposedRoot(view)).rootHash;
    } finally {
      await unmount(view);
    }
  }

  it("computes its root hash from the trees' verified records and top/: the same hash as reading every file of the mount", async () => {
    const low = await verifiedModule(
      {
        name: 'stack-low',
        version: '1.0.0',
        files: { '/etc/shared.conf': 'low\n', '/etc/low.conf': 'low\n', '/etc/passwd': 'root:x:0:0:root:/root:/bin/sh\n', '/usr/lib/a.so': 'a\n' },
      },
      { priority: 1000 },
    );
    const high = await verifiedModule(
      {
        name: 'stack-high',
        version: '1.0.0',
        files: {
          '/etc/shared.conf': 'high, and longer\n',
          '/etc/passwd': 'root:x:0:0:root:/root:/bin/sh\nredis:x:100:101::/var/lib/redis:/usr/sbin/nologin\n',
          '/etc/high.key': 'secret\n',
        },
      },
      { priority: 2000, effective_mask: ['/etc/high.key'] },
      // A symlink where the lower layer has a directory: what that directory held is hidden.
      { '/usr/lib': '/opt/lib' },
    );
    const cache = path.join(workDir, 'stack-cache');
    const rootDir = path.join(workDir, 'stack-root');
    const composed = await composeStackedRoot(rootDir, [high, low], cache);
    // The merged /etc/passwd went to top/; the other files are read from the trees' records.
    expect(await readFile(path.join(rootDir, 'top/etc/passwd'), 'utf8')).toContain('redis:x:100');
    expect(composed.rootHash).toBe(await hashOfMountedStack(rootDir));
    expect((await describeStackedRoot(rootDir, (await readStack(rootDir))!)).rootHash).toBe(composed.rootHash);

    // A tree extracted before records were kept is hashed file by file: still the same answer.
    const stack = (await readStack(rootDir))!;
    for (const tree of stack.trees) await rm(path.join(path.dirname(tree), 'entries.json'), { force: true });
    expect((await describeStackedRoot(rootDir, stack)).rootHash).toBe(composed.rootHash);
  });

  it('sees a change made to top/ after composition: the resumed hash no longer matches', async () => {
    const only = await verifiedModule({ name: 'stack-only', version: '1.0.0', files: { '/etc/only.conf': 'only\n' } }, { priority: 1000 });
    const rootDir = path.join(workDir, 'stack-root-changed');
    const composed = await composeStackedRoot(rootDir, [only], path.join(workDir, 'stack-cache'));
    await mkdir(path.join(rootDir, 'top/etc'), { recursive: true });
    await writeFile(path.join(rootDir, 'top/etc/only.conf'), 'changed\n');
    expect((await describeStackedRoot(rootDir, (await readStack(rootDir))!)).rootHash).not.toBe(composed.rootHash);
  });

  it("writes merged databases and units through its overlay view only inside the root: a layer's /etc symlink to the host is refused", async () => {
    const host = path.join(workDir, 'stack-host-etc');
    await mkdir(host, { recursive: true });
    await writeFile(path.join(host, 'passwd'), 'root:x:0:0:root:/root:/bin/sh\n');
    const passwd = (user: string, id: number): CraftedEntry[] => [
      { type: 'directory', name: 'etc', mode: 0o755 },
      { type: 'file', name: 'etc/passwd', mode: 0o644, content: `${user}:x:${id}:${id}::/home/${user}:/bin/sh\n` },
    ];
    const a = await craftedModule(path.join(workDir, 'stack-crafted-a'), 'stack-a', passwd('alice', 1000), { priority: 1000 });
    const b = await craftedModule(path.join(workDir, 'stack-crafted-b'), 'stack-b', passwd('bob', 1001), { priority: 1100 });
    const planter = await craftedModule(path.join(workDir, 'stack-crafted-planter'), 'stack-planter', [{ type: 'symlink', name: 'etc', target: host }], {
      priority: 2000,
      services: [{ name: 'web', start_command: '/usr/bin/web' }],
    });
    await expect(composeStackedRoot(path.join(workDir, 'stack-root-planted'), [a, b, planter], path.join(workDir, 'stack-cache'))).rejects.toMatchObject({
      code: 'compose_failed',
      details: { rule: 'root_confinement', offending: '/etc' },
    });
    expect(await readdir(host)).toEqual(['passwd']);
    expect(await readFile(path.join(host, 'passwd'), 'utf8')).toBe('root:x:0:0:root:/root:/bin/sh\n');
  });

  it('reads no shared database through a symlink a tree ships on its directory: a host file never reaches top/', async () => {
    const host = path.join(workDir, 'stack-host-etc-read');
    await mkdir(host, { recursive: true });
    await writeFile(path.join(host, 'passwd'), 'hostonly:x:4242:4242::/:/bin/false\n');
    const leaky = await craftedModule(
      path.join(workDir, 'stack-crafted-leaky'),
      'stack-leaky',
      [
        { type: 'file', name: 'etc/passwd', mode: 0o644, content: 'leaky:x:1000:1000::/:/bin/sh\n' },
        { type: 'symlink', name: 'etc', target: host },
      ],
      { priority: 1000 },
    );
    const high = await craftedModule(
      path.join(workDir, 'stack-crafted-high'),
      'stack-high-passwd',
      [
        { type: 'directory', name: 'etc', mode: 0o755 },
        { type: 'file', name: 'etc/passwd', mode: 0o644, content: 'high:x:1001:1001::/:/bin/sh\n' },
      ],
      { priority: 2000 },
    );
    const rootDir = path.join(workDir, 'stack-root-leaky');
    await expect(composeStackedRoot(rootDir, [leaky, high], path.join(workDir, 'stack-cache'))).rejects.toMatchObject({
      code: 'compose_failed',
      details: { rule: 'root_confinement', path: '/etc/passwd', offending: '/etc' },
    });
  });
});

describe('finding a program inside a composed root', () => {
  it('follows symlinks as the root sees them and never leaves the root', async () => {
    const root = path.join(workDir, 'lookup-root');
    await mkdir(path.join(root, 'usr/bin'), { recursive: true });
    await mkdir(path.join(root, 'etc'), { recursive: true });
    await writeFile(path.join(root, 'usr/bin/real'), 'x', { mode: 0o755 });
    await writeFile(path.join(root, 'usr/bin/data'), 'x', { mode: 0o644 });
    await symlink('usr/bin', path.join(root, 'bin'));
    await symlink('/usr/bin/real', path.join(root, 'usr/bin/absolute-link'));
    await symlink('../../../../../../../../usr/bin/real', path.join(root, 'usr/bin/climbing-link'));
    await symlink('/bin/sh', path.join(root, 'usr/bin/host-shell'));
    await symlink('loop-b', path.join(root, 'usr/bin/loop-a'));
    await symlink('loop-a', path.join(root, 'usr/bin/loop-b'));
    expect(await findExecutableInRoot(root, 'real')).toBe('/usr/bin/real');
    expect(await findExecutableInRoot(root, '/bin/real')).toBe('/bin/real');
    expect(await findExecutableInRoot(root, 'absolute-link')).toBe('/usr/bin/absolute-link');
    expect(await findExecutableInRoot(root, 'climbing-link')).toBe('/usr/bin/climbing-link');
    // Not executable, pointing at a host file the root does not have, looping, missing.
    expect(await findExecutableInRoot(root, 'data')).toBeUndefined();
    expect(await findExecutableInRoot(root, 'host-shell')).toBeUndefined();
    expect(await findExecutableInRoot(root, 'loop-a')).toBeUndefined();
    expect(await findExecutableInRoot(root, 'systemctl')).toBeUndefined();
    expect(await resolveFileInRoot(root, '/bin/absolute-link')).toMatchObject({ modulePath: '/usr/bin/real' });
  });
});
