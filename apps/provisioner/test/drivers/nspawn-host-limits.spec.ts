import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { raiseInotifyLimit } from '../../src/drivers/nspawn-driver.js';

describe('host limits for many machines', () => {
  let dir: string;
  beforeAll(async () => {
    dir = await mkdtemp(path.join(tmpdir(), 'pn-limits-'));
  });
  afterAll(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it('raises an inotify instance limit below what many machines need, and says what it was', async () => {
    const file = path.join(dir, 'max_user_instances');
    await writeFile(file, '128\n');
    expect(await raiseInotifyLimit(file, 8192)).toBe(128);
    expect((await readFile(file, 'utf8')).trim()).toBe('8192');
  });

  it('leaves a limit that is high enough alone', async () => {
    const file = path.join(dir, 'high');
    await writeFile(file, '65536\n');
    expect(await raiseInotifyLimit(file, 8192)).toBeNull();
    expect((await readFile(file, 'utf8')).trim()).toBe('65536');
  });
});
