// Tree layers written entry by entry, as a hostile or careless builder could write them (any order, any mode,
// owner or symlink target), and presented as the pull would after verifying them: the description is read
// back from the archive itself, so extraction's own checks pass and only its confinement is under test.
import { createHash } from 'node:crypto';
import { writeFile } from 'node:fs/promises';
import type { AgentDesiredModule, ModuleService } from '@powernode/contracts';
import { describeTarTree, encodeTarHeader, paddingFor, TAR_BLOCK_SIZE, TAR_TYPE, type ComposefsEntry } from '@powernode/artifact';
import type { VerifiedModule } from '../src/desired-module-pull.js';

/** One archive entry; `name` is written as is (relative or absolute, `..` included). */
export type CraftedEntry =
  | { type: 'directory'; name: string; mode: number; uid?: number; gid?: number }
  | { type: 'file'; name: string; mode: number; uid?: number; gid?: number; content: string }
  | { type: 'symlink'; name: string; target: string; uid?: number; gid?: number };

/** The bytes of a tar archive holding `entries` in order. */
export function craftedTar(entries: readonly CraftedEntry[]): Buffer {
  const parts: Buffer[] = [];
  for (const entry of entries) {
    const content = entry.type === 'file' ? Buffer.from(entry.content) : Buffer.alloc(0);
    parts.push(
      encodeTarHeader({
        name: entry.type === 'directory' && !entry.name.endsWith('/') ? `${entry.name}/` : entry.name,
        typeflag: entry.type === 'directory' ? TAR_TYPE.directory : entry.type === 'symlink' ? TAR_TYPE.symlink : TAR_TYPE.file,
        mode: entry.type === 'symlink' ? 0o777 : entry.mode,
        uid: entry.uid ?? 0,
        gid: entry.gid ?? 0,
        size: content.length,
        mtime: 1_700_000_000,
        linkname: entry.type === 'symlink' ? entry.target : '',
        uname: '',
        gname: '',
      }),
      content,
      Buffer.alloc(paddingFor(content.length)),
    );
  }
  parts.push(Buffer.alloc(2 * TAR_BLOCK_SIZE));
  return Buffer.concat(parts);
}

async function* once(bytes: Buffer): AsyncGenerator<Buffer> {
  yield bytes;
}

/**
 * Writes the archive to `layerPath` and returns it as a verified module. An archive the reader refuses (a `..`
 * name) gets an empty description: extracting it must then fail without touching anything.
 */
export async function craftedModule(
  layerPath: string,
  module_name: string,
  entries: readonly CraftedEntry[],
  options: { priority: number; effective_mask?: string[]; services?: ModuleService[] },
): Promise<VerifiedModule> {
  const bytes = craftedTar(entries);
  await writeFile(layerPath, bytes);
  const described = await describeTarTree(once(bytes)).then(
    (tree) => tree.entries.filter((entry) => entry.path !== '/'),
    () => [],
  );
  const verified: ComposefsEntry[] = described.map((entry) => ({ ...entry, nlink: 1, rdev: 0, mtime: { seconds: 0, nanoseconds: 0 }, xattrs: [] }));
  const digest = `sha256:${createHash('sha256').update(bytes).digest('hex')}`;
  const desired: AgentDesiredModule = {
    module_name,
    version_id: module_name,
    version_string: '1.0.0',
    oci_ref: `127.0.0.1:5000/test/${module_name}:1.0.0`,
    oci_digest: digest,
    composefs_digest: digest,
    priority: options.priority,
    effective_mask: options.effective_mask ?? [],
    init: { start: null, stop: null, restart: null },
  };
  return {
    desired,
    manifestDigest: digest,
    composefsDigest: digest,
    rootHash: digest,
    treeLayer: { mediaType: 'application/vnd.oci.image.layer.v1.tar', digest, size: bytes.length },
    treeLayerPath: layerPath,
    entries: verified,
    services: options.services ?? [],
  };
}
