import { PowernodeError } from '@powernode/contracts';

/*
 * POSIX.1-2001 (pax) tar headers: 512-byte ustar blocks, preceded by a pax extended header ('x') when a
 * value does not fit ustar (a name or link target longer than the fields allow or not ASCII, a size of
 * 8 GiB or more). Everything we write is deterministic: the pax header's own name is a constant, its
 * mtime the entry's.
 */

export const TAR_BLOCK_SIZE = 512;

/** ustar type flags we write or read. */
export const TAR_TYPE = {
  file: '0',
  oldFile: '\0',
  hardlink: '1',
  symlink: '2',
  directory: '5',
  contiguousFile: '7',
  paxExtended: 'x',
  paxGlobal: 'g',
  gnuLongName: 'L',
  gnuLongLink: 'K',
} as const;

// 11 octal digits: the largest number a 12-byte ustar numeric field holds.
const MAX_OCTAL_11 = 0o77777777777;
const MAX_OCTAL_7 = 0o7777777;
const PAX_HEADER_NAME = 'PaxHeader/@PaxHeader';

/** What one tar header describes. */
export interface TarHeaderFields {
  /** Path inside the archive, relative, `/`-separated; directories end with `/`. */
  name: string;
  typeflag: string;
  mode: number;
  uid: number;
  gid: number;
  size: number;
  mtime: number;
  linkname: string;
  uname: string;
  gname: string;
}

function isPortable(value: string, maxBytes: number): boolean {
  // eslint-disable-next-line no-control-regex
  return /^[\x01-\x7f]*$/.test(value) && value.length <= maxBytes;
}

/** Splits a long ASCII name into ustar prefix (≤155) and name (≤100) at a `/`, or undefined when impossible. */
function splitUstarName(name: string): { prefix: string; name: string } | undefined {
  if (name.length <= 100) return { prefix: '', name };
  for (let cut = name.indexOf('/'); cut !== -1; cut = name.indexOf('/', cut + 1)) {
    const prefix = name.slice(0, cut);
    const rest = name.slice(cut + 1);
    if (prefix.length > 155) return undefined;
    if (rest.length <= 100 && rest.length > 0) return { prefix, name: rest };
  }
  return undefined;
}

function writeString(block: Buffer, offset: number, length: number, value: string): void {
  const bytes = Buffer.from(value, 'utf8');
  bytes.copy(block, offset, 0, Math.min(bytes.length, length));
}

function writeOctal(block: Buffer, offset: number, length: number, value: number): void {
  // `length - 1` digits followed by NUL, zero-padded, as GNU tar writes them.
  block.write(`${value.toString(8).padStart(length - 1, '0')}\0`, offset, length, 'ascii');
}

/** One pax record `"<len> <key>=<value>\n"`, where `<len>` counts the whole record including itself. */
export function paxRecord(key: string, value: string): Buffer {
  const body = ` ${key}=${value}\n`;
  const bodyLength = Buffer.byteLength(body, 'utf8');
  let length = bodyLength + 1;
  while (String(length).length + bodyLength !== length) length = String(length).length + bodyLength;
  return Buffer.from(`${length}${body}`, 'utf8');
}

function ustarBlock(fields: TarHeaderFields, split: { prefix: string; name: string }): Buffer {
  const block = Buffer.alloc(TAR_BLOCK_SIZE);
  writeString(block, 0, 100, split.name);
  writeOctal(block, 100, 8, fields.mode);
  writeOctal(block, 108, 8, fields.uid);
  writeOctal(block, 116, 8, fields.gid);
  writeOctal(block, 124, 12, fields.size > MAX_OCTAL_11 ? 0 : fields.size);
  writeOctal(block, 136, 12, fields.mtime);
  block.write('        ', 148, 8, 'ascii');
  block.write(fields.typeflag, 156, 1, 'ascii');
  writeString(block, 157, 100, fields.linkname);
  block.write('ustar\u000000', 257, 8, 'ascii');
  writeString(block, 265, 32, fields.uname);
  writeString(block, 297, 32, fields.gname);
  writeOctal(block, 329, 8, 0);
  writeOctal(block, 337, 8, 0);
  writeString(block, 345, 155, split.prefix);
  const checksum = headerChecksum(block);
  block.write(`${checksum.toString(8).padStart(6, '0')}\0 `, 148, 8, 'ascii');
  return block;
}

/** Sum of the header's bytes with the checksum field counted as spaces (the ustar rule). */
export function headerChecksum(block: Buffer): number {
  let sum = 0;
  for (let i = 0; i < TAR_BLOCK_SIZE; i++) sum += i >= 148 && i < 156 ? 0x20 : block[i]!;
  return sum;
}

/** Zero bytes that pad `size` bytes of data to a whole number of tar blocks. */
export function paddingFor(size: number): number {
  const rest = size % TAR_BLOCK_SIZE;
  return rest === 0 ? 0 : TAR_BLOCK_SIZE - rest;
}

/**
 * The header block(s) of one entry: a pax extended header first when the name, link target or size do not
 * fit ustar, then the ustar header. Numbers must be non-negative integers.
 */
