import { PowernodeError } from '@powernode/contracts';
import { TAR_BLOCK_SIZE, TAR_TYPE, decodeTarHeader, isZeroBlock, paddingFor, parsePaxRecords } from './tar-header.js';

/** Kinds of archive entry the reader reports; `other` covers devices, FIFOs and unknown type flags. */
export type TarEntryType = 'file' | 'directory' | 'symlink' | 'hardlink' | 'other';

/** One entry of an archive, with pax and GNU long-name records applied. */
export interface TarEntryHeader {
  /** Absolute module path (`/etc/redis/redis.conf`; `/` for the archive root `./`). */
  path: string;
  type: TarEntryType;
  typeflag: string;
  /** Permission bits (`0o7777`). */
  mode: number;
  uid: number;
  gid: number;
  size: number;
  mtime: number;
  uname: string;
  gname: string;
  /** Symlink target or hardlink source. */
  linkTarget?: string;
}

/** An entry and its content; `body` must be consumed (or left alone) before asking for the next entry. */
export interface TarEntry extends TarEntryHeader {
  body: AsyncIterable<Buffer>;
}

// Pax and GNU long-name records are small; anything bigger is an attack on the reader's memory.
const MAX_METADATA_BYTES = 1024 * 1024;

function corrupt(why: string): PowernodeError {
  return new PowernodeError('manifest_invalid', `the tar layer is corrupt: ${why}; rebuild and re-push the artifact`, { details: { reason: why } });
}

/** Pulls exact byte counts out of a chunked source. */
class ByteSource {
  private readonly iterator: AsyncIterator<Uint8Array>;
  private buffered: Buffer[] = [];
  private bufferedLength = 0;
  private done = false;

  constructor(source: AsyncIterable<Uint8Array>) {
    this.iterator = source[Symbol.asyncIterator]();
  }

  private async fill(): Promise<boolean> {
    if (this.done) return false;
    const next = await this.iterator.next();
    if (next.done === true) {
      this.done = true;
      return false;
    }
    const chunk = Buffer.from(next.value.buffer, next.value.byteOffset, next.value.byteLength);
    if (chunk.length > 0) {
      this.buffered.push(chunk);
      this.bufferedLength += chunk.length;
    }
    return true;
  }

  /** Exactly `length` bytes, or undefined at a clean end of input before any of them. */
  async readExact(length: number): Promise<Buffer | undefined> {
    while (this.bufferedLength < length) {
      if (!(await this.fill())) {
        if (this.bufferedLength === 0) return undefined;
        throw corrupt(`the archive ends in the middle of a block (${this.bufferedLength} of ${length} bytes)`);
      }
    }
    const all = this.buffered.length === 1 ? this.buffered[0]! : Buffer.concat(this.buffered);
    const out = all.subarray(0, length);
    const rest = all.subarray(length);
    this.buffered = rest.length > 0 ? [rest] : [];
    this.bufferedLength = rest.length;
    return out;
  }

  /** Up to `length` bytes as they arrive, in chunks; fails when the input ends first. */
  async *readChunks(length: number): AsyncGenerator<Buffer> {
    let remaining = length;
    while (remaining > 0) {
      if (this.bufferedLength === 0 && !(await this.fill())) throw corrupt(`the archive ends ${remaining} bytes before an entry's content does`);
      const head = this.buffered[0];
      if (head === undefined) continue;
      if (head.length <= remaining) {
        this.buffered.shift();
        this.bufferedLength -= head.length;
        remaining -= head.length;
        yield head;
      } else {
        this.buffered[0] = head.subarray(remaining);
        this.bufferedLength -= remaining;
        const out = head.subarray(0, remaining);
        remaining = 0;
        yield out;
      }
    }
  }

  async skip(length: number): Promise<void> {
    for await (const _chunk of this.readChunks(length)) {
      // discarded
    }
  }

  async close(): Promise<void> {
    if (!this.done) await this.iterator.return?.();
  }
}

function typeOf(typeflag: string): TarEntryType {
  switch (typeflag) {
    case TAR_TYPE.file:
    case TAR_TYPE.oldFile:
    case TAR_TYPE.contiguousFile:
      return 'file';
    case TAR_TYPE.directory:
      return 'directory';
    case TAR_TYPE.symlink:
      return 'symlink';
    case TAR_TYPE.hardlink:
      return 'hardlink';
    default:
      return 'other';
  }
}

