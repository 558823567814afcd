import { createReadStream } from 'node:fs';
import { mkdir, readFile, readlink, rm, stat, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { PowernodeError } from '@powernode/contracts';
import { execFileAsync, freshDir, writeTrickyTree } from './module-fixture.test-support.js';
import { readModuleTree, type TreeEntry } from './module-tree.js';
import { encodeTarHeader, TAR_BLOCK_SIZE } from './tar-header.js';
import { readTar, type TarEntryHeader } from './tar-reader.js';
import { reproducibleTar } from './tar-writer.js';

let workDir: string;
let moduleDir: string;
let tree: TreeEntry[];

beforeAll(async () => {
  workDir = await freshDir('tar');
  moduleDir = path.join(workDir, 'module');
  await writeTrickyTree(path.join(moduleDir, 'rootfs'));
  tree = await readModuleTree(moduleDir, { mask: [] });
});

afterAll(async () => {
  await rm(workDir, { recursive: true, force: true });
});

async function writeArchive(entries: readonly TreeEntry[], file: string, mtime = 1_700_000_000): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const chunk of reproducibleTar(entries, { mtime })) chunks.push(chunk);
  const bytes = Buffer.concat(chunks);
  await writeFile(file, bytes);
  return bytes;
}

async function readAll(source: AsyncIterable<Uint8Array>): Promise<Array<TarEntryHeader & { content: Buffer }>> {
  const out: Array<TarEntryHeader & { content: Buffer }> = [];
  for await (const entry of readTar(source)) {
    const chunks: Buffer[] = [];
    for await (const chunk of entry.body) chunks.push(chunk);
    const { body: _body, ...header } = entry;
    out.push({ ...header, content: Buffer.concat(chunks) });
  }
  return out;
}

async function* chunked(bytes: Buffer, size: number): AsyncGenerator<Buffer> {
  for (let offset = 0; offset < bytes.length; offset += size) yield bytes.subarray(offset, offset + size);
}

describe('reproducible tar writer', () => {
  it('writes an archive GNU tar lists with root ownership, normalised modes and the fixed mtime', async () => {
    const file = path.join(workDir, 'listing.tar');
    await writeArchive(tree, file, 1_700_000_000);
    const { stdout } = await execFileAsync('tar', ['--numeric-owner', '--full-time', '-tvf', file], { env: { ...process.env, TZ: 'UTC', LC_ALL: 'C.UTF-8' } });
    const lines = stdout.trim().split('\n');
    expect(lines).toHaveLength(tree.length);
    for (const line of lines) {
      expect(line).toMatch(/^(?:drwxr-xr-x|-rw-r--r--|-rwxr-xr-x|lrwxrwxrwx) 0\/0 /);
      expect(line).toContain('2023-11-14 22:13:20');
    }
    expect(lines.find((line) => line.endsWith(' usr/bin/tool'))).toMatch(/^-rwxr-xr-x 0\/0 /);
    expect(lines.find((line) => line.endsWith(' usr/bin/empty'))).toMatch(/^-rw-r--r-- 0\/0 +0 /);
    expect(lines.find((line) => line.includes('etc/tool-link'))).toMatch(/^lrwxrwxrwx .* etc\/tool-link -> \.\.\/usr\/bin\/tool$/);
    expect(lines.find((line) => line.includes('e'.repeat(200)))).toContain(`${'d'.repeat(200)}/${'e'.repeat(200)}`);
    expect(lines.some((line) => line.endsWith('etc/ünïcødé dir/naïve file.txt'))).toBe(true);
  });

  it('extracts with GNU tar to exactly the source tree', async () => {
    const file = path.join(workDir, 'extract.tar');
    await writeArchive(tree, file);
    const target = path.join(workDir, 'extracted');
    await mkdir(target);
    await execFileAsync('tar', ['-xf', file, '-C', target]);
    for (const entry of tree) {
      const extracted = path.join(target, entry.path);
      switch (entry.type) {
        case 'file':
          expect((await readFile(extracted)).equals(await readFile(entry.sourcePath))).toBe(true);
          break;
        case 'symlink':
          expect(await readlink(extracted)).toBe(entry.linkTarget);
          break;
        case 'directory':
          expect((await stat(extracted)).isDirectory()).toBe(true);
          break;
      }
    }
    await expect(execFileAsync('diff', ['-r', '--no-dereference', path.join(moduleDir, 'rootfs'), target])).resolves.toBeDefined();
  });

  it('gives the same bytes for the same entries and different bytes for another mtime', async () => {
    const first = await writeArchive(tree, path.join(workDir, 'a.tar'), 42);
    const second = await writeArchive(tree, path.join(workDir, 'b.tar'), 42);
    const other = await writeArchive(tree, path.join(workDir, 'c.tar'), 43);
    expect(first.equals(second)).toBe(true);
    expect(first.equals(other)).toBe(false);
    expect(first.length % TAR_BLOCK_SIZE).toBe(0);
  });

  it('refuses a file that changed size since the tree was read', async () => {
    const dir = await freshDir('tar-change');
    await mkdir(path.join(dir, 'rootfs/etc'), { recursive: true });
    await writeFile(path.join(dir, 'rootfs/etc/growing'), 'short\n');
    const entries = await readModuleTree(dir, {});
    await writeFile(path.join(dir, 'rootfs/etc/growing'), 'much longer now\n');
    await expect(writeArchive(entries, path.join(dir, 'x.tar'))).rejects.toThrow(/changed while the artifact was built/);
    await rm(dir, { recursive: true, force: true });
  });
});

