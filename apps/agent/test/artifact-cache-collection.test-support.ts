// The provisioner's garbage collection of the shared artifact cache, reduced to its deletion rule so agent
// tests can run it over a cache the real agent filled (apps do not import each other): a blob is deleted when
// a cached OCI manifest accounts for it (it is one, or one lists it) and it is not reachable from the roots
// (the digests some remaining instance desires or runs). A blob no cached manifest accounts for is kept.
// Referrers are not followed: agents cache none.
import { readFile, readdir, rm } from 'node:fs/promises';
import path from 'node:path';

export interface SimulatedCollection {
  kept: string[];
  deleted: string[];
}

function digestsOf(value: unknown): string[] {
  const list = Array.isArray(value) ? value : [value];
  return list.flatMap((item) =>
    typeof item === 'object' && item !== null && typeof (item as { digest?: unknown }).digest === 'string' ? [(item as { digest: string }).digest] : [],
  );
}

/** Deletes what the collection would delete from `<cacheDir>/blobs/sha256`, given `roots`. */
export async function collectCacheLikeTheProvisioner(cacheDir: string, roots: Iterable<string>): Promise<SimulatedCollection> {
  const dir = path.join(cacheDir, 'blobs/sha256');
  const names = (await readdir(dir)).filter((name) => /^[0-9a-f]{64}$/.test(name));
  const children = new Map<string, string[] | null>();
  for (const name of names) {
    let document: Record<string, unknown> | null = null;
    try {
      const parsed = JSON.parse(await readFile(path.join(dir, name), 'utf8')) as unknown;
      if (typeof parsed === 'object' && parsed !== null && !Array.isArray(parsed)) document = parsed as Record<string, unknown>;
    } catch {
      document = null; // a layer
    }
    const listed = document === null ? [] : ['config', 'layers', 'manifests', 'blobs'].flatMap((key) => digestsOf(document![key]));
    children.set(`sha256:${name}`, document !== null && (listed.length > 0 || document['schemaVersion'] === 2) ? listed : null);
  }
  const reachable = new Set<string>();
  const queue = [...roots].filter((digest) => children.has(digest));
  while (queue.length > 0) {
    const digest = queue.pop()!;
    if (reachable.has(digest)) continue;
    reachable.add(digest);
    for (const child of children.get(digest) ?? []) if (children.has(child)) queue.push(child);
  }
  const accounted = new Set<string>();
  for (const [digest, listed] of children) {
    if (listed === null) continue;
    accounted.add(digest);
    for (const child of listed) accounted.add(child);
  }
  const kept: string[] = [];
  const deleted: string[] = [];
  for (const digest of children.keys()) {
    if (reachable.has(digest) || !accounted.has(digest)) {
      kept.push(digest);
      continue;
    }
    await rm(path.join(dir, digest.slice('sha256:'.length)), { force: true });
    deleted.push(digest);
  }
  return { kept: kept.sort(), deleted: deleted.sort() };
}
