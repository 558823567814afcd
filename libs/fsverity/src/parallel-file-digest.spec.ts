import { randomBytes } from 'node:crypto';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { PowernodeError } from '@powernode/contracts';
import { fsverityDigestOfBuffer } from './file-digest.js';
import { fsverityDigestOfFileParallel } from './parallel-file-digest.js';

describe('fsverityDigestOfFileParallel', () => {
  let dir: string;
  beforeAll(async () => {
    dir = await mkdtemp(path.join(tmpdir(), 'pn-fsverity-parallel-'));
  });
  afterAll(() => rm(dir, { recursive: true, force: true }));

  // Sizes around the tree's boundaries (one data block, one full tree block of 128, one more) and ranges that
  // do not split evenly between the workers.
  it.each([1, 4096, 4097, 4096 * 128, 4096 * 128 + 1, 4096 * 129 * 3 + 17, 5 * 1024 * 1024 + 3])('gives the streaming digest for %i bytes', async (size) => {
    const bytes = randomBytes(size);
    const file = path.join(dir, `data-${size}`);
    await writeFile(file, bytes);
    for (const threads of [2, 3]) expect(await fsverityDigestOfFileParallel(file, { threads, minBytes: 0 })).toBe(fsverityDigestOfBuffer(bytes));
  });

  it('reports a missing file as the streaming digest does', async () => {
    await expect(fsverityDigestOfFileParallel(path.join(dir, 'absent'), { threads: 2, minBytes: 0 })).rejects.toMatchObject({ code: 'not_found' });
    await expect(fsverityDigestOfFileParallel(path.join(dir, 'absent'))).rejects.toBeInstanceOf(PowernodeError);
  });
});
