import { createHash } from 'node:crypto';
import { chmod, chown, mkdir, readFile, readdir, rm, symlink, utimes, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { sha256Digest } from '@powernode/oci';
import {
  COMPOSEFS_DESCRIPTION_MEDIA_TYPE,
  CYCLONEDX_SBOM_MEDIA_TYPE,
  MODULE_ARTIFACT_TYPE,
  MODULE_CONFIG_MEDIA_TYPE,
  MODULE_TREE_LAYER_MEDIA_TYPE,
} from './artifact-media-types.js';
import type { ArtifactProgressDetails, ArtifactProgressStep } from './artifact-progress.js';
import { parseComposefsDescription, verifyTreeAgainstDescription } from './composefs-description.js';
import { buildModuleArtifact, normaliseModuleVersion, resolveSourceDateEpoch, type BuiltModuleArtifact } from './module-artifact-build.js';
import {
  EXAMPLE_MODULES_DIR,
  VENDORED_MODULES_DIR,
  copyModule,
  exampleModuleNames,
  exampleModulesSkipReason,
  execFileAsync,
  freshDir,
  writeMyRedisModule,
  writeTrickyTree,
} from './module-fixture.test-support.js';
import { verifyTreeLayer } from './module-artifact-pull.js';
import { writeOciLayout } from './oci-layout.js';
import { describeDirectory } from './tree-on-disk.js';

let workDir: string;

beforeAll(async () => {
  workDir = await freshDir('build');
});

afterAll(async () => {
  await rm(workDir, { recursive: true, force: true });
});

async function touchEverything(dir: string, seconds: number): Promise<void> {
  for (const child of await readdir(dir, { withFileTypes: true })) {
    const full = path.join(dir, child.name);
    if (child.isDirectory()) await touchEverything(full, seconds);
    if (!child.isSymbolicLink()) await utimes(full, seconds, seconds);
  }
  await utimes(dir, seconds, seconds);
}

async function layoutFiles(dir: string): Promise<Map<string, string>> {
  const out = new Map<string, string>();
  const walk = async (sub: string): Promise<void> => {
    for (const child of await readdir(path.join(dir, sub), { withFileTypes: true })) {
      const relative = path.join(sub, child.name);
      if (child.isDirectory()) await walk(relative);
      else out.set(relative, sha256Digest(await readFile(path.join(dir, relative))));
    }
  };
  await walk('');
  return out;
}

function blobBytes(built: BuiltModuleArtifact, mediaType: string): Promise<Buffer> {
  const descriptor = [built.manifest.config, ...built.manifest.layers].find((layer) => layer.mediaType === mediaType)!;
  return readFile(built.blobs.get(descriptor.digest)!.path);
}

describe('buildModuleArtifact', () => {
  it('builds the same manifest digest from two checkouts with different mtimes, modes and owners, at different times', async () => {
    const first = await writeMyRedisModule(path.join(workDir, 'checkout-a'));
    const second = await writeMyRedisModule(path.join(workDir, 'checkout-b'));
    await writeTrickyTree(path.join(first, 'rootfs/opt/tricky'));
    await writeTrickyTree(path.join(second, 'rootfs/opt/tricky'));
    await touchEverything(first, 1_000_000_000);
    await touchEverything(second, 1_600_000_000);
    // Another umask and owner: modes normalise, ownership is always root.
    await chmod(path.join(second, 'rootfs/etc/redis/redis.conf'), 0o600);
    await chmod(path.join(second, 'rootfs/etc/redis'), 0o700);
    await chown(path.join(second, 'rootfs/etc/redis/redis.conf'), 65534, 65534);

    const options = { version: 'v0.1.0', source: 'https://git.example.com/acme/my-redis', revision: '0123abcd', sourceDateEpoch: 1_700_000_000 };
    const a = await buildModuleArtifact({ ...options, dir: first, outDir: path.join(workDir, 'out-a') });
    await new Promise((resolve) => setTimeout(resolve, 1100));
    const b = await buildModuleArtifact({ ...options, dir: second });
    try {
      expect(b.manifestDigest).toBe(a.manifestDigest);
      expect(b.rootHash).toBe(a.rootHash);
      expect(b.manifestBytes.equals(a.manifestBytes)).toBe(true);
      expect(await layoutFiles(b.layoutDir)).toEqual(await layoutFiles(a.layoutDir));
    } finally {
      await a.dispose();
      await b.dispose();
    }
    // outDir is the caller's: dispose leaves it alone.
    expect((await readdir(path.join(workDir, 'out-a'))).sort()).toEqual(['blobs', 'index.json', 'oci-layout']);
  });

  it('changes the digest when a byte, the version or SOURCE_DATE_EPOCH changes', async () => {
    const dir = await writeMyRedisModule(path.join(workDir, 'variants'));
    const digest = async (options: { version?: string; sourceDateEpoch?: number }): Promise<string> => {
      const built = await buildModuleArtifact({ dir, sourceDateEpoch: 0, ...options });
      await built.dispose();
      return built.manifestDigest;
    };
    const base = await digest({ version: '1.0.0' });
    expect(await digest({ version: '1.0.1' })).not.toBe(base);
    expect(await digest({ version: '1.0.0', sourceDateEpoch: 1 })).not.toBe(base);
    await writeFile(path.join(dir, 'rootfs/etc/redis/redis.conf'), 'port 6380\n');
    expect(await digest({ version: '1.0.0' })).not.toBe(base);
  });

  it('reads SOURCE_DATE_EPOCH from the environment when no option is given', () => {
    expect(resolveSourceDateEpoch(undefined, '1700000000')).toBe(1_700_000_000);
    expect(resolveSourceDateEpoch(undefined, undefined)).toBe(0);
    expect(resolveSourceDateEpoch(undefined, ' ')).toBe(0);
    expect(resolveSourceDateEpoch(5, '1700000000')).toBe(5);
    expect(() => resolveSourceDateEpoch(undefined, 'yesterday')).toThrow(/SOURCE_DATE_EPOCH "yesterday" is not a whole number/);
    expect(() => resolveSourceDateEpoch(undefined, '1.5')).toThrow(/not a whole number/);
    expect(() => resolveSourceDateEpoch(-1)).toThrow(/sourceDateEpoch "-1"/);
    expect(() => resolveSourceDateEpoch(2 ** 40)).toThrow(/not a whole number of seconds between 0 and/);
  });

  it('normalises git-tag versions and refuses what is not semver', () => {
    expect(normaliseModuleVersion('v1.2.3')).toBe('1.2.3');
    expect(normaliseModuleVersion('1.2.3-rc.1+build.5')).toBe('1.2.3-rc.1+build.5');
    for (const bad of ['latest', '1.2', 'v', 'vv1.2.3', '01.2.3'])
      expect(() => normaliseModuleVersion(bad)).toThrow(expect.objectContaining({ code: 'not_semver' }));
  });

  it('builds the tutorial module: mask drops sentinel.conf, .gitkeep ships, layers and annotations as DESIGN §4 says', async () => {
    const dir = await writeMyRedisModule(path.join(workDir, 'tutorial'));
    const steps: Array<[ArtifactProgressStep, unknown]> = [];
    const built = await buildModuleArtifact({
      dir,
      version: 'v0.1.0',
      source: 'https://git.example.com/acme/my-redis',
      revision: 'abc123',
      sourceDateEpoch: 1_700_000_000,
      onProgress: (step, detail) => steps.push([step, detail]),
    });
    try {
      expect(built.entries.map((entry) => entry.path)).toEqual([
        '/etc',
        '/etc/redis',
        '/etc/redis/redis.conf',
        '/var',
        '/var/lib',
        '/var/lib/redis',
        '/var/lib/redis/.gitkeep',
      ]);
      expect(built.manifest).toMatchObject({
        schemaVersion: 2,
        mediaType: 'application/vnd.oci.image.manifest.v1+json',
        artifactType: MODULE_ARTIFACT_TYPE,
        config: { mediaType: MODULE_CONFIG_MEDIA_TYPE },
        layers: [{ mediaType: MODULE_TREE_LAYER_MEDIA_TYPE }, { mediaType: COMPOSEFS_DESCRIPTION_MEDIA_TYPE }, { mediaType: CYCLONEDX_SBOM_MEDIA_TYPE }],
        annotations: {
          'io.powernode.module.name': 'my-redis',
          'io.powernode.module.version': '0.1.0',
          'io.powernode.fsverity_root_hash': built.rootHash,
          'io.powernode.composefs_digest': built.composefsDigest,
          'org.opencontainers.image.source': 'https://git.example.com/acme/my-redis',
          'org.opencontainers.image.revision': 'abc123',
        },
      });
      expect(built.manifest.layers[1]!.digest).toBe(built.composefsDigest);
      expect(built.manifestBytes.toString()).not.toMatch(/created|built_at/);
      expect(sha256Digest(built.manifestBytes)).toBe(built.manifestDigest);

      // Every blob in the map is a file of the layout whose bytes hash to its name.
      for (const [digest, blob] of built.blobs) expect(sha256Digest(await readFile(blob.path))).toBe(digest);

      const config = JSON.parse((await blobBytes(built, MODULE_CONFIG_MEDIA_TYPE)).toString());
      expect(config).toMatchObject({ name: 'my-redis', mask: ['/etc/redis/sentinel.conf'], package_spec: ['redis-server', 'redis-tools'] });

      const { stdout } = await execFileAsync('tar', ['-tf', built.blobs.get(built.manifest.layers[0]!.digest)!.path]);
      expect(stdout.trim().split('\n')).toEqual(['etc/', 'etc/redis/', 'etc/redis/redis.conf', 'var/', 'var/lib/', 'var/lib/redis/', 'var/lib/redis/.gitkeep']);

      // The root hash is the fs-verity digest of the description, as the fsverity CLI computes it.
      const descriptionFile = built.blobs.get(built.composefsDigest)!.path;
      const { stdout: cli } = await execFileAsync('fsverity', ['digest', descriptionFile]);
      expect(cli.split(' ')[0]).toBe(built.rootHash);

      expect(steps.map(([step]) => step)).toEqual([
        'tree_read',
        ...Array(7).fill('tree_entry_archived'),
        'blob_built',
        'blob_built',
        'blob_built',
        'blob_built',
        'manifest_built',
      ]);
      expect(steps[0]![1]).toEqual({ entries: 7, files: 2, bytes: Buffer.byteLength(await readFile(path.join(dir, 'rootfs/etc/redis/redis.conf'))) });
      expect(steps.at(-1)![1]).toEqual({
        digest: built.manifestDigest,
        root_hash: built.rootHash,
        composefs_digest: built.composefsDigest,
      } satisfies ArtifactProgressDetails['manifest_built']);
    } finally {
      await built.dispose();
    }
  });

  it('verifies a tree extracted by GNU tar against the description, and names the first altered path', async () => {
    const dir = await writeMyRedisModule(path.join(workDir, 'extract-verify'));
    const built = await buildModuleArtifact({ dir });
    try {
      const extracted = path.join(workDir, 'extract-verify-out');
      await mkdir(extracted);
      await execFileAsync('tar', ['-xpf', built.blobs.get(built.manifest.layers[0]!.digest)!.path, '-C', extracted]);
      const description = await readFile(built.blobs.get(built.composefsDigest)!.path);
      expect(verifyTreeAgainstDescription(await describeDirectory(extracted), description)).toBeUndefined();

      const conf = path.join(extracted, 'etc/redis/redis.conf');
      const original = await readFile(conf, 'utf8');
      await writeFile(conf, original.replace('port 6379', 'port 6666'));
      expect(verifyTreeAgainstDescription(await describeDirectory(extracted), description)).toMatchObject({ path: '/etc/redis/redis.conf', field: 'digest' });
      await writeFile(conf, original);
      await chmod(conf, 0o4755);
      expect(verifyTreeAgainstDescription(await describeDirectory(extracted), description)).toEqual({
        path: '/etc/redis/redis.conf',
        field: 'mode',
        expected: '644',
        actual: '4755',
      });
    } finally {
      await built.dispose();
    }
  });

  it('applies mask with rsync semantics: masked directories are not descended, unanchored globs match at any depth', async () => {
    const dir = path.join(workDir, 'masked');
    await mkdir(path.join(dir, 'rootfs/var/log/app'), { recursive: true });
    await mkdir(path.join(dir, 'rootfs/usr/share/doc/pkg'), { recursive: true });
    await mkdir(path.join(dir, 'rootfs/etc/app'), { recursive: true });
    await writeFile(path.join(dir, 'rootfs/var/log/app/old.log'), 'x');
    await writeFile(path.join(dir, 'rootfs/usr/share/doc/pkg/README'), 'x');
    await writeFile(path.join(dir, 'rootfs/etc/app/app.conf'), 'x');
    await writeFile(path.join(dir, 'rootfs/etc/app/app.conf.tmp'), 'x');
    await writeFile(path.join(dir, 'rootfs/etc/app/secret.key'), 'x');
    await writeFile(
      path.join(dir, 'manifest.yaml'),
      'schema_version: 1\nname: masked\nfile_spec: ["/etc/**", "/var/**", "/usr/**"]\nmask:\n  - "/var/log/**"\n  - "/usr/share/doc/"\n  - "*.tmp"\n  - "/etc/app/secret.key"\n',
    );
    const built = await buildModuleArtifact({ dir });
    try {
      expect(built.entries.map((entry) => entry.path)).toEqual(['/etc', '/etc/app', '/etc/app/app.conf', '/usr', '/usr/share', '/var', '/var/log']);
      const description = await readFile(built.blobs.get(built.composefsDigest)!.path, 'utf8');
      expect(description).not.toMatch(/secret|\.tmp|old\.log|README/);
    } finally {
      await built.dispose();
    }
  });

  it('records fs-verity digests equal to the fsverity CLI and SHA-256 equal to sha256sum for every file', async () => {
    const dir = path.join(workDir, 'oracle');
    await mkdir(dir);
    await writeFile(path.join(dir, 'manifest.yaml'), 'schema_version: 1\nname: oracle\npackage_spec: ["curl", "libc6:amd64=2.39-0ubuntu8"]\n');
    await writeTrickyTree(path.join(dir, 'rootfs'));
    const built = await buildModuleArtifact({ dir });
    try {
      const files = built.entries.filter((entry) => entry.type === 'file');
      const hostPaths = files.map((entry) => path.join(dir, 'rootfs', entry.path));
      const { stdout } = await execFileAsync('fsverity', ['digest', ...hostPaths], { maxBuffer: 16 * 1024 * 1024 });
      const cli = new Map(
        stdout
          .trim()
          .split('\n')
          .map((line) => [line.slice(line.indexOf(' ') + 1), line.slice(0, line.indexOf(' '))]),
      );
      for (const [index, entry] of files.entries()) {
        expect(entry.digest).toBe(cli.get(hostPaths[index]!));
        expect(entry.sha256).toBe(
          createHash('sha256')
            .update(await readFile(hostPaths[index]!))
            .digest('hex'),
        );
      }
      const description = parseComposefsDescription(await readFile(built.blobs.get(built.composefsDigest)!.path));
      expect(verifyTreeAgainstDescription(built.entries, description)).toBeUndefined();
      expect(await verifyTreeLayer(built.blobs.get(built.manifest.layers[0]!.digest)!.path, description)).toBeUndefined();

      const sbom = JSON.parse((await blobBytes(built, CYCLONEDX_SBOM_MEDIA_TYPE)).toString());
      expect(sbom).toMatchObject({
        bomFormat: 'CycloneDX',
        specVersion: '1.6',
        version: 1,
        metadata: { timestamp: '1970-01-01T00:00:00Z', component: { name: 'oracle', type: 'application' } },
      });
      expect(sbom.serialNumber).toMatch(/^urn:uuid:[0-9a-f]{8}-[0-9a-f]{4}-5[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
      const packages = sbom.components.filter((component: { type: string }) => component.type === 'library');
      expect(packages).toEqual([
        { type: 'library', 'bom-ref': 'pkg:deb/ubuntu/curl', name: 'curl', purl: 'pkg:deb/ubuntu/curl', scope: 'required' },
        {
          type: 'library',
          'bom-ref': 'pkg:deb/ubuntu/libc6@2.39-0ubuntu8?arch=amd64',
          name: 'libc6',
          version: '2.39-0ubuntu8',
          purl: 'pkg:deb/ubuntu/libc6@2.39-0ubuntu8?arch=amd64',
          scope: 'required',
        },
      ]);
      const sbomFiles = sbom.components.filter((component: { type: string }) => component.type === 'file');
      expect(sbomFiles).toHaveLength(files.length);
      const bigFile = sbomFiles.find((component: { name: string }) => component.name === '/var/big.bin');
      expect(bigFile.hashes).toEqual([{ alg: 'SHA-256', content: files.find((entry) => entry.path === '/var/big.bin')!.sha256 }]);
      expect(bigFile.properties).toEqual([{ name: 'powernode:fsverity_digest', value: files.find((entry) => entry.path === '/var/big.bin')!.digest }]);
    } finally {
      await built.dispose();
    }
  });

  it('writes an OCI image layout that another directory can receive with writeOciLayout', async () => {
    const dir = await writeMyRedisModule(path.join(workDir, 'layout'));
    const built = await buildModuleArtifact({ dir, version: '2.0.0' });
    try {
      const out = path.join(workDir, 'layout-copy');
      await writeOciLayout(built, out);
      expect(JSON.parse(await readFile(path.join(out, 'oci-layout'), 'utf8'))).toEqual({ imageLayoutVersion: '1.0.0' });
      const index = JSON.parse(await readFile(path.join(out, 'index.json'), 'utf8'));
      expect(index.manifests).toEqual([
        {
          mediaType: 'application/vnd.oci.image.manifest.v1+json',
          digest: built.manifestDigest,
          size: built.manifestBytes.length,
          artifactType: MODULE_ARTIFACT_TYPE,
          annotations: { 'org.opencontainers.image.ref.name': '2.0.0' },
        },
      ]);
      const blobs = await readdir(path.join(out, 'blobs/sha256'));
      expect(blobs.sort()).toEqual([built.manifestDigest, ...built.blobs.keys()].map((digest) => digest.slice(7)).sort());
      for (const name of blobs) expect(sha256Digest(await readFile(path.join(out, 'blobs/sha256', name)))).toBe(`sha256:${name}`);
      expect(await layoutFiles(out)).toEqual(await layoutFiles(built.layoutDir));
    } finally {
      await built.dispose();
    }
  });

  const examplesSkipReason = exampleModulesSkipReason();
  (examplesSkipReason === undefined ? it : it.skip)(
    `builds every example module of the reference platform, and GNU tar extracts each tree to its rootfs${examplesSkipReason === undefined ? '' : ` (skipped: ${examplesSkipReason})`}`,
    async () => {
      const names = await exampleModuleNames();
      expect(names.length).toBeGreaterThanOrEqual(6);
      for (const name of names) {
        const source = path.join(EXAMPLE_MODULES_DIR, name);
        const built = await buildModuleArtifact({ dir: source, version: '1.0.0' });
        try {
          expect(built.manifest.annotations?.['io.powernode.module.name']).toBe(name);
          const extracted = path.join(workDir, `example-${name}`);
          await mkdir(extracted);
          await execFileAsync('tar', ['-xf', built.blobs.get(built.manifest.layers[0]!.digest)!.path, '-C', extracted]);
          const rootfs = path.join(source, 'rootfs');
          const hasRootfs = await readdir(rootfs).then(
            () => true,
            () => false,
          );
          if (hasRootfs) await expect(execFileAsync('diff', ['-r', rootfs, extracted])).resolves.toBeDefined();
          else expect(await readdir(extracted)).toEqual([]);
        } finally {
          await built.dispose();
        }
      }
    },
  );

  it('builds an example module copied elsewhere to the same digest as in place', async () => {
    const source = path.join(VENDORED_MODULES_DIR, 'system-base');
    const copy = await copyModule(source, path.join(workDir, 'system-base-copy'));
    await touchEverything(copy, 12345);
    const inPlace = await buildModuleArtifact({ dir: source, version: '1.0.0' });
    const copied = await buildModuleArtifact({ dir: copy, version: '1.0.0' });
    await inPlace.dispose();
    await copied.dispose();
    expect(copied.manifestDigest).toBe(inPlace.manifestDigest);
  });

  describe('refuses bad modules with a clear error', () => {
    it.each([
      ['no manifest.yaml', async (dir: string) => mkdir(path.join(dir, 'rootfs'), { recursive: true }), 'manifest_invalid', /manifest\.yaml does not exist/],
      [
        'an invalid manifest',
        async (dir: string) => writeFile(path.join(dir, 'manifest.yaml'), 'schema_version: 1\nname: Bad Name\n'),
        'manifest_invalid',
        /name/,
      ],
      [
        'a bad mask glob',
        async (dir: string) => {
          await writeFile(path.join(dir, 'manifest.yaml'), 'schema_version: 1\nname: ok\nmask: ["/etc/[abc"]\n');
          await mkdir(path.join(dir, 'rootfs/etc'), { recursive: true });
        },
        'manifest_invalid',
        /mask\[0\]/,
      ],
      [
        'a FIFO in rootfs',
        async (dir: string) => {
          await writeFile(path.join(dir, 'manifest.yaml'), 'schema_version: 1\nname: fifo\n');
          await mkdir(path.join(dir, 'rootfs/run'), { recursive: true });
          await execFileAsync('mkfifo', [path.join(dir, 'rootfs/run/pipe')]);
        },
        'manifest_invalid',
        /rootfs\/run\/pipe is neither a regular file, a directory nor a symlink/,
      ],
      [
        'rootfs that is a symlink',
        async (dir: string) => {
          await writeFile(path.join(dir, 'manifest.yaml'), 'schema_version: 1\nname: linked\n');
          await symlink('/etc', path.join(dir, 'rootfs'));
        },
        'manifest_invalid',
        /rootfs is not a directory/,
      ],
    ])('%s', async (_what, prepare, code, message) => {
      const dir = await freshDir('bad');
      await prepare(dir);
      const failure = buildModuleArtifact({ dir });
      await expect(failure).rejects.toMatchObject({ code });
      await expect(buildModuleArtifact({ dir })).rejects.toThrow(message);
      await rm(dir, { recursive: true, force: true });
    });

    it('a version that is not semver', async () => {
      const dir = await writeMyRedisModule(await freshDir('bad-version'));
      await expect(buildModuleArtifact({ dir, version: 'latest' })).rejects.toMatchObject({ code: 'not_semver' });
      await rm(dir, { recursive: true, force: true });
    });
  });
});

describe('set-id bits in the built tree', () => {
  it('strips them from rootfs/ files (normalised modes) and ships the package tree as given: the package build decides which it keeps', async () => {
    const dir = await writeMyRedisModule(path.join(workDir, 'set-id'));
    await mkdir(path.join(dir, 'rootfs/usr/local/bin'), { recursive: true });
    const planted = path.join(dir, 'rootfs/usr/local/bin/planted');
    await writeFile(planted, '#!/bin/sh\n');
    await chmod(planted, 0o6755);
    const packaged = path.join(workDir, 'set-id-package-sudo');
    await writeFile(packaged, 'sudo\n');
    const packageTree = {
      entries: [
        { type: 'directory' as const, path: '/usr', mode: 0o755, uid: 0, gid: 0 },
        { type: 'directory' as const, path: '/usr/bin', mode: 0o755, uid: 0, gid: 0 },
        { type: 'file' as const, path: '/usr/bin/sudo', mode: 0o4755, uid: 0, gid: 0, size: 5, sourcePath: packaged },
      ],
      packages: [{ name: 'sudo', version: '1.9', architecture: 'amd64' }],
      vendor: 'debian',
      suite: 'bookworm',
    };
    const built = await buildModuleArtifact({ dir, sourceDateEpoch: 0, packageTree });
    try {
      const modes = new Map(built.entries.map((entry) => [entry.path, entry.mode]));
      expect(modes.get('/usr/local/bin/planted')).toBe(0o755);
      expect(modes.get('/usr/bin/sudo')).toBe(0o4755);
    } finally {
      await built.dispose();
    }
  });
});
