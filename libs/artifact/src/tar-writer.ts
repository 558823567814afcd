import { createReadStream } from 'node:fs';
import { PowernodeError } from '@powernode/contracts';
import type { TreeEntry, TreeFile } from './module-tree.js';
import { TAR_BLOCK_SIZE, TAR_TYPE, encodeTarHeader, paddingFor } from './tar-header.js';

/** Sees the bytes of one file as they go into the archive (hashers for the composefs description and SBOM). */
export interface FileContentObserver {
  update(chunk: Buffer): void;
  end(): void;
}

/** Options of the reproducible tar writer. */
export interface ReproducibleTarOptions {
  /** mtime of every entry, seconds since the epoch (`SOURCE_DATE_EPOCH`). */
  mtime: number;
  /** Called once per regular file before its bytes are read; the observer sees exactly the archived bytes. */
  observeFile?: (entry: TreeFile) => FileContentObserver | undefined;
  /** Called after each entry is written. */
  onEntry?: (entry: TreeEntry) => void;
}

const READ_CHUNK_SIZE = 1024 * 1024;
const END_OF_ARCHIVE = Buffer.alloc(2 * TAR_BLOCK_SIZE);

/** The archive name of a module path: relative, directories with a trailing `/` (as GNU tar writes them). */
export function tarNameOf(entry: TreeEntry): string {
  const relative = entry.path.replace(/^\/+/, '');
  return entry.type === 'directory' ? `${relative}/` : relative;
}

function headerFor(entry: TreeEntry, mtime: number): Buffer {
  // Only id 0 has a name we can vouch for on every system; other ids are written numerically only.
  const common = {
    name: tarNameOf(entry),
    mode: entry.mode & 0o7777,
    uid: entry.uid,
    gid: entry.gid,
    mtime,
    uname: entry.uid === 0 ? 'root' : '',
    gname: entry.gid === 0 ? 'root' : '',
  };
  switch (entry.type) {
    case 'directory':
      return encodeTarHeader({ ...common, typeflag: TAR_TYPE.directory, size: 0, linkname: '' });
    case 'symlink':
      return encodeTarHeader({ ...common, typeflag: TAR_TYPE.symlink, size: 0, linkname: entry.linkTarget });
    case 'file':
      return encodeTarHeader({ ...common, typeflag: TAR_TYPE.file, size: entry.size, linkname: '' });
    default: {
      const unreachable: never = entry;
      return unreachable;
    }
  }
}

async function* fileContent(entry: TreeFile, observer: FileContentObserver | undefined): AsyncGenerator<Buffer> {
  let written = 0;
  const changed = (): PowernodeError =>
    new PowernodeError(
      'conflict',
      `${entry.sourcePath} changed while the artifact was built (expected ${entry.size} bytes); build again from a quiet checkout`,
      {
        retryable: true,
        details: { path: entry.path, file: entry.sourcePath },
      },
    );
  for await (const chunk of createReadStream(entry.sourcePath, { highWaterMark: READ_CHUNK_SIZE })) {
    const bytes = chunk as Buffer;
    written += bytes.length;
    if (written > entry.size) throw changed();
    observer?.update(bytes);
    yield bytes;
  }
  if (written !== entry.size) throw changed();
  observer?.end();
}

/**
 * Streams a POSIX (pax) tar of `entries` in the given order: fixed mtime, each entry's uid/gid (owner names
 * `root` for id 0, empty otherwise) and mode (setuid, setgid and sticky bits included). File contents are streamed from disk chunk by chunk, never held whole.
 * The same entries and file bytes always give the same archive bytes.
 */
export async function* reproducibleTar(entries: readonly TreeEntry[], options: ReproducibleTarOptions): AsyncGenerator<Buffer> {
  for (const entry of entries) {
    yield headerFor(entry, options.mtime);
    if (entry.type === 'file') {
      yield* fileContent(entry, options.observeFile?.(entry));
      const padding = paddingFor(entry.size);
      if (padding > 0) yield Buffer.alloc(padding);
    }
    options.onEntry?.(entry);
  }
  yield END_OF_ARCHIVE;
}
