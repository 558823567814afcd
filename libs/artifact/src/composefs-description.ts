import { PowernodeError } from '@powernode/contracts';
import { fsverityDigestOfBuffer } from '@powernode/fsverity';
import { compareModulePaths, type TreeEntryType } from './module-tree.js';

/*
 * The composefs description (`application/vnd.powernode.composefs.dump.v1`) is composefs-dump(5) text, the
 * format `mkcomposefs --from-file` reads and `composefs-info dump` writes: one line per entry, eleven
 * space-separated fields and no xattrs:
 *
 *   PATH SIZE MODE NLINK UID GID RDEV MTIME PAYLOAD CONTENT DIGEST
 *
 *   / 0 40755 3 0 0 0 0.0 - - -
 *   /etc 0 40755 4 0 0 0 0.0 - - -
 *   /etc/alternatives 0 40755 2 0 0 0 0.0 - - -
 *   /etc/alternatives/editor 13 120777 1 0 0 0 0.0 /usr/bin/nano - -
 *   /etc/redis 0 40755 2 0 0 0 0.0 - - -
 *   /etc/redis/redis.conf 182 100644 1 0 0 0 0.0 9c/76eecc…c2aa - 9c76eecc…c2aa
 *
 * What we write, always the same way for the same tree:
 * - lines sorted by the UTF-8 bytes of PATH (so a directory precedes its contents); the root `/` first;
 * - SIZE: content length for files, target length for symlinks, 0 for directories;
 * - MODE: st_mode in octal, type bits included (40755, 100644/100755, 120777); NLINK: 2 + subdirectories for
 *   a directory, 1 otherwise; UID/GID/RDEV 0; MTIME `<SOURCE_DATE_EPOCH>.0`;
 * - regular files: PAYLOAD is the object-store path `<2 hex>/<62 hex>` named by the file's fs-verity digest,
 *   CONTENT `-` (never inlined, so every file is covered by a digest), DIGEST the fs-verity digest (64 hex);
 * - symlinks: PAYLOAD is the target;
 * - bytes outside `!`..`~`, and `\`, are escaped `\xHH`; a field that is literally `-` is written `\x2d`.
 *
 * Its fs-verity digest is the artifact's root hash (`io.powernode.fsverity_root_hash`): it covers every
 * file's digest, so checking a tree against the description checks every byte of the tree.
 */

const S_IFMT = 0o170000;
const S_IFDIR = 0o040000;
const S_IFREG = 0o100000;
const S_IFLNK = 0o120000;

/** What the description records for one entry: what a tree is checked against. */
export interface DescribedEntry {
  path: string;
  type: TreeEntryType;
  /** Permission bits (`0o7777`). */
  mode: number;
  uid: number;
  gid: number;
  /** Content length of a file, target length of a symlink, 0 for a directory. */
  size: number;
  linkTarget?: string;
  /** fs-verity digest `sha256:<hex>` of a regular file's content. */
  digest?: string;
}

/** One parsed line of a composefs description. */
export interface ComposefsEntry extends DescribedEntry {
  nlink: number;
  rdev: number;
  mtime: { seconds: number; nanoseconds: number };
  /** Object-store path of a file, symlink target of a symlink. */
  payload?: string;
  /** Inlined content (descriptions from other writers may inline small files). */
  content?: Buffer;
  xattrs: Array<{ key: string; value: Buffer }>;
}

/** A parsed composefs description: its entries in file order, the root `/` first. */
export interface ComposefsDescription {
  entries: ComposefsEntry[];
}

/** The first difference between a tree and its description. */
export interface TreeMismatch {
  path: string;
  field: 'presence' | 'type' | 'mode' | 'uid' | 'gid' | 'size' | 'link_target' | 'digest';
  expected: string;
  actual: string;
}

function typeBits(type: TreeEntryType): number {
  switch (type) {
    case 'directory':
      return S_IFDIR;
    case 'file':
      return S_IFREG;
    case 'symlink':
      return S_IFLNK;
    default: {
      const unreachable: never = type;
      return unreachable;
    }
  }
}

/** Escapes one field as composefs-dump(5) requires (`=` too when `escapeEquals`). */
export function escapeDumpField(value: string | Buffer, escapeEquals = false): string {
  const bytes = typeof value === 'string' ? Buffer.from(value, 'utf8') : value;
  if (bytes.length === 1 && bytes[0] === 0x2d) return '\\x2d';
  let out = '';
  for (const byte of bytes) {
    const plain = byte > 0x20 && byte < 0x7f && byte !== 0x5c && !(escapeEquals && byte === 0x3d);
    out += plain ? String.fromCharCode(byte) : `\\x${byte.toString(16).padStart(2, '0')}`;
  }
  return out;
}

