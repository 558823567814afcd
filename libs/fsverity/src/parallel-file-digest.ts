import { stat } from 'node:fs/promises';
import { availableParallelism } from 'node:os';
import { Worker } from 'node:worker_threads';
import { PowernodeError } from '@powernode/contracts/errors';
import { FSVERITY_BLOCK_SIZE, FSVERITY_HASH_SIZE, fsverityDigestFromRootHash } from './descriptor.js';
import { fsverityDigestOfFile } from './file-digest.js';
import { sha256 } from './merkle-tree.js';

// Below this a worker's start-up costs more than the hashing it would take over.
const PARALLEL_MIN_BYTES = 64 * 1024 * 1024;

// Hashing the data blocks is nearly all of the work (the tree above them is 1/128 of it) and each block's
// digest depends on that block alone, so workers each read and hash a contiguous range of blocks into their
// slice of one shared buffer, and this thread builds the tree from it. The worker source is inline so that it
// runs the same from the compiled library, from TypeScript sources and under jest.
const BLOCK_DIGEST_WORKER = `
const { workerData, parentPort } = require('node:worker_threads');
const { openSync, readSync, closeSync } = require('node:fs');
const { hash } = require('node:crypto');
const { file, digests, firstBlock, endBlock, size, blockSize, hashSize } = workerData;
const out = Buffer.from(digests);
// 64 KiB reads: the buffer stays in cache between the read and the hashing; 1 MiB reads tripled system time.
const CHUNK_BLOCKS = 16;
const buffer = Buffer.alloc(CHUNK_BLOCKS * blockSize);
const fd = openSync(file, 'r');
try {
  for (let block = firstBlock; block < endBlock; ) {
    const blocks = Math.min(CHUNK_BLOCKS, endBlock - block);
    const wanted = Math.min(blocks * blockSize, size - block * blockSize);
    for (let got = 0; got < wanted; ) {
      const n = readSync(fd, buffer, got, wanted - got, block * blockSize + got);
      if (n === 0) throw new Error('the file got shorter while it was being digested');
      got += n;
    }
    buffer.fill(0, wanted, blocks * blockSize);
    // A latin1 string is the cheapest form crypto.hash returns (no Buffer per block); its characters are the bytes.
    for (let i = 0; i < blocks; i++) out.write(hash('sha256', buffer.subarray(i * blockSize, (i + 1) * blockSize), 'latin1'), (block + i) * hashSize, hashSize, 'latin1');
    block += blocks;
  }
} finally {
  closeSync(fd);
}
parentPort.postMessage('done');
`;

function hashBlockRange(file: string, digests: SharedArrayBuffer, firstBlock: number, endBlock: number, size: number): Promise<void> {
  return new Promise((resolve, reject) => {
    const worker = new Worker(BLOCK_DIGEST_WORKER, {
      eval: true,
      workerData: { file, digests, firstBlock, endBlock, size, blockSize: FSVERITY_BLOCK_SIZE, hashSize: FSVERITY_HASH_SIZE },
    });
    let done = false;
    worker.once('message', () => {
      done = true;
      resolve();
    });
    worker.once('error', reject);
    worker.once('exit', (code) => {
      if (!done) reject(new Error(`the digest worker exited with code ${code}`));
    });
  });
}

/** The Merkle root from the data blocks' digests: the only digest of the first level that has exactly one. */
function rootHashOf(blockDigests: Buffer): Buffer {
  let level = blockDigests;
  while (level.length > FSVERITY_HASH_SIZE) {
    const blocks = Math.ceil(level.length / FSVERITY_BLOCK_SIZE);
    const next = Buffer.alloc(blocks * FSVERITY_HASH_SIZE);
    const block = Buffer.alloc(FSVERITY_BLOCK_SIZE);
    for (let i = 0; i < blocks; i++) {
      block.fill(0);
      level.copy(block, 0, i * FSVERITY_BLOCK_SIZE, Math.min((i + 1) * FSVERITY_BLOCK_SIZE, level.length));
      sha256(block).copy(next, i * FSVERITY_HASH_SIZE);
    }
    level = next;
  }
  return level;
}

/**
 * fs-verity digest (`sha256:<hex>`) of a file, hashed by `threads` worker threads (default: one per core)
 * when it has at least `minBytes` (default 64 MiB); the same value as `fsverityDigestOfFile`. For when one digest is all the process does, such as the CLI's
 * `digest`: a service digesting many files at once already keeps its cores busy with the single-threaded one.
 */
export async function fsverityDigestOfFileParallel(path: string, options: { threads?: number; minBytes?: number } = {}): Promise<string> {
  const threads = options.threads ?? availableParallelism();
  const stats = await stat(path).catch(() => undefined);
  // Anything unusual (missing, not a regular file, small) takes the streaming path, which also reports errors.
  if (threads < 2 || stats === undefined || !stats.isFile() || stats.size < (options.minBytes ?? PARALLEL_MIN_BYTES)) return fsverityDigestOfFile(path);
  const size = stats.size;
  const blocks = Math.ceil(size / FSVERITY_BLOCK_SIZE);
  const digests = new SharedArrayBuffer(blocks * FSVERITY_HASH_SIZE);
  const perThread = Math.ceil(blocks / threads);
  const ranges: Promise<void>[] = [];
  for (let first = 0; first < blocks; first += perThread) ranges.push(hashBlockRange(path, digests, first, Math.min(first + perThread, blocks), size));
  try {
    await Promise.all(ranges);
  } catch (cause) {
    throw new PowernodeError('validation_failed', `cannot read ${path} for its fs-verity digest: ${(cause as Error).message}`, { cause, details: { path } });
  }
  return fsverityDigestFromRootHash(rootHashOf(Buffer.from(digests)), size);
}
