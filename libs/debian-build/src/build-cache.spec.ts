import { mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { cacheKey, newWorkDir, publishWorkDir } from './build-cache.js';

describe('build cache', () => {
  let cacheDir: string;

  beforeEach(async () => {
    cacheDir = await mkdtemp(path.join(os.tmpdir(), 'pn-build-cache-'));
  });

  afterEach(async () => {
    await rm(cacheDir, { recursive: true, force: true });
  });

  it('keys by content, whatever the order of object keys, and changes with any input', () => {
    // Entries already cached are found by this key: it must not change (value pinned from the first release).
    expect(cacheKey({ b: 1, a: [{ y: 2, x: 1 }], recipe: 3 })).toBe('e3f77f18b1b55a9d4ce33b9b0519dce842da028e3d6339560365a19873d51958');
    expect(cacheKey({ recipe: 3, a: [{ x: 1, y: 2 }], b: 1 })).toBe(cacheKey({ b: 1, a: [{ y: 2, x: 1 }], recipe: 3 }));
    expect(cacheKey({ a: 1 })).not.toBe(cacheKey({ a: 2 }));
    expect(cacheKey({ a: [1, 2] })).not.toBe(cacheKey({ a: [2, 1] }));
  });

  it('lets concurrent builders of one entry race: one complete tree wins, the others are discarded, no work dir is left', async () => {
    const finalDir = path.join(cacheDir, 'layers', 'same-key');
    const builders = await Promise.all(
      Array.from({ length: 6 }, async (_, i) => {
        const work = await newWorkDir(cacheDir, 'layer');
        await writeFile(path.join(work, 'marker'), `builder ${i}`);
        await writeFile(path.join(work, 'payload'), 'the same by construction');
        return work;
      }),
    );
    await Promise.all(builders.map((work) => publishWorkDir(work, finalDir)));
    expect((await readdir(finalDir)).sort()).toEqual(['marker', 'payload']);
    expect(await readFile(path.join(finalDir, 'marker'), 'utf8')).toMatch(/^builder [0-5]$/);
    expect(await readdir(path.join(cacheDir, 'tmp'))).toEqual([]);
  });
});