function invalid(line: number, why: string): PowernodeError {
  return new PowernodeError(
    'manifest_invalid',
    `composefs description line ${line}: ${why}; the artifact is malformed — rebuild it with powernode module build`,
    {
      details: { line, reason: why },
    },
  );
}

// The escapes `\\`, `\n`, `\r`, `\t`, keyed by the byte after the backslash.
const SIMPLE_ESCAPES = new Map<number, number>([
  [0x5c, 0x5c],
  [0x6e, 0x0a],
  [0x72, 0x0d],
  [0x74, 0x09],
]);

/** Reverses `escapeDumpField` (also `\\`, `\n`, `\r`, `\t`); `-` means "unset" and gives undefined. */
export function unescapeDumpField(field: string, line = 0): Buffer | undefined {
  if (field === '-') return undefined;
  const bytes = Buffer.from(field, 'utf8');
  const out = Buffer.alloc(bytes.length);
  let length = 0;
  for (let i = 0; i < bytes.length; i++) {
    const byte = bytes[i]!;
    if (byte !== 0x5c) {
      out[length++] = byte;
      continue;
    }
    const next = bytes[i + 1];
    if (next === 0x78) {
      const hex = bytes.subarray(i + 2, i + 4).toString('latin1');
      if (!/^[0-9a-fA-F]{2}$/.test(hex)) throw invalid(line, `bad escape "\\x${hex}"`);
      out[length++] = parseInt(hex, 16);
      i += 3;
      continue;
    }
    const simple = next === undefined ? undefined : SIMPLE_ESCAPES.get(next);
    if (simple === undefined) throw invalid(line, `bad escape "\\${next === undefined ? '' : String.fromCharCode(next)}"`);
    out[length++] = simple;
    i += 1;
  }
  return out.subarray(0, length);
}

function parentOf(modulePath: string): string {
  const slash = modulePath.lastIndexOf('/');
  return slash <= 0 ? '/' : modulePath.slice(0, slash);
}

function digestHex(digest: string, where: string): string {
  const match = /^sha256:([0-9a-f]{64})$/.exec(digest);
  if (match === null) {
    throw new PowernodeError('validation_failed', `${where}: fs-verity digest "${digest}" is not sha256:<64 lowercase hex>`, { details: { digest } });
  }
  return match[1]!;
}

/**
 * Writes the composefs description of a tree: `entries` are the tree without its root (any order; they are
 * sorted), every file with its fs-verity digest; `mtime` is SOURCE_DATE_EPOCH. Same tree, same bytes.
 */
export function formatComposefsDescription(entries: readonly DescribedEntry[], options: { mtime: number }): Buffer {
  const sorted = entries.filter((entry) => entry.path !== '/').sort((a, b) => compareModulePaths(a.path, b.path));
  const directories = new Map<string, number>([['/', 0]]);
  for (const entry of sorted) {
    if (!directories.has(parentOf(entry.path))) {
      throw new PowernodeError('validation_failed', `composefs description: ${entry.path} has no parent directory entry; include every directory of the tree`, {
        details: { path: entry.path },
      });
    }
    if (entry.type === 'directory') {
      directories.set(entry.path, 0);
      directories.set(parentOf(entry.path), directories.get(parentOf(entry.path))! + 1);
    }
  }
  const mtime = `${options.mtime}.0`;
  const line = (entry: DescribedEntry): string => {
    const mode = (typeBits(entry.type) | (entry.mode & 0o7777)).toString(8);
    switch (entry.type) {
      case 'directory':
        return [escapeDumpField(entry.path), '0', mode, String(2 + directories.get(entry.path)!), entry.uid, entry.gid, '0', mtime, '-', '-', '-'].join(' ');
      case 'symlink': {
        const target = entry.linkTarget ?? '';
        if (target === '')
          throw new PowernodeError('validation_failed', `composefs description: symlink ${entry.path} has no target`, { details: { path: entry.path } });
        return [
          escapeDumpField(entry.path),
          Buffer.byteLength(target, 'utf8'),
          mode,
          '1',
          entry.uid,
          entry.gid,
          '0',
          mtime,
          escapeDumpField(target),
          '-',
          '-',
        ].join(' ');
      }
      case 'file': {
        if (entry.digest === undefined) {
          throw new PowernodeError('validation_failed', `composefs description: file ${entry.path} has no fs-verity digest`, { details: { path: entry.path } });
        }
        const hex = digestHex(entry.digest, entry.path);
        return [escapeDumpField(entry.path), entry.size, mode, '1', entry.uid, entry.gid, '0', mtime, `${hex.slice(0, 2)}/${hex.slice(2)}`, '-', hex].join(' ');
      }
      default: {
        const unreachable: never = entry.type;
        return unreachable;
      }
    }
  };
  const root: DescribedEntry = { path: '/', type: 'directory', mode: 0o755, uid: 0, gid: 0, size: 0 };
  return Buffer.from([root, ...sorted].map((entry) => `${line(entry)}\n`).join(''), 'utf8');
}

