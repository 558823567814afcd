import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { collectExtractedTrees, EXTRACTED_TREE_RETENTION_MS, EXTRACTED_TREE_SOURCE, extractedTreeDir } from '@powernode/artifact';
import { collectArtifactCache } from '../src/artifact-cache-gc.js';

/** A digest-addressed blob store on disk, as agents fill it. */
function cacheAt(dir: string) {
  const put = (content: string, algorithm = 'sha256'): string => {
    const hex = createHash(algorithm).update(content).digest('hex');
    mkdirSync(path.join(dir, 'blobs', algorithm), { recursive: true });
    writeFileSync(path.join(dir, 'blobs', algorithm, hex), content);
    return `${algorithm}:${hex}`;
  };
  const has = (digest: string): boolean => existsSync(path.join(dir, 'blobs', ...digest.split(':')));
  const manifest = (label: string, extra: Record<string, unknown> = {}) => {
    const config = put(`config ${label}`);
    const layer = put(`layer ${label}`);
    const digest = put(
      JSON.stringify({
        schemaVersion: 2,
        mediaType: 'application/vnd.oci.image.manifest.v1+json',
        config: { digest: config },
        layers: [{ digest: layer }],
        ...extra,
      }),
    );
    return { digest, config, layer };
  };
  return { put, has, manifest };
}

let dir: string;
beforeEach(async () => {
  dir = await mkdtemp(path.join(os.tmpdir(), 'pn-cache-gc-'));
});
afterEach(async () => {
  await rm(dir, { recursive: true, force: true });
});

describe('artifact cache collection', () => {
  it('keeps what a root reaches through manifests and deletes the rest', async () => {
    const cache = cacheAt(dir);
    const kept = cache.manifest('kept');
    const dropped = cache.manifest('dropped');
    const result = await collectArtifactCache(dir, [kept.digest]);
    expect(result.kept).toEqual([kept.digest, kept.config, kept.layer].sort());
    expect(result.deleted).toEqual([dropped.digest, dropped.config, dropped.layer].sort());
    for (const d of [kept.digest, kept.config, kept.layer]) expect(cache.has(d)).toBe(true);
    for (const d of [dropped.digest, dropped.config, dropped.layer]) expect(cache.has(d)).toBe(false);
  });

  it('follows an index to its per-architecture manifests, and keeps referrers (signatures) of what it keeps', async () => {
    const cache = cacheAt(dir);
    const amd64 = cache.manifest('amd64');
    const arm64 = cache.manifest('arm64');
    const index = cache.put(
      JSON.stringify({
        schemaVersion: 2,
        mediaType: 'application/vnd.oci.image.index.v1+json',
        manifests: [{ digest: amd64.digest }, { digest: arm64.digest }],
      }),
    );
    const signature = cache.manifest('bundle', { subject: { digest: index } });
    const strayReferrer = cache.manifest('stray', { subject: { digest: cache.put('something nobody keeps') } });
    await collectArtifactCache(dir, [index]);
    for (const d of [index, amd64.digest, amd64.layer, arm64.digest, arm64.config, signature.digest, signature.layer]) expect(cache.has(d)).toBe(true);
    expect(cache.has(strayReferrer.digest)).toBe(false);
  });

  it('keeps blobs named by a root directly (a composefs digest), and deletes sha512-named ones like any other', async () => {
    const cache = cacheAt(dir);
    const composefs = cache.put('composefs description');
    const layer = cache.put('sha512 layer', 'sha512');
    const manifest = cache.put(JSON.stringify({ schemaVersion: 2, layers: [{ digest: layer }, { digest: composefs }] }), 'sha512');
    await collectArtifactCache(dir, [manifest]);
    for (const d of [manifest, layer, composefs]) expect(cache.has(d)).toBe(true);
    await collectArtifactCache(dir, [composefs]);
    expect(cache.has(composefs)).toBe(true);
    expect(cache.has(manifest)).toBe(false);
    expect(cache.has(layer)).toBe(false);
  });

  it('leaves alone a blob no cached manifest accounts for: nothing says whether it is in use', async () => {
    const cache = cacheAt(dir);
    const orphan = cache.put('a layer whose manifest was never cached');
    const result = await collectArtifactCache(dir, []);
    expect(result).toEqual({ kept: [orphan], deleted: [] });
    expect(cache.has(orphan)).toBe(true);
  });

  it('never touches downloads in progress or anything outside blobs/<algorithm>/<hex>', async () => {
    const cache = cacheAt(dir);
    cache.manifest('unwanted');
    const partial = path.join(dir, 'blobs', 'sha256', `${'a'.repeat(64)}.partial`);
    const ingest = path.join(dir, 'ingest', 'upload-1');
    const layoutIndex = path.join(dir, 'index.json');
    const unknownAlgorithm = path.join(dir, 'blobs', 'md5', 'd41d8cd98f00b204e9800998ecf8427e');
    for (const file of [partial, ingest, layoutIndex, unknownAlgorithm]) {
      mkdirSync(path.dirname(file), { recursive: true });
      writeFileSync(file, 'x');
    }
    const result = await collectArtifactCache(dir, []);
    expect(result.deleted).toHaveLength(3);
    for (const file of [partial, ingest, layoutIndex, unknownAlgorithm]) expect(existsSync(file)).toBe(true);
  });

  it('tolerates a cache that does not exist yet and manifests that are not JSON', async () => {
    expect(await collectArtifactCache(path.join(dir, 'missing'), ['sha256:' + '0'.repeat(64)])).toEqual({ kept: [], deleted: [] });
    const cache = cacheAt(dir);
    const notJson = cache.put('{ this is not json');
    await collectArtifactCache(dir, [notJson]);
    expect(cache.has(notJson)).toBe(true);
  });
});

describe('extracted tree collection', () => {
  it('deletes the trees of layers the collection deleted once unused for the retention time, and leaves trees it cannot account for', async () => {
    const cache = cacheAt(dir);
    const kept = cache.manifest('kept-tree');
    const dropped = cache.manifest('dropped-tree');
    const tree = (layer: string, mask: string[] = []): string => {
      const treeDir = extractedTreeDir(dir, { layer, mask });
      mkdirSync(path.join(treeDir, 'root', 'etc'), { recursive: true });
      writeFileSync(path.join(treeDir, 'root', 'etc', 'conf'), layer);
      writeFileSync(path.join(treeDir, EXTRACTED_TREE_SOURCE), JSON.stringify({ layer, mask }));
      return treeDir;
    };
    const keptTree = tree(kept.layer);
    const droppedTree = tree(dropped.layer, ['/etc/secret']);
    const unaccounted = path.join(dir, 'trees', 'f'.repeat(64));
    mkdirSync(path.join(unaccounted, 'root'), { recursive: true });
    const staging = `${droppedTree}.staging-0a1b2c3d`;
    mkdirSync(staging, { recursive: true });

    await collectArtifactCache(dir, [kept.digest]);
    // Just used: kept for the next instance, although its layer left the cache.
    expect(await collectExtractedTrees(dir)).toEqual({ deleted: [] });
    const later = new Date(Date.now() + EXTRACTED_TREE_RETENTION_MS + 1000);
    expect(await collectExtractedTrees(dir, { now: later })).toEqual({ deleted: [dropped.layer] });
    expect([existsSync(keptTree), existsSync(droppedTree), existsSync(unaccounted), existsSync(staging)]).toEqual([true, false, true, true]);
    // Nothing left to collect: a second run deletes nothing.
    expect(await collectExtractedTrees(dir, { now: later })).toEqual({ deleted: [] });
  });
});
