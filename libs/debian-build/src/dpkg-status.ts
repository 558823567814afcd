import { readFile } from 'node:fs/promises';
import path from 'node:path';
import type { InstalledDebianPackage } from '@powernode/artifact';

/** The installed packages of a dpkg status file's text: stanzas whose `Status` is `install ok installed`. */
export function parseDpkgStatus(text: string): InstalledDebianPackage[] {
  const packages: InstalledDebianPackage[] = [];
  for (const stanza of text.split(/\n\s*\n/)) {
    const field = (name: string): string | undefined => new RegExp(`^${name}:[ \\t]*(.*)$`, 'mi').exec(stanza)?.[1]?.trim();
    if (field('Status') !== 'install ok installed') continue;
    const name = field('Package');
    const version = field('Version');
    if (name === undefined || version === undefined) continue;
    packages.push({ name, version, architecture: field('Architecture') ?? 'all' });
  }
  return packages.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
}

/** The installed packages of a root tree (`<root>/var/lib/dpkg/status`); none when the file is absent. */
export async function readInstalledPackages(root: string): Promise<InstalledDebianPackage[]> {
  try {
    return parseDpkgStatus(await readFile(path.join(root, 'var/lib/dpkg/status'), 'utf8'));
  } catch (cause) {
    if ((cause as NodeJS.ErrnoException).code === 'ENOENT') return [];
    throw cause;
  }
}

/** The packages of `layer` that `base` lacks or holds at another version: what installing the layer added. */
export function packagesAddedTo(base: readonly InstalledDebianPackage[], layer: readonly InstalledDebianPackage[]): InstalledDebianPackage[] {
  const before = new Set(base.map((pkg) => `${pkg.name}:${pkg.architecture}=${pkg.version}`));
  return layer.filter((pkg) => !before.has(`${pkg.name}:${pkg.architecture}=${pkg.version}`));
}
