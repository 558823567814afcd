import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { BASE_PACKAGES, BASE_RECIPE_VERSION, ensureBaseTree } from './base-recipe.js';
import type { DebianMirror } from './debian-mirror.js';

let cacheDir: string;
let deadUri: string;

beforeAll(async () => {
  cacheDir = await mkdtemp(path.join(tmpdir(), 'pn-base-recipe-'));
  // A port nothing listens on: taken, then released.
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as { port: number };
  await new Promise<void>((resolve) => server.close(() => resolve()));
  deadUri = `http://127.0.0.1:${port}/debian`;
});

afterAll(async () => {
  await rm(cacheDir, { recursive: true, force: true });
});

const mirrorAt = (uri: string): DebianMirror => ({
  distribution: { vendor: 'debian', suite: 'bookworm' },
  suites: [{ suite: 'bookworm', uri, components: ['main'] }],
});

/** A cached base as a finished build leaves it: base.json beside a tree with a dpkg status. */
async function cacheBase(key: string, sourceDateEpoch: number, distribution = 'debian/bookworm'): Promise<void> {
  const dir = path.join(cacheDir, 'base', key);
  await mkdir(path.join(dir, 'tree', 'var/lib/dpkg'), { recursive: true });
  await writeFile(
    path.join(dir, 'tree', 'var/lib/dpkg/status'),
    'Package: systemd\nStatus: install ok installed\nArchitecture: amd64\nVersion: 252.38-1~deb12u1\n',
  );
  const record = {
    recipe: BASE_RECIPE_VERSION,
    packages: BASE_PACKAGES,
    distribution,
    mirror: mirrorAt('http://deb.example/debian'),
    indexDates: [sourceDateEpoch],
    sourceDateEpoch,
  };
  await writeFile(path.join(dir, 'base.json'), JSON.stringify(record));
}

describe('the base system when the mirror does not answer', () => {
  it('refuses with distribution_unavailable, naming the suite, when no base is cached', async () => {
    await expect(ensureBaseTree({ mirror: mirrorAt(deadUri), cacheDir })).rejects.toMatchObject({
      code: 'distribution_unavailable',
      retryable: true,
      message: expect.stringContaining(`cannot read the index date of ${deadUri} bookworm and no base of debian/bookworm is cached`),
    });
  });

  it('builds on the newest cached base of the distribution and says so', async () => {
    await cacheBase('a'.repeat(64), 1_760_000_000);
    await cacheBase('b'.repeat(64), 1_770_000_000);
    await cacheBase('c'.repeat(64), 1_790_000_000, 'debian/trixie');
    const warnings: string[] = [];
    const base = await ensureBaseTree({ mirror: mirrorAt(deadUri), cacheDir, onWarning: (message) => warnings.push(message) });
    expect(base).toMatchObject({ key: 'b'.repeat(64), sourceDateEpoch: 1_770_000_000, root: path.join(cacheDir, 'base', 'b'.repeat(64), 'tree') });
    expect(base.packages.map((p) => p.name)).toEqual(['systemd']);
    expect(warnings).toEqual([`the mirror did not answer (${deadUri} bookworm); using the cached base of ${new Date(1_770_000_000_000).toISOString()}`]);
  });
});