function decimal(field: string, name: string, line: number): number {
  if (!/^\d+$/.test(field)) throw invalid(line, `${name} "${field}" is not a decimal number`);
  const value = Number(field);
  if (!Number.isSafeInteger(value)) throw invalid(line, `${name} ${field} is too large`);
  return value;
}

function isNormalPath(modulePath: string): boolean {
  if (modulePath === '/') return true;
  if (!modulePath.startsWith('/') || modulePath.endsWith('/')) return false;
  return modulePath
    .slice(1)
    .split('/')
    .every((part) => part !== '' && part !== '.' && part !== '..');
}

/**
 * Parses a composefs-dump(5) description, checking what verification relies on: the root first, absolute
 * normalised unique paths, each parent listed before its children as a directory, no hardlinks or device
 * nodes, and a digest (or inline content, whose digest is computed) for every regular file. Throws
 * `manifest_invalid` naming the line.
 */
export function parseComposefsDescription(bytes: Uint8Array): ComposefsDescription {
  const text = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('utf8');
  const lines = text.split('\n');
  if (lines[lines.length - 1] === '') lines.pop();
  const entries: ComposefsEntry[] = [];
  const seen = new Map<string, TreeEntryType>();
  lines.forEach((raw, index) => {
    const lineNumber = index + 1;
    const fields = raw.split(' ');
    if (fields.length < 11) throw invalid(lineNumber, `${fields.length} fields, composefs-dump(5) lines have at least 11`);
    const [pathField, sizeField, modeField, nlinkField, uidField, gidField, rdevField, mtimeField, payloadField, contentField, digestField] = fields as [
      string,
      string,
      string,
      string,
      string,
      string,
      string,
      string,
      string,
      string,
      string,
    ];
    const modulePath = unescapeDumpField(pathField, lineNumber)?.toString('utf8');
    if (modulePath === undefined || !isNormalPath(modulePath)) throw invalid(lineNumber, `path "${pathField}" is not an absolute normalised path`);
    if (seen.has(modulePath)) throw invalid(lineNumber, `${modulePath} is listed twice`);
    if (entries.length === 0 && modulePath !== '/') throw invalid(lineNumber, 'the first entry must be the root "/"');
    if (modulePath !== '/' && seen.get(parentOf(modulePath)) !== 'directory') throw invalid(lineNumber, `${modulePath} comes before its parent directory`);
    if (modeField.startsWith('@')) throw invalid(lineNumber, `${modulePath} is a hardlink, which module artifacts do not use`);
    if (!/^[0-7]+$/.test(modeField)) throw invalid(lineNumber, `mode "${modeField}" is not octal`);
    const stMode = parseInt(modeField, 8);
    const format = stMode & S_IFMT;
    const type: TreeEntryType | undefined = format === S_IFDIR ? 'directory' : format === S_IFREG ? 'file' : format === S_IFLNK ? 'symlink' : undefined;
    if (type === undefined) throw invalid(lineNumber, `${modulePath} has mode ${modeField}, which is not a directory, regular file or symlink`);
    if (modulePath === '/' && type !== 'directory') throw invalid(lineNumber, 'the root must be a directory');
    const mtime = /^(\d+)\.(\d+)$/.exec(mtimeField);
    if (mtime === null) throw invalid(lineNumber, `mtime "${mtimeField}" is not <seconds>.<nanoseconds>`);
    const payload = unescapeDumpField(payloadField, lineNumber);
    const content = unescapeDumpField(contentField, lineNumber);
    const size = decimal(sizeField, 'size', lineNumber);
    const entry: ComposefsEntry = {
      path: modulePath,
      type,
      mode: stMode & 0o7777,
      uid: decimal(uidField, 'uid', lineNumber),
      gid: decimal(gidField, 'gid', lineNumber),
      size: type === 'directory' ? 0 : size,
      nlink: decimal(nlinkField, 'nlink', lineNumber),
      rdev: decimal(rdevField, 'rdev', lineNumber),
      mtime: { seconds: Number(mtime[1]), nanoseconds: Number(mtime[2]) },
      xattrs: fields.slice(11).map((xattr) => {
        const equals = xattr.indexOf('=');
        if (equals <= 0) throw invalid(lineNumber, `xattr "${xattr}" is not KEY=VALUE`);
        return {
          key: unescapeDumpField(xattr.slice(0, equals), lineNumber)!.toString('utf8'),
          value: unescapeDumpField(xattr.slice(equals + 1), lineNumber) ?? Buffer.alloc(0),
        };
      }),
    };
    switch (type) {
      case 'directory':
        break;
      case 'symlink':
        if (payload === undefined || payload.length === 0) throw invalid(lineNumber, `symlink ${modulePath} has no target`);
        entry.linkTarget = payload.toString('utf8');
        entry.payload = entry.linkTarget;
        break;
      case 'file': {
        if (payload !== undefined) entry.payload = payload.toString('utf8');
        if (content !== undefined) {
          if (content.length !== size) throw invalid(lineNumber, `${modulePath} inlines ${content.length} bytes but its size is ${size}`);
          entry.content = content;
          entry.digest = fsverityDigestOfBuffer(content);
        } else if (/^[0-9a-f]{64}$/.test(digestField)) {
          entry.digest = `sha256:${digestField}`;
        } else {
          throw invalid(lineNumber, `regular file ${modulePath} has no fs-verity digest (field "${digestField}")`);
        }
        break;
      }
      default: {
        const unreachable: never = type;
        throw unreachable;
      }
    }
    seen.set(modulePath, type);
    entries.push(entry);
  });
  if (entries.length === 0) throw invalid(1, 'the description is empty; it must at least list the root "/"');
  return { entries };
}