/**
 * The absolute module path of an archive name: leading `./` and `/` and a trailing `/` dropped. Names with
 * `..` or empty components are refused: an archive must not point outside the tree it describes.
 */
export function modulePathOfTarName(name: string): string {
  const trimmed = name.replace(/^(?:\.\/|\/)+/, '').replace(/\/+$/, '');
  if (trimmed === '' || trimmed === '.') return '/';
  const parts = trimmed.split('/');
  if (parts.some((part) => part === '' || part === '.' || part === '..')) throw corrupt(`entry name "${name}" has an empty, "." or ".." component`);
  return `/${parts.join('/')}`;
}

async function readMetadata(source: ByteSource, size: number, what: string): Promise<Buffer> {
  if (size > MAX_METADATA_BYTES) throw corrupt(`a ${what} record of ${size} bytes`);
  const data = size === 0 ? Buffer.alloc(0) : await source.readExact(size + paddingFor(size));
  if (data === undefined) throw corrupt(`the archive ends inside a ${what} record`);
  return data.subarray(0, size);
}

/**
 * Reads a tar stream (ustar, pax, GNU long names, v7) entry by entry without buffering file contents.
 * Header checksums are checked; a truncated or malformed archive throws `manifest_invalid`. Global pax
 * headers are accepted and ignored (we never write them and nothing we verify depends on them).
 */
export async function* readTar(source: AsyncIterable<Uint8Array>): AsyncGenerator<TarEntry> {
  const bytes = new ByteSource(source);
  try {
    let pax = new Map<string, string>();
    let longName: string | undefined;
    let longLink: string | undefined;
    for (;;) {
      const block = await bytes.readExact(TAR_BLOCK_SIZE);
      if (block === undefined) return;
      if (isZeroBlock(block)) {
        // The end-of-archive marker; some writers leave out the second block.
        await bytes.readExact(TAR_BLOCK_SIZE);
        return;
      }
      const raw = decodeTarHeader(block);
      switch (raw.typeflag) {
        case TAR_TYPE.paxExtended:
          pax = parsePaxRecords(await readMetadata(bytes, raw.size, 'pax header'));
          continue;
        case TAR_TYPE.paxGlobal:
          await readMetadata(bytes, raw.size, 'global pax header');
          continue;
        case TAR_TYPE.gnuLongName:
          longName = (await readMetadata(bytes, raw.size, 'GNU long name')).toString('utf8').replace(/\0+$/, '');
          continue;
        case TAR_TYPE.gnuLongLink:
          longLink = (await readMetadata(bytes, raw.size, 'GNU long link')).toString('utf8').replace(/\0+$/, '');
          continue;
        default:
          break;
      }
      const name = pax.get('path') ?? longName ?? raw.name;
      const linkname = pax.get('linkpath') ?? longLink ?? raw.linkname;
      const paxSize = pax.get('size');
      if (paxSize !== undefined && !/^\d+$/.test(paxSize)) throw corrupt(`pax size "${paxSize}" is not a number`);
      const type = typeOf(raw.typeflag);
      // Only regular files carry content; other entries' size field is informational.
      const size = type === 'file' || type === 'other' ? (paxSize === undefined ? raw.size : Number(paxSize)) : 0;
      const header: TarEntryHeader = {
        path: modulePathOfTarName(name),
        type,
        typeflag: raw.typeflag,
        mode: raw.mode & 0o7777,
        uid: pax.has('uid') ? Number(pax.get('uid')) : raw.uid,
        gid: pax.has('gid') ? Number(pax.get('gid')) : raw.gid,
        size,
        mtime: pax.has('mtime') ? Math.floor(Number(pax.get('mtime'))) : raw.mtime,
        uname: pax.get('uname') ?? raw.uname,
        gname: pax.get('gname') ?? raw.gname,
        ...(type === 'symlink' || type === 'hardlink' ? { linkTarget: linkname } : {}),
      };
      pax = new Map();
      longName = undefined;
      longLink = undefined;

      let started = false;
      let delivered = 0;
      const body = async function* (): AsyncGenerator<Buffer> {
        if (started) throw new Error(`the content of ${header.path} was already read`);
        started = true;
        for await (const chunk of bytes.readChunks(size)) {
          delivered += chunk.length;
          yield chunk;
        }
      };
      yield { ...header, body: { [Symbol.asyncIterator]: body } };
      // Whatever the consumer left unread is skipped, so the next header is found where it is.
      await bytes.skip(size - delivered);
      await bytes.skip(paddingFor(size));
    }
  } finally {
    await bytes.close();
  }
}
