import { randomBytes } from 'node:crypto';
import { rename, rm } from 'node:fs/promises';
import path from 'node:path';
import { PowernodeError } from '@powernode/contracts';
import { pathExists, runHostCommand } from './host-commands.js';
import type { StackFile } from './stacked-root.js';

/*
 * The read-only disk images a QEMU machine boots from: every lower directory of a stacked root packed as an
 * erofs image next to it. A module tree's image sits in the shared cache beside the tree
 * (`<cache>/trees/<key>/layer.erofs`, the key being the verified layer's digest and mask), so it is built
 * once per host and attached read-only to every VM that stacks that layer; a generation's own `top/` gets
 * `<root>/top.erofs`.
 *
 * Images are reproducible: the same tree gives the same bytes, because the build time and the UUID are fixed
 * (mkfs.erofs -T, -U) and file times come from the tree, which extraction took from the signed layer.
 */

/** Fixed so two builds of one tree are byte-identical. */
export const EROFS_BUILD_TIME = 0;
export const EROFS_UUID = '7a1c0de0-0000-4000-8000-00000000e40f';

/** The erofs image of a lower directory (`…/root` of a tree, or a generation's `top`). */
export function layerImagePath(lowerDir: string): string {
  return path.basename(lowerDir) === 'root' ? path.join(path.dirname(lowerDir), 'layer.erofs') : `${lowerDir}.erofs`;
}

/** Packs `tree` into `image` (replacing nothing that exists: an image is immutable once built). */
export async function ensureErofsImage(tree: string, image: string): Promise<string> {
  if (await pathExists(image)) return image;
  const partial = `${image}.${randomBytes(4).toString('hex')}.partial`;
  try {
    const built = await runHostCommand(['mkfs.erofs', '--quiet', `-T${EROFS_BUILD_TIME}`, `-U${EROFS_UUID}`, partial, tree], 600_000);
    if (built.code !== 0) {
      throw new PowernodeError('machine_failed', `cannot pack ${tree} as an erofs image: ${built.stderr.trim() || `exit ${built.code}`}; install erofs-utils`, {
        retryable: true,
        details: { rule: 'layer_image', tree },
      });
    }
    await rename(partial, image);
  } finally {
    await rm(partial, { force: true });
  }
  return image;
}

/** The images of a stacked root's lower directories, highest first (its `top/`, then the module trees). */
export async function stackImages(lowers: readonly string[]): Promise<string[]> {
  const images: string[] = [];
  for (const lower of lowers) images.push(await ensureErofsImage(lower, layerImagePath(lower)));
  return images;
}

export type { StackFile };
