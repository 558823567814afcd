import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtemp, mkdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { PowernodeError } from '@powernode/contracts';
import {
  FSVERITY_BLOCK_SIZE,
  FSVERITY_DESCRIPTOR_SIZE,
  FsverityHasher,
  fsverityDescriptor,
  fsverityDigestOfBuffer,
  fsverityDigestOfFile,
  formatFsverityDigestLine,
} from './index.js';

const execFileAsync = promisify(execFile);
const BLOCK = FSVERITY_BLOCK_SIZE;

/** `fsverity digest <file>` output line without the newline: the oracle. */
async function cliLine(file: string): Promise<string> {
  const { stdout } = await execFileAsync('fsverity', ['digest', file]);
  return stdout.replace(/\n$/, '');
}

/** Feeds `bytes` in chunks whose sizes cycle through awkward values around the block size. */
function digestInOddChunks(bytes: Buffer): string {
  const sizes = [1, 7, BLOCK - 1, BLOCK + 1, 3 * BLOCK, 10_000, 0, 65_537];
  const hasher = new FsverityHasher();
  let offset = 0;
  for (let i = 0; offset < bytes.length; i++) {
    const size = sizes[i % sizes.length]!;
    hasher.update(bytes.subarray(offset, offset + size));
    offset += size;
  }
  return hasher.digest();
}

/** Deterministic but non-repeating content, cheap to produce for the large boundary files. */
function patterned(size: number, seed: number): Buffer {
  const bytes = Buffer.allocUnsafe(size + 3);
  let x = seed >>> 0 || 1;
  for (let i = 0; i < size; i += 4) {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    bytes.writeUInt32LE(x >>> 0, i);
  }
  return bytes.subarray(0, size);
}

let dir: string;
beforeAll(async () => {
  dir = await mkdtemp(path.join(tmpdir(), 'powernode-fsverity-spec-'));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

describe('fs-verity digest agrees with the fsverity CLI', () => {
  const cases: Array<[string, () => Buffer]> = [
    ['empty file', () => Buffer.alloc(0)],
    ['1 byte', () => randomBytes(1)],
    ['4,095 bytes (one short of a block)', () => randomBytes(BLOCK - 1)],
    ['4,096 bytes (exactly one block: no tree level)', () => randomBytes(BLOCK)],
    ['4,097 bytes (two blocks: first tree level)', () => randomBytes(BLOCK + 1)],
    ['128 blocks (one full tree block)', () => randomBytes(128 * BLOCK)],
    ['129 blocks (second tree level)', () => randomBytes(129 * BLOCK)],
    ['one block of zeros (same as padding, must still count its size)', () => Buffer.alloc(BLOCK)],
    ['10 MiB random', () => randomBytes(10 * 1024 * 1024)],
    ['128*128 blocks exactly (a full second level)', () => patterned(128 * 128 * BLOCK, 7)],
    ['128*128 blocks + 1 byte (a third level appears)', () => patterned(128 * 128 * BLOCK + 1, 11)],
    ['128*128 blocks - 1 byte', () => patterned(128 * 128 * BLOCK - 1, 13)],
  ];

  test.each(cases)('%s: buffer, file and incremental digests equal `fsverity digest`', async (name, make) => {
    const bytes = make();
    const file = path.join(dir, `${name.replace(/[^a-z0-9]+/gi, '-')}.bin`);
    await writeFile(file, bytes);
    const expectedLine = await cliLine(file);
    const expectedDigest = expectedLine.split(' ')[0];

    expect(expectedDigest).toMatch(/^sha256:[0-9a-f]{64}$/);
    expect(await fsverityDigestOfFile(file)).toBe(expectedDigest);
    expect(fsverityDigestOfBuffer(bytes)).toBe(expectedDigest);
    expect(digestInOddChunks(bytes)).toBe(expectedDigest);
    expect(formatFsverityDigestLine(expectedDigest!, file)).toBe(expectedLine);
  });
});

describe('FsverityHasher', () => {
  test('the empty file has an all-zero root hash', () => {
    const result = new FsverityHasher().result();
    expect(result.rootHash).toBe('0'.repeat(64));
    expect(result.dataSize).toBe(0);
  });

  test('digest() mid-stream does not disturb the running state', () => {
    const bytes = randomBytes(300 * BLOCK + 123);
    const hasher = new FsverityHasher();
    hasher.update(bytes.subarray(0, 129 * BLOCK + 5));
    const midway = hasher.digest();
    hasher.update(bytes.subarray(129 * BLOCK + 5));
    expect(midway).toBe(fsverityDigestOfBuffer(bytes.subarray(0, 129 * BLOCK + 5)));
    expect(hasher.digest()).toBe(fsverityDigestOfBuffer(bytes));
    expect(hasher.result().dataSize).toBe(bytes.length);
  });

  test('a trailing zero byte changes the digest (data size is part of it)', () => {
    const bytes = randomBytes(BLOCK - 10);
    expect(fsverityDigestOfBuffer(Buffer.concat([bytes, Buffer.alloc(1)]))).not.toBe(fsverityDigestOfBuffer(bytes));
  });
});

describe('fsverityDescriptor', () => {
  test('lays out struct fsverity_descriptor as the kernel UAPI does', () => {
    const root = Buffer.alloc(32, 0xab);
    const descriptor = fsverityDescriptor(root, 0x0102030405n);
    expect(descriptor.length).toBe(FSVERITY_DESCRIPTOR_SIZE);
    expect([...descriptor.subarray(0, 8)]).toEqual([1, 1, 12, 0, 0, 0, 0, 0]);
    expect(descriptor.readBigUInt64LE(8)).toBe(0x0102030405n);
    expect(descriptor.subarray(16, 48).equals(root)).toBe(true);
    expect(descriptor.subarray(48).every((byte) => byte === 0)).toBe(true);
  });

  test('refuses a root hash that is not 32 bytes', () => {
    expect(() => fsverityDescriptor(Buffer.alloc(31), 1)).toThrow(/32 bytes/);
  });
});

describe('fsverityDigestOfFile failures', () => {
  test('a missing file is not_found', async () => {
    const missing = path.join(dir, 'does-not-exist');
    await expect(fsverityDigestOfFile(missing)).rejects.toMatchObject({ code: 'not_found', details: { path: missing } });
  });

  test('a directory is refused with validation_failed', async () => {
    const sub = path.join(dir, 'a-directory');
    await mkdir(sub);
    const error = await fsverityDigestOfFile(sub).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(PowernodeError);
    expect((error as PowernodeError).code).toBe('validation_failed');
  });
});

describe('formatFsverityDigestLine', () => {
  test('matches the CLI for a name with spaces and adds a missing sha256: prefix', async () => {
    const file = path.join(dir, 'name with spaces.txt');
    await writeFile(file, 'hello\n');
    const line = await cliLine(file);
    const digest = await fsverityDigestOfFile(file);
    expect(formatFsverityDigestLine(digest, file)).toBe(line);
    expect(formatFsverityDigestLine(digest.slice('sha256:'.length), file)).toBe(line);
  });
});
