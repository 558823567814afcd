import { readdir, readFile, rm, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { PowernodeError } from '@powernode/contracts';
import type { InstalledDebianPackage } from '@powernode/artifact';
import { cacheKey, newWorkDir, publishWorkDir } from './build-cache.js';
import { runCommandOrThrow, type BuildProgressListener } from './command-runner.js';
import { aptSourceLine, type DebianMirror } from './debian-mirror.js';
import { readInstalledPackages } from './dpkg-status.js';
import { fetchSuiteIndexDate } from './suite-index-date.js';

/*
 * The base system every module installs onto: mmdebstrap's minbase plus systemd and dbus, from the
 * configured mirror, stripped of what is state of the build rather than of the system (apt lists and
 * caches, logs, backups, the host's resolv.conf and hostname mmdebstrap copies in) and with
 * /etc/machine-id `uninitialized` so each instance gets its own on first boot.
 */

/** Bumped whenever the recipe below changes what a base tree holds: it invalidates every cached base. */
export const BASE_RECIPE_VERSION = 1;

/** What the base installs on top of minbase. */
export const BASE_PACKAGES: readonly string[] = ['systemd', 'systemd-sysv', 'dbus'];

const CLEANUP_HOOK =
  'rm -rf "$1"/var/cache/apt/* "$1"/var/lib/apt/lists/* "$1"/var/log/*.log "$1"/var/log/apt/* "$1"/var/cache/debconf/*-old "$1"/var/lib/dpkg/*-old ' +
  '"$1"/var/cache/ldconfig/aux-cache "$1"/etc/resolv.conf "$1"/etc/hostname';
const MACHINE_ID_HOOK = 'echo uninitialized > "$1"/etc/machine-id';

/** A base tree in the cache. */
export interface BaseTree {
  key: string;
  /** The root directory of the tree (read-only: overlays use it as their lower layer). */
  root: string;
  /** The archive date the tree was built from, used as SOURCE_DATE_EPOCH of everything built on it. */
  sourceDateEpoch: number;
  mirror: DebianMirror;
  packages: InstalledDebianPackage[];
}

interface BaseRecord {
  recipe: number;
  packages: readonly string[];
  distribution: string;
  mirror: DebianMirror;
  indexDates: number[];
  sourceDateEpoch: number;
}

/** Options of `ensureBaseTree`. */
export interface BaseTreeOptions {
  mirror: DebianMirror;
  cacheDir: string;
  onProgress?: BuildProgressListener;
  onWarning?: (message: string) => void;
}

function distributionName(mirror: DebianMirror): string {
  return `${mirror.distribution.vendor}/${mirror.distribution.suite}`;
}

async function readRecord(dir: string): Promise<BaseRecord | undefined> {
  try {
    return JSON.parse(await readFile(path.join(dir, 'base.json'), 'utf8')) as BaseRecord;
  } catch {
    return undefined;
  }
}

async function asBaseTree(dir: string, key: string, record: BaseRecord): Promise<BaseTree> {
  const root = path.join(dir, 'tree');
  return { key, root, sourceDateEpoch: record.sourceDateEpoch, mirror: record.mirror, packages: await readInstalledPackages(root) };
}

/** The newest cached base of this recipe and distribution, for when the mirror cannot be asked what is current. */
async function newestCachedBase(cacheDir: string, mirror: DebianMirror): Promise<BaseTree | undefined> {
  const baseDir = path.join(cacheDir, 'base');
  let keys: string[] = [];
  try {
    keys = await readdir(baseDir);
  } catch {
    return undefined;
  }
  let newest: { key: string; record: BaseRecord } | undefined;
  for (const key of keys) {
    const record = await readRecord(path.join(baseDir, key));
    if (record === undefined || record.recipe !== BASE_RECIPE_VERSION || record.distribution !== distributionName(mirror)) continue;
    if (newest === undefined || record.sourceDateEpoch > newest.record.sourceDateEpoch) newest = { key, record };
  }
  return newest === undefined ? undefined : asBaseTree(path.join(baseDir, newest.key), newest.key, newest.record);
}

/**
 * The cached base tree for the mirror's current archive state, built with mmdebstrap (about a minute) when
 * the cache has none. The key covers the recipe, packages, distribution, mirror URIs and each suite's index
 * date; SOURCE_DATE_EPOCH is the newest index date, so a rebuild of the same archive state gives the same bytes.
 */
export async function ensureBaseTree(options: BaseTreeOptions): Promise<BaseTree> {
  const { mirror, cacheDir } = options;
  const dates = await Promise.all(mirror.suites.map((suite) => fetchSuiteIndexDate(suite)));
  if (dates.some((date) => date === undefined)) {
    const unreachable = mirror.suites.filter((_, index) => dates[index] === undefined).map((suite) => `${suite.uri} ${suite.suite}`);
    const cached = await newestCachedBase(cacheDir, mirror);
    if (cached === undefined) {
      throw new PowernodeError(
        'distribution_unavailable',
        `cannot read the index date of ${unreachable.join(', ')} and no base of ${distributionName(mirror)} is cached; check the mirror is reachable or set POWERNODE_DEBIAN_MIRROR`,
        { retryable: true, details: { distribution: distributionName(mirror), unreachable } },
      );
    }
    options.onWarning?.(
      `the mirror did not answer (${unreachable.join(', ')}); using the cached base of ${new Date(cached.sourceDateEpoch * 1000).toISOString()}`,
    );
    return cached;
  }
  const indexDates = dates as number[];
  const record: BaseRecord = {
    recipe: BASE_RECIPE_VERSION,
    packages: BASE_PACKAGES,
    distribution: distributionName(mirror),
    mirror,
    indexDates,
    sourceDateEpoch: Math.max(...indexDates),
  };
  const key = cacheKey(record);
  const finalDir = path.join(cacheDir, 'base', key);
  const existing = await readRecord(finalDir);
  if (existing !== undefined) return asBaseTree(finalDir, key, existing);

  const work = await newWorkDir(cacheDir, 'base');
  try {
    options.onProgress?.(`building the ${distributionName(mirror)} base with mmdebstrap (about a minute; cached afterwards)`);
    await runCommandOrThrow(
      [
        'nice',
        '-n',
        '19',
        'mmdebstrap',
        '--mode=root',
        '--variant=minbase',
        `--include=${BASE_PACKAGES.join(',')}`,
        // mmdebstrap would empty machine-id after our hook; we want the systemd first-boot marker instead.
        '--skip=cleanup/reproducible/machine-id',
        `--customize-hook=${CLEANUP_HOOK}`,
        `--customize-hook=${MACHINE_ID_HOOK}`,
        mirror.distribution.suite,
        path.join(work, 'tree'),
        ...mirror.suites.map(aptSourceLine),
      ],
      {
        what: 'mmdebstrap',
        env: { ...process.env, SOURCE_DATE_EPOCH: String(record.sourceDateEpoch) },
        ...(options.onProgress ? { onLine: options.onProgress } : {}),
      },
    );
    await writeFile(path.join(work, 'base.json'), `${JSON.stringify(record, null, 2)}\n`);
    await publishWorkDir(work, finalDir);
  } catch (error) {
    await rm(work, { recursive: true, force: true });
    throw error;
  }
  return asBaseTree(finalDir, key, (await readRecord(finalDir))!);
}
