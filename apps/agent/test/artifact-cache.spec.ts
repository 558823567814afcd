import { randomBytes } from 'node:crypto';
import { readFile, readdir, rm, stat, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { digestWithAlgorithm, sha256Digest } from '@powernode/oci';
import { cachedBlobPath, ensureCacheLayout, isVanishedCacheEntry, readCachedBlob, storeCachedBlob } from '../src/artifact-cache.js';
import { freshDir } from './module-artifacts.test-support.js';

let cacheDir: string;

beforeAll(async () => {
  cacheDir = await freshDir('cache-store');
  await ensureCacheLayout(cacheDir);
});

afterAll(async () => {
  await rm(cacheDir, { recursive: true, force: true });
});

describe('artifact cache entries', () => {
  it('names an entry by its digest, and refuses anything that is not a digest (it becomes a path)', () => {
    const digest = sha256Digest('x');
    expect(cachedBlobPath(cacheDir, digest)).toBe(path.join(cacheDir, 'blobs/sha256', digest.slice(7)));
    const sha512 = digestWithAlgorithm(Buffer.from('x'), 'sha512');
    expect(cachedBlobPath(cacheDir, sha512)).toBe(path.join(cacheDir, 'blobs/sha512', sha512.slice(7)));
    for (const bad of ['sha256:../../etc/passwd', 'sha256:ABC', `md5:${'0'.repeat(32)}`, `${digest}:extra`, '', digest.slice(7)]) {
      expect(() => cachedBlobPath(cacheDir, bad)).toThrow(expect.objectContaining({ code: 'validation_failed' }));
    }
  });

  it('stores bytes under their digest, world-readable, leaving no temporary file; reads them back', async () => {
    const bytes = Buffer.from(JSON.stringify({ schemaVersion: 2, nonce: randomBytes(8).toString('hex') }));
    const digest = sha256Digest(bytes);
    const file = await storeCachedBlob(cacheDir, digest, bytes);
    expect(file).toBe(cachedBlobPath(cacheDir, digest));
    expect(await readFile(file)).toEqual(bytes);
    expect((await stat(file)).mode & 0o777).toBe(0o644);
    expect((await readdir(path.dirname(file))).filter((name) => name.includes('.partial-'))).toEqual([]);
    expect(await readCachedBlob(cacheDir, digest, 1024)).toEqual(bytes);
    // Storing the same content again (another agent) replaces it with identical bytes.
    await storeCachedBlob(cacheDir, digest, bytes);
    expect(await readFile(file)).toEqual(bytes);
  });

  it('refuses to store bytes under a digest they do not hash to, and leaves nothing behind', async () => {
    const digest = sha256Digest('expected');
    await expect(storeCachedBlob(cacheDir, digest, Buffer.from('something else'))).rejects.toMatchObject({
      code: 'digest_mismatch',
      message: expect.stringContaining(digest),
    });
    expect((await readdir(path.join(cacheDir, 'blobs/sha256'))).filter((name) => name.startsWith(digest.slice(7)))).toEqual([]);
  });

  it('an absent entry reads as undefined; an entry with other bytes, or too large to be one, is deleted so it is fetched again', async () => {
    expect(await readCachedBlob(cacheDir, sha256Digest(randomBytes(8)), 1024)).toBeUndefined();
    const bytes = Buffer.from(`manifest ${randomBytes(8).toString('hex')}`);
    const digest = sha256Digest(bytes);
    const file = cachedBlobPath(cacheDir, digest);
    await writeFile(file, Buffer.from('tampered'));
    expect(await readCachedBlob(cacheDir, digest, 1024)).toBeUndefined();
    await expect(stat(file)).rejects.toMatchObject({ code: 'ENOENT' });

    await storeCachedBlob(cacheDir, digest, bytes);
    expect(await readCachedBlob(cacheDir, digest, bytes.length - 1)).toBeUndefined();
    await expect(stat(file)).rejects.toMatchObject({ code: 'ENOENT' });
  });

  it('recognises a "no such file" error about a cache entry, and only that', async () => {
    const file = cachedBlobPath(cacheDir, sha256Digest(randomBytes(8)));
    const vanished = await readFile(file).catch((error: unknown) => error);
    expect(isVanishedCacheEntry(vanished, cacheDir)).toBe(true);
    const elsewhere = await readFile(path.join(path.dirname(cacheDir), `not-the-cache-${randomBytes(4).toString('hex')}`)).catch((error: unknown) => error);
    expect(isVanishedCacheEntry(elsewhere, cacheDir)).toBe(false);
    expect(isVanishedCacheEntry(new Error('ENOENT'), cacheDir)).toBe(false);
    expect(isVanishedCacheEntry(undefined, cacheDir)).toBe(false);
  });
});
