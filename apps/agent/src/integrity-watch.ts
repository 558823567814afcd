import { constants as fsConstants } from 'node:fs';
import { open, readdir, readFile, stat, type FileHandle } from 'node:fs/promises';
import path from 'node:path';
import type { Logger } from 'pino';

/*
 * Inside a QEMU machine whose root is the composefs-style verity=require overlay (verified-root.ts): the kernel
 * refuses a file whose object does not match what the signed metadata says, and logs it —
 *
 *   fs-verity (vdc, inode 1234): FILE CORRUPTED! pos=0, level=-1, …      a page of an object failed its Merkle tree
 *   overlayfs: lower file '<62 hex>' has the wrong fs-verity digest       an object's digest is not the one named
 *
 * This watch reads those lines from /dev/kmsg and names the files: the object (by inode in the store, or by its
 * name) is looked up in the index the keeper put in the link (object digest → the paths and modules it backs).
 * Pure parsing is separate from the reading so the rules are testable without a kernel.
 */

/** A file of the root the kernel refused to read. */
export interface IntegrityViolation {
  path: string;
  module: string | null;
  detected_at: string;
  /** The object's fs-verity digest as the metadata names it. */
  digest: string;
}

/** What one kernel log line says about an object: its inode in the store, or its file name; null when nothing. */
export type KernelIntegrityEvent = { kind: 'inode'; device: string; inode: number } | { kind: 'object_name'; name: string };

/** Parses one /dev/kmsg record (`prio,seq,ts,flags;message`). */
export function parseKernelIntegrityLine(record: string): KernelIntegrityEvent | null {
  const message = record.includes(';') ? record.slice(record.indexOf(';') + 1) : record;
  const corrupted = /fs-verity \(([^,]+), inode (\d+)\): FILE CORRUPTED/.exec(message);
  if (corrupted !== null) return { kind: 'inode', device: corrupted[1]!, inode: Number(corrupted[2]) };
  const digest = /overlayfs: lower file '([0-9a-f]{62})' has (?:the wrong|no) fs-verity digest/.exec(message);
  if (digest !== null) return { kind: 'object_name', name: digest[1]! };
  return null;
}

/** digest → the files it backs, as the keeper wrote it (integrity-index.json). */
export type IntegrityIndex = Record<string, Array<{ path: string; module: string | null; store?: string }>>;

const POLL_MS = 1_000;

/** Follows the kernel log and reports each refused file once. */
export class IntegrityWatch {
  private handle: FileHandle | undefined;
  private timer: NodeJS.Timeout | undefined;
  private readonly reported = new Set<string>();

  constructor(private readonly options: { indexFile: string; objectsDir: string; logger: Logger; onViolation: (violations: IntegrityViolation[]) => void }) {}

  /** Starts following; false when this machine has no verified root (no index). */
  async start(): Promise<boolean> {
    // The index is read only when the kernel refused something: it is large, and the agent's heap is small.
    if (
      !(await stat(this.options.indexFile).then(
        () => true,
        () => false,
      ))
    )
      return false;
    try {
      this.handle = await open('/dev/kmsg', fsConstants.O_RDONLY | fsConstants.O_NONBLOCK);
    } catch (error) {
      this.options.logger.warn({ err: (error as Error).message }, 'cannot read the kernel log: integrity violations will not be reported');
      return false;
    }
    const tick = (): void => {
      void this.drain().finally(() => {
        if (this.handle !== undefined) this.timer = setTimeout(tick, POLL_MS);
      });
    };
    tick();
    return true;
  }

  async stop(): Promise<void> {
    if (this.timer !== undefined) clearTimeout(this.timer);
    const handle = this.handle;
    this.handle = undefined;
    await handle?.close();
  }

  private async drain(): Promise<void> {
    const buffer = Buffer.alloc(8192);
    const found: IntegrityViolation[] = [];
    for (;;) {
      const handle = this.handle;
      if (handle === undefined) return;
      let bytesRead: number;
      try {
        ({ bytesRead } = await handle.read(buffer, 0, buffer.length, null));
      } catch (error) {
        // EAGAIN: nothing new; EPIPE: records were overwritten before they were read, reading goes on.
        if ((error as NodeJS.ErrnoException).code === 'EPIPE') continue;
        break;
      }
      if (bytesRead === 0) break;
      const event = parseKernelIntegrityLine(buffer.subarray(0, bytesRead).toString('utf8'));
      if (event === null) continue;
      const digest = await this.objectOf(event);
      if (digest === null) continue;
      const index = JSON.parse(await readFile(this.options.indexFile, 'utf8')) as IntegrityIndex;
      for (const use of index[digest] ?? []) {
        if (this.reported.has(use.path)) continue;
        this.reported.add(use.path);
        found.push({ path: use.path, module: use.module, digest, detected_at: new Date().toISOString() });
      }
    }
    if (found.length > 0) this.options.onViolation(found);
  }

  /**
   * The digest of the object an event names: by device and inode (the fs-verity message), the device being a
   * store's mount source in /proc/self/mountinfo, searched until the inode is found; or by the object's name
   * (the overlayfs message). Nothing is kept between events.
   */
  private async objectOf(event: KernelIntegrityEvent): Promise<string | null> {
    const mounts = (await readFile('/proc/self/mountinfo', 'utf8').catch(() => '')).split('\n');
    for (const store of await readdir(this.options.objectsDir).catch(() => [] as string[])) {
      const mountPoint = path.join(this.options.objectsDir, store);
      const source = mounts
        .find((line) => line.split(' ')[4] === mountPoint)
        ?.split(' - ')[1]
        ?.split(' ')[1];
      if (source === undefined || (event.kind === 'inode' && path.basename(source) !== event.device)) continue;
      const root = path.join(mountPoint, 'objects');
      for (const prefix of await readdir(root).catch(() => [] as string[])) {
        if (event.kind === 'object_name') {
          if (
            await stat(path.join(root, prefix, event.name)).then(
              () => true,
              () => false,
            )
          )
            return `sha256:${prefix}${event.name}`;
          continue;
        }
        for (const rest of await readdir(path.join(root, prefix)).catch(() => [] as string[])) {
          const info = await stat(path.join(root, prefix, rest)).catch(() => null);
          if (info?.ino === event.inode) return `sha256:${prefix}${rest}`;
        }
      }
    }
    return null;
  }
}