export function encodeTarHeader(fields: TarHeaderFields): Buffer {
  if (fields.mtime < 0 || fields.mtime > MAX_OCTAL_11 || fields.uid > MAX_OCTAL_7 || fields.gid > MAX_OCTAL_7) {
    throw new PowernodeError('validation_failed', `tar header for ${fields.name}: mtime, uid or gid out of the ustar range`, {
      details: { name: fields.name, mtime: fields.mtime, uid: fields.uid, gid: fields.gid },
    });
  }
  const records: Buffer[] = [];
  let split = isPortable(fields.name, 255) ? splitUstarName(fields.name) : undefined;
  if (split === undefined) {
    records.push(paxRecord('path', fields.name));
    // A readable stand-in for readers that ignore pax: the name's last ASCII characters.
    const fallback = fields.name.replace(/[^\x20-\x7e]/g, '_');
    split = { prefix: '', name: fallback.slice(-100) };
  }
  let linkname = fields.linkname;
  if (!isPortable(linkname, 100)) {
    records.push(paxRecord('linkpath', linkname));
    linkname = '';
  }
  if (fields.size > MAX_OCTAL_11) records.push(paxRecord('size', String(fields.size)));
  const ustar = ustarBlock({ ...fields, linkname }, split);
  if (records.length === 0) return ustar;

  const paxData = Buffer.concat(records);
  const paxHeader = ustarBlock(
    {
      name: PAX_HEADER_NAME,
      typeflag: TAR_TYPE.paxExtended,
      mode: 0o644,
      uid: 0,
      gid: 0,
      size: paxData.length,
      mtime: fields.mtime,
      linkname: '',
      uname: fields.uname,
      gname: fields.gname,
    },
    { prefix: '', name: PAX_HEADER_NAME },
  );
  return Buffer.concat([paxHeader, paxData, Buffer.alloc(paddingFor(paxData.length)), ustar]);
}

/** A decoded ustar (or GNU/v7) header block, before pax or GNU long-name overrides are applied. */
export interface RawTarHeader extends TarHeaderFields {
  /** ustar prefix already joined into `name`. */
  format: 'ustar' | 'gnu' | 'v7';
}

function corrupt(why: string): PowernodeError {
  return new PowernodeError('manifest_invalid', `the tar layer is corrupt: ${why}; rebuild and re-push the artifact`, { details: { reason: why } });
}

function readString(block: Buffer, offset: number, length: number): string {
  const field = block.subarray(offset, offset + length);
  const end = field.indexOf(0);
  return field.subarray(0, end === -1 ? length : end).toString('utf8');
}

function readNumber(block: Buffer, offset: number, length: number, field: string): number {
  const bytes = block.subarray(offset, offset + length);
  if ((bytes[0]! & 0x80) !== 0) {
    // GNU base-256: big-endian two's complement with the top bit of the first byte as the marker.
    if ((bytes[0]! & 0x40) !== 0) throw corrupt(`negative base-256 ${field}`);
    let value = BigInt(bytes[0]! & 0x3f);
    for (let i = 1; i < length; i++) value = (value << 8n) | BigInt(bytes[i]!);
    if (value > BigInt(Number.MAX_SAFE_INTEGER)) throw corrupt(`${field} too large`);
    return Number(value);
  }
  const text = bytes
    .toString('ascii')
    .replace(/[\0 ]+$/, '')
    .replace(/^ +/, '');
  if (text === '') return 0;
  if (!/^[0-7]+$/.test(text)) throw corrupt(`${field} field "${text}" is not octal`);
  return parseInt(text, 8);
}

/** True when a block is all zeros (end-of-archive marker). */
export function isZeroBlock(block: Buffer): boolean {
  for (let i = 0; i < block.length; i++) if (block[i] !== 0) return false;
  return true;
}

/** Decodes one header block, checking its checksum; throws `manifest_invalid` for a damaged header. */
export function decodeTarHeader(block: Buffer): RawTarHeader {
  if (block.length !== TAR_BLOCK_SIZE) throw corrupt(`a header of ${block.length} bytes`);
  const stored = readNumber(block, 148, 8, 'checksum');
  if (stored !== headerChecksum(block)) throw corrupt(`header checksum ${stored} does not match ${headerChecksum(block)}`);
  const magic = block.subarray(257, 263).toString('latin1');
  const format = magic === 'ustar\0' ? 'ustar' : magic === 'ustar ' ? 'gnu' : 'v7';
  const name = readString(block, 0, 100);
  const prefix = format === 'ustar' ? readString(block, 345, 155) : '';
  return {
    format,
    name: prefix === '' ? name : `${prefix}/${name}`,
    mode: readNumber(block, 100, 8, 'mode'),
    uid: readNumber(block, 108, 8, 'uid'),
    gid: readNumber(block, 116, 8, 'gid'),
    size: readNumber(block, 124, 12, 'size'),
    mtime: readNumber(block, 136, 12, 'mtime'),
    typeflag: String.fromCharCode(block[156]!),
    linkname: readString(block, 157, 100),
    uname: format === 'v7' ? '' : readString(block, 265, 32),
    gname: format === 'v7' ? '' : readString(block, 297, 32),
  };
}

/** Parses pax extended header data into its key/value records; throws `manifest_invalid` when malformed. */
export function parsePaxRecords(data: Buffer): Map<string, string> {
  const records = new Map<string, string>();
  let offset = 0;
  while (offset < data.length) {
    // Trailing NULs pad some writers' pax data.
    if (data[offset] === 0) break;
    const space = data.indexOf(0x20, offset);
    if (space === -1) throw corrupt('a pax record without a length');
    const length = Number(data.subarray(offset, space).toString('ascii'));
    if (!Number.isInteger(length) || length <= space - offset + 1 || offset + length > data.length || data[offset + length - 1] !== 0x0a) {
      throw corrupt('a pax record with a bad length');
    }
    const record = data.subarray(space + 1, offset + length - 1).toString('utf8');
    const equals = record.indexOf('=');
    if (equals <= 0) throw corrupt('a pax record without key=value');
    records.set(record.slice(0, equals), record.slice(equals + 1));
    offset += length;
  }
  return records;
}