/**
 * Compares a tree (entries with their computed fs-verity digests; the root may be left out) with its
 * description (parsed, or its bytes) and returns the first difference, or undefined when they agree: same
 * paths, types, modes, owners, sizes, symlink targets and file digests.
 */
export function verifyTreeAgainstDescription(
  entries: readonly DescribedEntry[],
  descriptionOrBytes: ComposefsDescription | Uint8Array,
): TreeMismatch | undefined {
  const description = descriptionOrBytes instanceof Uint8Array ? parseComposefsDescription(descriptionOrBytes) : descriptionOrBytes;
  const actualByPath = new Map<string, DescribedEntry>();
  for (const entry of entries) {
    if (entry.path === '/') continue;
    if (actualByPath.has(entry.path)) return { path: entry.path, field: 'presence', expected: 'one entry', actual: 'listed twice' };
    actualByPath.set(entry.path, entry);
  }
  const described = new Set<string>();
  for (const expected of description.entries) {
    if (expected.path === '/') continue;
    described.add(expected.path);
    const actual = actualByPath.get(expected.path);
    const mismatch = (field: TreeMismatch['field'], want: unknown, have: unknown): TreeMismatch => ({
      path: expected.path,
      field,
      expected: String(want),
      actual: String(have),
    });
    if (actual === undefined) return mismatch('presence', 'present', 'missing');
    if (actual.type !== expected.type) return mismatch('type', expected.type, actual.type);
    if (actual.mode !== expected.mode) return mismatch('mode', expected.mode.toString(8), actual.mode.toString(8));
    if (actual.uid !== expected.uid) return mismatch('uid', expected.uid, actual.uid);
    if (actual.gid !== expected.gid) return mismatch('gid', expected.gid, actual.gid);
    if (expected.type === 'file' && actual.size !== expected.size) return mismatch('size', expected.size, actual.size);
    if (expected.type === 'symlink' && actual.linkTarget !== expected.linkTarget) return mismatch('link_target', expected.linkTarget, actual.linkTarget);
    if (expected.type === 'file' && actual.digest !== expected.digest) return mismatch('digest', expected.digest, actual.digest ?? 'none');
  }
  for (const entry of entries) {
    if (entry.path !== '/' && !described.has(entry.path)) {
      return { path: entry.path, field: 'presence', expected: 'absent', actual: 'present' };
    }
  }
  return undefined;
}