describe('tar reader', () => {
  it('reads back what the writer wrote, whatever the chunking of the stream', async () => {
    const bytes = await writeArchive(tree, path.join(workDir, 'roundtrip.tar'));
    for (const chunkSize of [7, 511, 4096, bytes.length]) {
      const entries = await readAll(chunked(bytes, chunkSize));
      expect(entries.map((entry) => entry.path)).toEqual(tree.map((entry) => entry.path));
      for (const [index, entry] of entries.entries()) {
        const source = tree[index]!;
        expect(entry.type).toBe(source.type);
        expect(entry.mode).toBe(source.mode);
        expect([entry.uid, entry.gid, entry.uname, entry.gname]).toEqual([0, 0, 'root', 'root']);
        if (source.type === 'file') expect(entry.content.equals(await readFile(source.sourcePath))).toBe(true);
        if (source.type === 'symlink') expect(entry.linkTarget).toBe(source.linkTarget);
      }
    }
  });

  it.each(['gnu', 'pax', 'ustar', 'posix', 'oldgnu'])('reads archives GNU tar writes in --format=%s', async (format) => {
    const file = path.join(workDir, `gnu-${format}.tar`);
    const source = path.join(moduleDir, 'rootfs');
    // ustar cannot hold the 400-character path nor the 157-character link target; leave those out for it.
    const exclude = format === 'ustar' ? ['--exclude', 'd'.repeat(200), '--exclude', 'long-link'] : [];
    await execFileAsync('tar', [`--format=${format}`, '--sort=name', ...exclude, '-cf', file, '-C', source, '.']);
    const entries = await readAll(createReadStream(file));
    const byPath = new Map(entries.map((entry) => [entry.path, entry]));
    expect(byPath.get('/')?.type).toBe('directory');
    for (const expected of tree) {
      if (format === 'ustar' && (expected.path.includes('d'.repeat(200)) || expected.path.endsWith('long-link'))) continue;
      const entry = byPath.get(expected.path);
      expect(entry?.type).toBe(expected.type);
      if (expected.type === 'file') expect(entry!.content.equals(await readFile(expected.sourcePath))).toBe(true);
      if (expected.type === 'symlink') expect(entry!.linkTarget).toBe(expected.linkTarget);
    }
  });

  it('skips content the consumer leaves unread', async () => {
    const bytes = await writeArchive(tree, path.join(workDir, 'skip.tar'));
    const paths: string[] = [];
    for await (const entry of readTar(chunked(bytes, 1000))) {
      paths.push(entry.path);
      if (entry.type === 'file') {
        // Read one chunk at most, then move on.
        for await (const _chunk of entry.body) break;
      }
    }
    expect(paths).toEqual(tree.map((entry) => entry.path));
  });

  it('refuses a header whose checksum does not match', async () => {
    const bytes = Buffer.from(await writeArchive(tree, path.join(workDir, 'bad-sum.tar')));
    bytes[5] = bytes[5]! ^ 0x01;
    await expect(readAll(chunked(bytes, 4096))).rejects.toThrow(/header checksum/);
  });

  it('refuses an archive cut short inside a file', async () => {
    const bytes = await writeArchive(tree, path.join(workDir, 'short.tar'));
    await expect(readAll(chunked(bytes.subarray(0, bytes.length - 4096 - 2 * TAR_BLOCK_SIZE), 4096))).rejects.toMatchObject({ code: 'manifest_invalid' });
  });

  it('refuses entry names that climb out of the tree', async () => {
    const header = encodeTarHeader({
      name: '../etc/passwd',
      typeflag: '0',
      mode: 0o644,
      uid: 0,
      gid: 0,
      size: 0,
      mtime: 0,
      linkname: '',
      uname: 'root',
      gname: 'root',
    });
    const archive = Buffer.concat([header, Buffer.alloc(2 * TAR_BLOCK_SIZE)]);
    const failure = readAll(chunked(archive, 512));
    await expect(failure).rejects.toBeInstanceOf(PowernodeError);
    await expect(readAll(chunked(archive, 512))).rejects.toThrow(/"\.\.\/etc\/passwd" has an empty, "\." or "\.\." component/);
  });

  it('treats an empty input as an empty archive', async () => {
    await expect(readAll(chunked(Buffer.alloc(0), 1))).resolves.toEqual([]);
  });
});
