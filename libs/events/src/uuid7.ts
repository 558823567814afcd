import { contentDerivedId } from '@powernode/contracts';
import { randomFillSync } from 'node:crypto';

let lastMs = 0;
let seq = 0;
// Random bytes are drawn from the OS in 4 KiB refills: one call per id costs more than minting the id itself.
const pool = Buffer.alloc(4096);
let poolOffset = pool.length;

function randomBytes(n: number): Buffer {
  if (poolOffset + n > pool.length) {
    randomFillSync(pool);
    poolOffset = 0;
  }
  const out = Buffer.from(pool.subarray(poolOffset, poolOffset + n));
  poolOffset += n;
  return out;
}

/**
 * RFC 9562 UUIDv7: 48-bit unix ms timestamp, then a 12-bit counter so ids minted in the same millisecond
 * still sort in creation order within this process.
 */
export function uuidv7(now: number = Date.now()): string {
  if (now <= lastMs) {
    seq = (seq + 1) & 0xfff;
    if (seq === 0) lastMs += 1;
    now = lastMs;
  } else {
    lastMs = now;
    seq = randomBytes(2).readUInt16BE(0) & 0x3ff;
  }
  const b = randomBytes(16);
  b.writeUIntBE(now, 0, 6);
  b[6] = 0x70 | ((seq >> 8) & 0x0f);
  b[7] = seq & 0xff;
  b[8] = 0x80 | (b[8]! & 0x3f);
  return formatUuid(b.toString('hex'));
}

/**
 * A UUID derived from names (the same as `contentDerivedId` of @powernode/contracts): the same inputs give the
 * same id, so the effect of a redelivered message is appended with the same event id and the store treats the
 * second copy as a no-op.
 */
export const uuidFromName: (...parts: string[]) => string = contentDerivedId;

function formatUuid(h: string): string {
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-${h.slice(12, 16)}-${h.slice(16, 20)}-${h.slice(20, 32)}`;
}
