import { randomBytes } from 'node:crypto';
import { chmod, copyFile, link, lchown, mkdir, open, readFile, rename, rm, symlink, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { describeDirectory, EXTRACTED_TREE_ENTRIES, stackDescriptions, type DescribedEntry } from '@powernode/artifact';
import { PowernodeError } from '@powernode/contracts';
import { hostPathOf, pathExists, runHostCommand } from './host-commands.js';
import { EROFS_BUILD_TIME, EROFS_UUID } from './layer-images.js';

/*
 * A QEMU machine's root under kernel-enforced integrity, composefs-style, built without the composefs tools
 * (Debian ships none):
 *
 *   object stores  one ext4 image per layer (fs-verity feature on), holding each of the layer's files once,
 *                  at objects/<2 hex>/<62 hex> of its fs-verity digest (the composefs layout), beside the
 *                  layer's verified tree in the shared cache: built once per host and layer, shared by every VM.
 *                  The host's kernel cannot enable fs-verity, so a short-lived guest does, once per store
 *                  (qemu-machine.ts); from then on every VM attaches the store read-only.
 *   metadata       an erofs image of the composed root without content: directories, symlinks, and sparse
 *                  files of the right size whose xattrs send overlayfs to their object and name its digest
 *                  (trusted.overlay.redirect=/objects/…, trusted.overlay.metacopy = 00 24 00 01 <sha256>).
 *
 * The guest mounts `overlay lowerdir=<metadata>::<store 1>::<store 2>…,metacopy=on,redirect_dir=on,verity=require`
 * with the instance's upper: every file opened is checked to have the fs-verity digest the metadata names, and
 * every page read from it is checked against its Merkle tree. A byte of an object changed on the host after
 * the keeper verified the layer (in a store image) makes reads of that file fail with EIO in every guest.
 *
 * What the metadata says comes from the signed descriptions: each module tree's entries as they were
 * verified at extraction (entries.json), stacked, plus the generation's own top/ (hashed here). The metadata
 * image and the index of which file each object backs are per generation, in `<root>/verity/`.
 */

const VERITY_DIR = 'verity';
export const METADATA_IMAGE = 'meta.erofs';
/** Which path each object came from, for the agent's integrity reports (object → paths in the root). */
export const OBJECT_INDEX = 'objects.json';
/** Written beside a store image once a guest enabled fs-verity on every object in it. */
export const VERITY_ENABLED_SUFFIX = '.verity-enabled';

export interface VerifiedRootImages {
  metadataImage: string;
  /** The object stores of the lowers, highest first: each layer's own, shared by every VM that stacks it. */
  objectStores: string[];
  objectIndex: string;
}

/** The object store image of a lower directory: beside a module tree in the shared cache, or a generation's top. */
export function objectStorePath(lowerDir: string): string {
  return path.basename(lowerDir) === 'root' ? path.join(path.dirname(lowerDir), 'objects.ext4') : `${lowerDir}.objects.ext4`;
}

/** True once a guest enabled fs-verity on the store (it is attached read-only from then on). */
export async function verityEnabled(storeImage: string): Promise<boolean> {
  return pathExists(`${storeImage}${VERITY_ENABLED_SUFFIX}`);
}

export async function markVerityEnabled(storeImage: string): Promise<void> {
  await writeFile(`${storeImage}${VERITY_ENABLED_SUFFIX}`, `${new Date().toISOString()}\n`);
}

/** objects/<2 hex>/<62 hex> of a `sha256:<hex>` fs-verity digest. */
export function objectPathOf(digest: string): string {
  const hex = digest.replace(/^sha256:/, '');
  return `objects/${hex.slice(0, 2)}/${hex.slice(2)}`;
}

/** The overlay metacopy xattr naming an fs-verity sha256 digest: version 0, length 36, flags 0, algorithm 1. */
export function metacopyXattr(digest: string): string {
  return `0x00240001${digest.replace(/^sha256:/, '')}`;
}

/** A path as getfattr dumps it: control characters, backslash and non-ASCII as octal escapes. */
function dumpPath(value: string): string {
  return [...Buffer.from(value, 'utf8')]
    .map((byte) => (byte < 0x21 || byte > 0x7e || byte === 0x5c ? `\\${byte.toString(8).padStart(3, '0')}` : String.fromCharCode(byte)))
    .join('');
}

async function layerEntries(lower: string): Promise<DescribedEntry[]> {
  if (path.basename(lower) === 'root') {
    const recorded = await readFile(path.join(path.dirname(lower), EXTRACTED_TREE_ENTRIES), 'utf8').catch(() => null);
    if (recorded !== null) return JSON.parse(recorded) as DescribedEntry[];
  }
  return describeDirectory(lower);
}

function failed(message: string, rule: string): PowernodeError {
  return new PowernodeError('machine_failed', message, { retryable: true, details: { rule } });
}

/** The metadata and object-store images of a stacked generation (lowers highest first), built once per generation. */
/** One file an object backs: its path in the root and the module whose layer it came from (null: the generation's own). */
export interface ObjectUse {
  path: string;
  module: string | null;
  /** The store image (on the host) holding the object. */
  store: string;
}

/**
 * The object store of one lower: an ext4 image (fs-verity feature on, no journal: it is written once, by the
 * guest that enables fs-verity, and attached read-only after) holding each file of the lower once, by digest.
 * Built once per layer and host; kept beside the tree it was made from.
 */
export async function ensureObjectStore(lower: string, entries: readonly DescribedEntry[]): Promise<string> {
  const image = objectStorePath(lower);
  if (await pathExists(image)) return image;
  const staging = `${image}.staging-${randomBytes(4).toString('hex')}`;
  try {
    await mkdir(path.join(staging, 'objects'), { recursive: true, mode: 0o755 });
    let bytes = 0;
    let objects = 0;
    for (const entry of entries) {
      if (entry.type !== 'file' || entry.digest === undefined) continue;
      const object = path.join(staging, objectPathOf(entry.digest));
      if (await pathExists(object)) continue;
      await mkdir(path.dirname(object), { recursive: true });
      const from = hostPathOf(lower, entry.path);
      await link(from, object).catch(() => copyFile(from, object));
      bytes += Math.ceil(entry.size / 4096) * 4096;
      objects += 1;
    }
    // Room for the contents, fs-verity's Merkle trees (1/127 of the data with 4 KiB blocks) and inodes.
    const sizeMb = Math.ceil((bytes * 1.05 + objects * 8192) / 1048576) + 16;
    const partial = `${image}.${randomBytes(4).toString('hex')}.partial`;
    const made = await runHostCommand(
      [
        'sh',
        '-c',
        'truncate -s "$3"M "$1" && mkfs.ext4 -q -F -b 4096 -O verity,^has_journal -E root_owner=0:0 -N "$4" -d "$2" "$1"',
        'sh',
        partial,
        staging,
        String(sizeMb),
        String(objects + 1024),
      ],
      600_000,
    );
    if (made.code !== 0) {
      await rm(partial, { force: true });
      throw failed(`cannot make the object store image of ${lower}: ${made.stderr.trim()}`, 'verified_root_store');
    }
    await rename(partial, image);
  } finally {
    await rm(staging, { recursive: true, force: true });
  }
  return image;
}

/**
 * The metadata image of a stacked generation (lowers highest first, with the module of each lower or null for
 * the generation's own top) and the object stores it points into, built once per generation (stores once per
 * layer).
 */
export async function ensureVerifiedRootImages(
  rootDir: string,
  lowers: readonly string[],
  modules: ReadonlyArray<string | null> = [],
): Promise<VerifiedRootImages> {
  const dir = path.join(rootDir, VERITY_DIR);
  // Lowest first, as the stack merges them; each file's object is in the store of the layer whose entry won.
  const layers: Array<{ lower: string; module: string | null; entries: Map<string, DescribedEntry> }> = [];
  for (const [position, lower] of [...lowers.entries()].reverse())
    layers.push({ lower, module: modules[position] ?? null, entries: new Map((await layerEntries(lower)).map((e) => [e.path, e])) });
  const objectStores: string[] = [];
  for (const layer of [...layers].reverse()) objectStores.push(await ensureObjectStore(layer.lower, [...layer.entries.values()]));
  const images = { metadataImage: path.join(dir, METADATA_IMAGE), objectStores, objectIndex: path.join(dir, OBJECT_INDEX) };
  if ((await pathExists(images.metadataImage)) && (await pathExists(images.objectIndex))) return images;
  const staging = `${dir}.staging-${randomBytes(4).toString('hex')}`;
  try {
    const meta = path.join(staging, 'meta');
    await mkdir(meta, { recursive: true, mode: 0o755 });
    const merged = stackDescriptions(layers.map((layer) => [...layer.entries.values()]));
    merged.sort((a, b) => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0));
    const xattrs: string[] = [];
    const index: Record<string, ObjectUse[]> = {};
    for (const entry of merged) {
      const target = hostPathOf(meta, entry.path);
      if (entry.type === 'directory') {
        await mkdir(target, { recursive: true });
        await chmod(target, entry.mode);
        await lchown(target, entry.uid, entry.gid);
      } else if (entry.type === 'symlink') {
        await mkdir(path.dirname(target), { recursive: true });
        await symlink(entry.linkTarget ?? '', target);
        await lchown(target, entry.uid, entry.gid);
      } else if (entry.type === 'file' && entry.digest !== undefined) {
        await mkdir(path.dirname(target), { recursive: true });
        const sparse = await open(target, 'w', entry.mode);
        await sparse.truncate(entry.size);
        await sparse.close();
        await chmod(target, entry.mode);
        await lchown(target, entry.uid, entry.gid);
        const source = [...layers].reverse().find((layer) => layer.entries.get(entry.path)?.digest === entry.digest);
        if (source === undefined) throw failed(`no layer holds ${entry.path} with digest ${entry.digest}`, 'verified_root_source');
        (index[entry.digest] ??= []).push({ path: entry.path, module: source.module, store: objectStorePath(source.lower) });
        xattrs.push(
          `# file: ${dumpPath(`.${entry.path}`)}`,
          `trusted.overlay.redirect="/${objectPathOf(entry.digest)}"`,
          `trusted.overlay.metacopy=${metacopyXattr(entry.digest)}`,
          '',
        );
      }
    }
    const dump = path.join(staging, 'xattrs.dump');
    await writeFile(dump, `${xattrs.join('\n')}\n`);
    const set = await runHostCommand(['sh', '-c', 'cd "$1" && setfattr -h --restore="$2"', 'sh', meta, dump], 600_000);
    if (set.code !== 0) throw failed(`cannot set the overlay xattrs of the metadata tree: ${set.stderr.trim()}; install attr`, 'verified_root_metadata');
    await mkdir(path.join(staging, 'out'), { recursive: true });
    // Chunked files: the sparse files' holes take no space, so the image holds metadata only.
    const packed = await runHostCommand(
      ['mkfs.erofs', '--quiet', '--chunksize=4096', `-T${EROFS_BUILD_TIME}`, `-U${EROFS_UUID}`, path.join(staging, 'out', METADATA_IMAGE), meta],
      600_000,
    );
    if (packed.code !== 0) throw failed(`cannot pack the metadata image: ${packed.stderr.trim()}`, 'verified_root_metadata');
    await writeFile(path.join(staging, 'out', OBJECT_INDEX), JSON.stringify(index));
    await rm(dir, { recursive: true, force: true });
    await rename(path.join(staging, 'out'), dir);
  } finally {
    await rm(staging, { recursive: true, force: true });
  }
  return images;
}
