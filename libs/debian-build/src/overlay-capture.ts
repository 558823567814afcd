import { lstat, mkdir, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { PowernodeError } from '@powernode/contracts';
import type { BaseTree } from './base-recipe.js';
import { cacheKey, newWorkDir, publishWorkDir } from './build-cache.js';
import { runCommand, runCommandOrThrow, type BuildProgressListener } from './command-runner.js';
import { adduserConfWithBlock, loginDefsWithBlock, type SystemIdBlock } from './system-id-block.js';

/*
 * A module's package layer, captured the cheap way (seconds, not a base rebuild): an overlay with the
 * cached base as its read-only lower and an empty upper, `apt-get install` in a chroot of it inside a
 * private mount and PID namespace, and the upper is what the install wrote. apt's lists and caches live on
 * tmpfs so they never reach the upper; a policy-rc.d keeps services from starting in the chroot.
 */

/** Bumped whenever the capture procedure changes what a layer holds. */
export const LAYER_RECIPE_VERSION = 3;

/** A captured layer in the cache: the raw upper directory and the base paths the install deleted. */
export interface CapturedLayer {
  key: string;
  upper: string;
  deleted: string[];
}

/** Options of `ensurePackageLayer`. */
export interface PackageLayerOptions {
  base: BaseTree;
  packages: readonly string[];
  cacheDir: string;
  /** System users and groups the packages create get ids from this block (see system-id-block.ts). */
  systemIds?: SystemIdBlock;
  onProgress?: BuildProgressListener;
}

const POLICY_RC_D = '#!/bin/sh\n# services do not start while packages are installed at build time\nexit 101\n';
// Mounts the chroot's private file systems, then installs; argv: root, packages…
const INSTALL_SCRIPT = [
  'set -e',
  'root="$1"; shift',
  'mount -t proc proc "$root/proc"',
  // apt logs through a pseudo-terminal; a private devpts instance keeps the host's terminals out of reach.
  'mount -t devpts -o newinstance,ptmxmode=0666,mode=0620 devpts "$root/dev/pts"',
  'mount -t tmpfs -o mode=0755 tmpfs "$root/var/lib/apt/lists"',
  'mount -t tmpfs -o mode=0755 tmpfs "$root/var/cache/apt"',
  'mount -t tmpfs -o mode=1777 tmpfs "$root/tmp"',
  'chroot "$root" apt-get update -q',
  'chroot "$root" apt-get install -y -q --no-install-recommends "$@"',
].join('\n');
const UNAVAILABLE = [
  /^E: Unable to locate package (\S+)/,
  /^E: Package '?([^' ]+)'? has no installation candidate/,
  /^E: Version '[^']*' for '([^']+)' was not found/,
];

/** The sorted, de-duplicated package list a layer is keyed and installed by. */
export function normalisePackageList(packages: readonly string[]): string[] {
  return [...new Set(packages.map((entry) => entry.trim()).filter((entry) => entry !== ''))].sort();
}

async function exists(file: string): Promise<boolean> {
  return lstat(file).then(
    () => true,
    () => false,
  );
}

/** Base paths hidden in the merged view below each directory the upper holds: what the install deleted (whiteouts, opaque directories). */
async function deletedBasePaths(upper: string, lower: string, merged: string): Promise<string[]> {
  const deleted: string[] = [];
  const walk = async (relative: string): Promise<void> => {
    const lowerDir = path.join(lower, relative);
    const [upperNames, lowerNames, mergedNames] = await Promise.all([
      readdir(path.join(upper, relative), { withFileTypes: true }),
      readdir(lowerDir).catch(() => [] as string[]),
      readdir(path.join(merged, relative)).catch(() => [] as string[]),
    ]);
    const visible = new Set(mergedNames);
    for (const name of lowerNames) if (!visible.has(name)) deleted.push(`/${path.join(relative, name)}`);
    for (const child of upperNames) if (child.isDirectory()) await walk(path.join(relative, child.name));
  };
  await walk('');
  return deleted.sort();
}

async function unmount(target: string): Promise<void> {
  const result = await runCommand(['umount', target]);
  if (result.code !== 0) await runCommand(['umount', '-l', target]);
}

/** Installs the packages on an overlay of the base and records the upper; `package_unavailable` when the distribution lacks one. */
async function capture(options: PackageLayerOptions, packages: string[], work: string): Promise<string[]> {
  const { base } = options;
  const [upper, overlayWork, root] = ['upper', 'overlay-work', 'root'].map((name) => path.join(work, name)) as [string, string, string];
  await Promise.all([upper, overlayWork, root].map((dir) => mkdir(dir)));
  await runCommandOrThrow(['mount', '-t', 'overlay', 'overlay', '-o', `lowerdir=${base.root},upperdir=${upper},workdir=${overlayWork}`, root], {
    what: 'mounting the build overlay',
  });
  try {
    // Added here only when the base lacks them, and removed before the upper is taken: no trace in the layer.
    const temporary: string[] = [];
    const addTemporary = async (relative: string, content: string, mode: number): Promise<void> => {
      if (await exists(path.join(root, relative))) return;
      await writeFile(path.join(root, relative), content, { mode });
      temporary.push(relative);
    };
    await addTemporary('usr/sbin/policy-rc.d', POLICY_RC_D, 0o755);
    await addTemporary('etc/resolv.conf', await readFile('/etc/resolv.conf', 'utf8').catch(() => ''), 0o644);
    // Changed only for the install and written back unchanged after it, so the layer holds neither file.
    const restore: Array<{ relative: string; content: string }> = [];
    if (options.systemIds !== undefined) {
      const block = options.systemIds;
      for (const [relative, change] of [
        ['etc/adduser.conf', (text: string) => adduserConfWithBlock(text, block)],
        ['etc/login.defs', (text: string) => loginDefsWithBlock(text, block)],
      ] as const) {
        const content = await readFile(path.join(root, relative), 'utf8').catch(() => undefined);
        if (content === undefined) continue;
        restore.push({ relative, content });
        await writeFile(path.join(root, relative), change(content));
      }
    }
    const unavailable = new Set<string>();
    const result = await runCommand(
      ['nice', '-n', '19', 'unshare', '--mount', '--pid', '--fork', '--kill-child', 'sh', '-c', INSTALL_SCRIPT, 'install', root, ...packages],
      {
        env: {
          PATH: '/usr/sbin:/usr/bin:/sbin:/bin',
          HOME: '/root',
          LC_ALL: 'C',
          DEBIAN_FRONTEND: 'noninteractive',
          SOURCE_DATE_EPOCH: String(base.sourceDateEpoch),
        },
        onLine: (line) => {
          for (const pattern of UNAVAILABLE) {
            const match = pattern.exec(line);
            if (match !== null) unavailable.add(match[1]!);
          }
          options.onProgress?.(line);
        },
      },
    );
    const distribution = `${base.mirror.distribution.vendor}/${base.mirror.distribution.suite}`;
    if (unavailable.size > 0) {
      const names = [...unavailable].sort();
      throw new PowernodeError(
        'package_unavailable',
        `${distribution} has no package ${names.join(', ')} (mirror ${base.mirror.suites[0]!.uri}); fix package_spec in manifest.yaml or pick another build.distribution`,
        { details: { packages: names, distribution, mirror: base.mirror.suites[0]!.uri } },
      );
    }
    if (result.code !== 0) {
      throw new PowernodeError(
        'package_install_failed',
        `apt-get install ${packages.join(' ')} failed on ${distribution}; its last output:\n${result.tail.join('\n')}`,
        {
          details: { packages, distribution, exit_code: result.code, output_tail: result.tail },
        },
      );
    }
    for (const relative of temporary) await rm(path.join(root, relative), { force: true });
    for (const { relative, content } of restore) await writeFile(path.join(root, relative), content);
    return await deletedBasePaths(upper, base.root, root);
  } finally {
    await unmount(root);
  }
}

/**
 * The cached package layer of `packages` over `base`, captured when missing. Keyed by the base key and the
 * sorted package list; built in a private work directory and renamed into place, so concurrent builds of
 * the same layer cannot corrupt the cache.
 */
export async function ensurePackageLayer(options: PackageLayerOptions): Promise<CapturedLayer> {
  const packages = normalisePackageList(options.packages);
  const key = cacheKey({ recipe: LAYER_RECIPE_VERSION, base: options.base.key, packages, system_ids: options.systemIds ?? null });
  const finalDir = path.join(options.cacheDir, 'layers', key);
  const recorded = async (): Promise<CapturedLayer | undefined> => {
    try {
      const record = JSON.parse(await readFile(path.join(finalDir, 'layer.json'), 'utf8')) as { deleted: string[] };
      return { key, upper: path.join(finalDir, 'upper'), deleted: record.deleted };
    } catch {
      return undefined;
    }
  };
  const cached = await recorded();
  if (cached !== undefined) return cached;
  const work = await newWorkDir(options.cacheDir, 'layer');
  try {
    options.onProgress?.(`installing ${packages.join(' ')} on the base`);
    const deleted = await capture(options, packages, work);
    await rm(path.join(work, 'overlay-work'), { recursive: true, force: true });
    await rm(path.join(work, 'root'), { recursive: true, force: true });
    await writeFile(path.join(work, 'layer.json'), `${JSON.stringify({ recipe: LAYER_RECIPE_VERSION, base: options.base.key, packages, deleted }, null, 2)}\n`);
    await publishWorkDir(work, finalDir);
  } catch (error) {
    await rm(work, { recursive: true, force: true });
    throw error;
  }
  return (await recorded())!;
}
