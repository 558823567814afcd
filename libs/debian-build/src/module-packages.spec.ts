import { mkdtemp, readdir, rm, symlink } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { buildModuleArtifact, loadModuleManifest, type TreeEntry } from '@powernode/artifact';
import { defaultBuildCacheDir } from './build-cache.js';
import { materialiseModulePackages, type MaterialisedPackages } from './module-packages.js';

/*
 * Real mmdebstrap, real mirror, the shared default cache: a cold run builds the base (about a minute),
 * later runs reuse it and the captured layer. Needs root (mounts, chroot), as module builds do.
 */

const MY_REDIS = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../../examples/my-redis');
// A cold base build takes about a minute alone and several under a loaded 2-core machine (nice 19).
const PACKAGE_BUILD_TIMEOUT_MS = 600_000;
const describeAsRoot = process.getuid?.() === 0 ? describe : describe.skip;

function seconds(since: number): string {
  return `${((Date.now() - since) / 1000).toFixed(1)} s`;
}

describeAsRoot('materialiseModulePackages (mmdebstrap + overlay capture)', () => {
  let redis: MaterialisedPackages;
  let byPath: Map<string, TreeEntry>;
  let out: string;

  beforeAll(async () => {
    out = await mkdtemp(path.join(tmpdir(), 'pn-debian-build-'));
    const started = Date.now();
    redis = await materialiseModulePackages({ manifest: await loadModuleManifest(MY_REDIS) });
    byPath = new Map(redis.packageTree.entries.map((entry) => [entry.path, entry]));
    const bytes = redis.packageTree.entries.reduce((sum, entry) => sum + (entry.type === 'file' ? entry.size : 0), 0);
    console.log(
      `my-redis package layer: ${seconds(started)} (base ${redis.base.key.slice(0, 12)}), ${redis.packageTree.entries.length} entries, ${bytes} bytes of files`,
    );
  }, PACKAGE_BUILD_TIMEOUT_MS);

  afterAll(async () => {
    if (out) await rm(out, { recursive: true, force: true });
  });

  it('captures redis with its real owners and modes, its dpkg status, and no apt or dpkg noise', () => {
    expect(byPath.get('/usr/bin/redis-server')).toMatchObject({ type: 'symlink', linkTarget: 'redis-check-rdb' });
    expect(byPath.get('/usr/bin/redis-check-rdb')).toMatchObject({ type: 'file', mode: 0o755, uid: 0, gid: 0 });
    const redisUid = byPath.get('/etc/redis')!.uid;
    expect(redisUid).toBeGreaterThan(0);
    expect(byPath.get('/var/lib/redis')).toMatchObject({ type: 'directory', uid: redisUid, mode: 0o750 });
    expect(byPath.get('/var/lib/dpkg/status')?.type).toBe('file');
    expect(redis.packageTree.packages.map((pkg) => pkg.name)).toEqual(expect.arrayContaining(['redis-server', 'redis-tools']));
    expect(redis.packageTree.packages.map((pkg) => pkg.name)).not.toContain('systemd');
    const noise = redis.packageTree.entries.filter(
      (entry) =>
        /^\/var\/(lib\/apt\/lists|cache\/apt)\/./.test(entry.path) ||
        /^\/var\/lib\/dpkg\/lock/.test(entry.path) ||
        (/^\/var\/log\/./.test(entry.path) && entry.type !== 'directory'),
    );
    expect(noise).toEqual([]);
  });

  it(
    'builds the same artifact twice from the same inputs',
    async () => {
      const build = (name: string): ReturnType<typeof buildModuleArtifact> =>
        buildModuleArtifact({ dir: MY_REDIS, sourceDateEpoch: 1_700_000_000, packageTree: redis.packageTree, outDir: path.join(out, name) });
      const first = await build('first');
      const started = Date.now();
      const second = await materialiseModulePackages({ manifest: await loadModuleManifest(MY_REDIS) }).then((again) =>
        buildModuleArtifact({ dir: MY_REDIS, sourceDateEpoch: 1_700_000_000, packageTree: again.packageTree, outDir: path.join(out, 'second') }),
      );
      console.log(`my-redis cached rebuild (packages + artifact): ${seconds(started)}, tree layer ${second.manifest.layers[0]!.size} bytes`);
      expect(second.composefsDigest).toBe(first.composefsDigest);
      expect(second.manifestDigest).toBe(first.manifestDigest);
      const described = new Map(second.entries.map((entry) => [entry.path, entry]));
      expect(described.get('/etc/redis/redis.conf')).toMatchObject({ uid: 0, gid: 0, mode: 0o644 });
      expect(described.get('/var/lib/redis')).toMatchObject({ uid: byPath.get('/var/lib/redis')!.uid, mode: 0o750 });
      const sbom = JSON.parse(second.blobs.get(second.manifest.layers[2]!.digest)!.bytes!.toString('utf8')) as { components: Array<{ purl?: string }> };
      expect(sbom.components.map((component) => component.purl)).toContainEqual(
        expect.stringMatching(/^pkg:deb\/debian\/redis-server@.+\?arch=amd64&distro=bookworm$/),
      );
    },
    PACKAGE_BUILD_TIMEOUT_MS,
  );

  it(
    'captures the same layer again after its cache is wiped: same composefs digest',
    async () => {
      // A cache holding only the base (shared with the default cache): the package layer is captured anew.
      const wiped = await mkdtemp(path.join(tmpdir(), 'pn-debian-build-wiped-'));
      try {
        await symlink(path.join(defaultBuildCacheDir(), 'base'), path.join(wiped, 'base'));
        const build = (tree: MaterialisedPackages, name: string): ReturnType<typeof buildModuleArtifact> =>
          buildModuleArtifact({ dir: MY_REDIS, sourceDateEpoch: 1_700_000_000, packageTree: tree.packageTree, outDir: path.join(out, name) });
        const started = Date.now();
        const recaptured = await materialiseModulePackages({ manifest: await loadModuleManifest(MY_REDIS), cacheDir: wiped });
        console.log(`my-redis layer captured again after a cache wipe: ${seconds(started)}`);
        expect((await readdir(path.join(wiped, 'layers'))).length).toBeGreaterThan(0);
        const [before, after] = [await build(redis, 'before-wipe'), await build(recaptured, 'after-wipe')];
        expect(after.composefsDigest).toBe(before.composefsDigest);
        expect(after.manifest.layers[0]!.digest).toBe(before.manifest.layers[0]!.digest);
      } finally {
        await rm(wiped, { recursive: true, force: true });
      }
    },
    PACKAGE_BUILD_TIMEOUT_MS,
  );

  it(
    'refuses a package the distribution lacks with package_unavailable naming it',
    async () => {
      const manifest = { name: 'no-such-package', package_spec: ['powernode-no-such-package'], dependencies: { provides: [] } };
      await expect(materialiseModulePackages({ manifest })).rejects.toMatchObject({
        code: 'package_unavailable',
        message: expect.stringContaining('powernode-no-such-package'),
        details: expect.objectContaining({ packages: ['powernode-no-such-package'], distribution: 'debian/bookworm' }),
      });
    },
    PACKAGE_BUILD_TIMEOUT_MS,
  );
});
