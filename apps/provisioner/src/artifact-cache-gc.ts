import { open, readdir, rm, stat } from 'node:fs/promises';
import path from 'node:path';

/*
 * Garbage collection of the artifact cache the local driver's agents share. Layout (that of an OCI image
 * layout's blob store): `<cache>/blobs/<algorithm>/<hex>`, each file named by the digest of its content.
 * Nothing else under `<cache>` is touched, and only names that are a complete digest are candidates, so a
 * download in progress (a temporary name, renamed into place once verified) is never deleted.
 *
 * A blob is needed when it is reachable from a root (a digest some remaining instance desires or runs): a
 * root itself, what cached OCI manifests and indexes list (`config`, `layers[]`, `manifests[]`, `blobs[]`),
 * and referrers (a cached manifest whose `subject` is reachable, e.g. a signature bundle). A blob is deleted
 * only when it is not needed and the cache itself says what it belongs to: it is a cached manifest or index,
 * or listed by one. A blob no cached manifest accounts for is left alone, because nothing here can tell
 * whether it is in use. Agents therefore store an artifact's manifest (by its digest, the desired
 * `oci_digest`) no later than the blobs it lists, and pull again a blob that disappeared.
 */

/** Manifests and indexes are small; anything larger is a layer and is not parsed. */
const MAX_MANIFEST_BYTES = 4 * 1024 * 1024;
const DIGEST_FILE_NAME: Record<string, RegExp> = { sha256: /^[0-9a-f]{64}$/, sha512: /^[0-9a-f]{128}$/ };

export interface CacheCollection {
  /** Digests kept (reachable from a root, or not accounted for by any cached manifest). */
  kept: string[];
  /** Digests deleted. */
  deleted: string[];
}

interface CachedBlob {
  digest: string;
  file: string;
  size: number;
}

interface BlobReferences {
  /** True for an OCI manifest or index (a JSON document that lists blobs or names a subject). */
  document: boolean;
  children: string[];
  subject: string | null;
}

/** Deletes every blob of `<cacheDir>/blobs/` not reachable from `roots` (digests like `sha256:<hex>`). */
export async function collectArtifactCache(cacheDir: string, roots: Iterable<string>): Promise<CacheCollection> {
  const blobs = await listCachedBlobs(path.join(cacheDir, 'blobs'));
  const references = new Map<string, BlobReferences>();
  const referencesOf = async (blob: CachedBlob): Promise<BlobReferences> => {
    let refs = references.get(blob.digest);
    if (refs === undefined) {
      refs = await readReferences(blob);
      references.set(blob.digest, refs);
    }
    return refs;
  };

  const reachable = new Set<string>();
  const queue: string[] = [];
  const mark = (digest: string): void => {
    if (!blobs.has(digest) || reachable.has(digest)) return;
    reachable.add(digest);
    queue.push(digest);
  };
  for (const root of roots) mark(root);
  for (;;) {
    while (queue.length > 0) {
      const blob = blobs.get(queue.pop()!)!;
      for (const child of (await referencesOf(blob)).children) mark(child);
    }
    // Referrers point at their subject, not the other way round: look for cached ones of what is reachable.
    const before = reachable.size;
    for (const blob of blobs.values()) {
      if (reachable.has(blob.digest)) continue;
      const { subject } = await referencesOf(blob);
      if (subject !== null && reachable.has(subject)) mark(blob.digest);
    }
    if (reachable.size === before) break;
  }

  // What the cached manifests account for: the manifests and indexes themselves and what they list.
  const accounted = new Set<string>();
  for (const blob of blobs.values()) {
    const refs = await referencesOf(blob);
    if (!refs.document) continue;
    accounted.add(blob.digest);
    for (const child of refs.children) accounted.add(child);
  }
  const deleted: string[] = [];
  const kept: string[] = [];
  for (const blob of blobs.values()) {
    if (reachable.has(blob.digest) || !accounted.has(blob.digest)) {
      kept.push(blob.digest);
      continue;
    }
    await rm(blob.file, { force: true });
    deleted.push(blob.digest);
  }
  return { kept: kept.sort(), deleted: deleted.sort() };
}

async function listCachedBlobs(blobsDir: string): Promise<Map<string, CachedBlob>> {
  const blobs = new Map<string, CachedBlob>();
  let algorithms: string[];
  try {
    algorithms = await readdir(blobsDir);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return blobs;
    throw error;
  }
  for (const algorithm of algorithms) {
    const pattern = DIGEST_FILE_NAME[algorithm];
    if (pattern === undefined) continue;
    for (const name of await readdir(path.join(blobsDir, algorithm))) {
      if (!pattern.test(name)) continue;
      const file = path.join(blobsDir, algorithm, name);
      const info = await stat(file).catch(() => null);
      if (info === null || !info.isFile()) continue;
      blobs.set(`${algorithm}:${name}`, { digest: `${algorithm}:${name}`, file, size: info.size });
    }
  }
  return blobs;
}

/** The digests a cached manifest or index refers to, and its subject; nothing for any other blob. */
async function readReferences(blob: CachedBlob): Promise<BlobReferences> {
  const none: BlobReferences = { document: false, children: [], subject: null };
  if (blob.size === 0 || blob.size > MAX_MANIFEST_BYTES) return none;
  let text: string;
  try {
    const handle = await open(blob.file, 'r');
    try {
      text = (await handle.readFile()).toString('utf8');
    } finally {
      await handle.close();
    }
  } catch {
    return none; // deleted meanwhile by an agent, or unreadable: it refers to nothing we can follow
  }
  if (!text.trimStart().startsWith('{')) return none;
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch {
    return none;
  }
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) return none;
  const d = parsed as Record<string, unknown>;
  const children = [
    descriptorDigest(d['config']),
    ...descriptorDigests(d['layers']),
    ...descriptorDigests(d['manifests']),
    ...descriptorDigests(d['blobs']),
  ].filter((x): x is string => x !== null);
  const subject = descriptorDigest(d['subject']);
  const document = children.length > 0 || subject !== null || d['schemaVersion'] === 2;
  return { document, children, subject };
}

function descriptorDigest(value: unknown): string | null {
  if (typeof value !== 'object' || value === null) return null;
  const digest = (value as Record<string, unknown>)['digest'];
  return typeof digest === 'string' ? digest : null;
}

function descriptorDigests(value: unknown): (string | null)[] {
  return Array.isArray(value) ? value.map(descriptorDigest) : [];
}
