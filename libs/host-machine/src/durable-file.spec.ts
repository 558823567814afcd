import { mkdtemp, readdir, readFile, rm, stat, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { writeFileAtomically } from './durable-file.js';

describe('writeFileAtomically', () => {
  let dir: string;
  beforeEach(async () => {
    dir = await mkdtemp(path.join(os.tmpdir(), 'powernode-durable-file-'));
  });
  afterEach(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it('replaces the content with the given mode whatever the umask, and leaves no temporary file', async () => {
    const file = path.join(dir, 'record.json');
    await writeFile(file, 'old', { mode: 0o666 });
    const umask = process.umask(0);
    try {
      await writeFileAtomically(file, 'new', 0o640);
    } finally {
      process.umask(umask);
    }
    expect(await readFile(file, 'utf8')).toBe('new');
    expect((await stat(file)).mode & 0o777).toBe(0o640);
    expect(await readdir(dir)).toEqual(['record.json']);
  });

  it('uses the temporary name a directory sweeper recognises, and only in the target directory', async () => {
    const file = path.join(dir, 'blob');
    await writeFileAtomically(file, new Uint8Array([1, 2, 3]), 0o644, { temporaryName: '../blob.partial-1' });
    expect([...(await readFile(file))]).toEqual([1, 2, 3]);
    expect(await readdir(dir)).toEqual(['blob']);
  });

  it('keeps the old content and no temporary file when the write fails', async () => {
    const file = path.join(dir, 'record.json');
    await writeFile(file, 'old');
    await expect(writeFileAtomically(file, 'new', 0o600, { temporaryName: 'record.json' })).rejects.toMatchObject({ code: 'EEXIST' });
    expect(await readFile(file, 'utf8')).toBe('old');
    expect(await readdir(dir)).toEqual(['record.json']);
  });
});
