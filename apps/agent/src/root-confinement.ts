import { constants } from 'node:fs';
import { lstat, mkdir, open, symlink } from 'node:fs/promises';
import path from 'node:path';
import { PowernodeError } from '@powernode/contracts';
import { hostPathOf } from './host-commands.js';

/*
 * Changes made to a root being composed, and what is read back from it, confined to it. A module decides what
 * is a symlink in its layer, and a symlink in a root points wherever its target says on the host, so every
 * read, write, mode change or link the agent makes after extraction goes through here: each ancestor below the root must be a real directory (never
 * a symlink), and the last component is opened with O_NOFOLLOW. The roots being composed are the agent's own
 * (staging directories, its overlay view), so nothing swaps a component between the check and the use.
 */

function confinementError(modulePath: string, offending: string, why: string): PowernodeError {
  return new PowernodeError(
    'compose_failed',
    `composing refuses to change ${modulePath}: ${offending} ${why}, so the change would land outside the root; remove that symlink from the module's layer`,
    { details: { rule: 'root_confinement', path: modulePath, offending } },
  );
}

/** A file composing writes or reads (a shared database, a unit) that a module's layer made a directory. */
function notAFileError(modulePath: string): PowernodeError {
  return new PowernodeError(
    'compose_failed',
    `composing cannot use ${modulePath}: a module's layer made it a directory where a file is expected; fix that module's layer`,
    { details: { rule: 'not_a_file', path: modulePath } },
  );
}

function componentsOf(modulePath: string): string[] {
  return modulePath.split('/').filter((part) => part !== '');
}

/** The host path of `modulePath`, once every ancestor below `root` is known to be a real directory. */
async function confinedParent(root: string, modulePath: string): Promise<string> {
  const parts = componentsOf(modulePath);
  let current = root;
  for (const [index, part] of parts.slice(0, -1).entries()) {
    current = path.join(current, part);
    const stats = await lstat(current);
    if (!stats.isDirectory())
      throw confinementError(modulePath, `/${parts.slice(0, index + 1).join('/')}`, stats.isSymbolicLink() ? 'is a symlink' : 'is not a directory');
  }
  return hostPathOf(root, modulePath);
}

function refusedLastComponent(modulePath: string, cause: unknown): never {
  const code = (cause as NodeJS.ErrnoException).code;
  // O_NOFOLLOW on a symlink fails with ELOOP; O_DIRECTORY on anything else with ENOTDIR.
  if (code === 'ELOOP') throw confinementError(modulePath, modulePath, 'is a symlink');
  if (code === 'ENOTDIR') throw confinementError(modulePath, modulePath, 'is not a directory');
  if (code === 'EISDIR') throw notAFileError(modulePath);
  throw cause;
}

/** Sets the permission bits of the directory at `modulePath` (never through a symlink). */
export async function chmodDirectoryInRoot(root: string, modulePath: string, mode: number): Promise<void> {
  const hostPath = await confinedParent(root, modulePath);
  const handle = await open(hostPath, constants.O_RDONLY | constants.O_DIRECTORY | constants.O_NOFOLLOW).catch((cause: unknown) =>
    refusedLastComponent(modulePath, cause),
  );
  try {
    await handle.chmod(mode);
  } finally {
    await handle.close();
  }
}

/**
 * Writes `content` to the file at `modulePath`, creating it with `mode` or truncating it (keeping its mode and
 * owner); a symlink there or on the way is refused.
 */
export async function writeFileInRoot(root: string, modulePath: string, content: string | Buffer, mode = 0o644): Promise<void> {
  const hostPath = await confinedParent(root, modulePath);
  const flags = constants.O_WRONLY | constants.O_CREAT | constants.O_TRUNC | constants.O_NOFOLLOW;
  const handle = await open(hostPath, flags, mode).catch((cause: unknown) => refusedLastComponent(modulePath, cause));
  try {
    await handle.writeFile(content);
  } finally {
    await handle.close();
  }
}

/** The text of the file at `modulePath`, undefined when there is none; a symlink there or on the way is refused. */
export async function readFileInRoot(root: string, modulePath: string): Promise<string | undefined> {
  let hostPath: string;
  try {
    hostPath = await confinedParent(root, modulePath);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw error;
  }
  const handle = await open(hostPath, constants.O_RDONLY | constants.O_NOFOLLOW).catch((cause: unknown) => {
    if ((cause as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    return refusedLastComponent(modulePath, cause);
  });
  if (handle === undefined) return undefined;
  try {
    return await handle.readFile('utf8').catch((cause: unknown) => {
      if ((cause as NodeJS.ErrnoException).code === 'EISDIR') throw notAFileError(modulePath);
      throw cause;
    });
  } finally {
    await handle.close();
  }
}

/** Makes `modulePath` and its missing ancestors directories (`mode`), refusing a symlink or file on the way. */
export async function makeDirectoriesInRoot(root: string, modulePath: string, mode = 0o755): Promise<void> {
  const parts = componentsOf(modulePath);
  let current = root;
  for (const [index, part] of parts.entries()) {
    current = path.join(current, part);
    const stats = await lstat(current).catch((error: NodeJS.ErrnoException) => {
      if (error.code === 'ENOENT') return undefined;
      throw error;
    });
    if (stats === undefined) await mkdir(current, { mode });
    else if (!stats.isDirectory())
      throw confinementError(modulePath, `/${parts.slice(0, index + 1).join('/')}`, stats.isSymbolicLink() ? 'is a symlink' : 'is not a directory');
  }
}

/** Creates the symlink `modulePath` → `target` (the target is not followed; the directory holding it must be real). */
export async function symlinkInRoot(root: string, modulePath: string, target: string): Promise<void> {
  await symlink(target, await confinedParent(root, modulePath));
}
