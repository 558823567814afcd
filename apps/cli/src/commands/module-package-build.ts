import { execFile } from 'node:child_process';
import path from 'node:path';
import { promisify } from 'node:util';
import type { ManifestValidationIssue, ModuleManifest } from '@powernode/contracts';
import type { PackageTree } from '@powernode/artifact';
import { materialiseModulePackages, needsPackages, type StrippedSetId } from '@powernode/debian-build';
import { formatValidationReport } from '@powernode/manifest';
import type { ProgressReporter } from './module-progress-reporter.js';

const run = promisify(execFile);

// The lines of mmdebstrap and apt worth a progress line: phases, warnings, errors and each package set up.
const PROGRESS_LINE = /^(?:[IWE]: |Setting up |building |installing )/;

/** True when POWERNODE_SKIP_PACKAGES asks for a configuration-only build (`1`, `true`, `yes`). */
export function skipPackagesFromEnv(env: NodeJS.ProcessEnv = process.env): boolean {
  return /^(1|true|yes)$/i.test(env['POWERNODE_SKIP_PACKAGES']?.trim() ?? '');
}

/** The commit time of HEAD when `dir` is in a git checkout: the default SOURCE_DATE_EPOCH of a build from a repository. */
export async function gitCommitTime(dir: string): Promise<number | undefined> {
  try {
    const { stdout } = await run('git', ['-C', dir, 'log', '-1', '--format=%ct'], { timeout: 10_000 });
    const text = stdout.trim();
    return /^\d+$/.test(text) ? Number(text) : undefined;
  } catch {
    return undefined;
  }
}

/** The validation-report warnings for package files whose setuid/setgid bits the build stripped. */
export function setIdStrippedIssues(stripped: readonly StrippedSetId[]): ManifestValidationIssue[] {
  return stripped.map((file) => {
    const origin =
      file.package === undefined
        ? 'no package installed it (a maintainer script or nothing dpkg knows)'
        : `it comes from package ${file.package}, which package_spec does not list`;
    const remedy = file.package === undefined ? 'it cannot keep them' : `list ${file.package} in package_spec to keep them`;
    return {
      code: 'set_id_stripped',
      path: 'package_spec',
      file: file.path,
      message: `${file.path} (mode ${file.mode.toString(8).padStart(4, '0')}) loses its setuid/setgid bits: ${origin}; ${remedy}`,
    };
  });
}

/**
 * Installs the module's packages (the whole base system for a `base.os` module) and returns the tree the
 * artifact merges under rootfs/; undefined when there is nothing to install or the build skips packages.
 * Package files that lost their set-id bits are reported as validation warnings on `report`.
 */
export async function modulePackageTree(
  manifest: ModuleManifest,
  skip: boolean,
  progress: ProgressReporter,
  report: { dir: string; stream: NodeJS.WritableStream },
): Promise<PackageTree | undefined> {
  if (!needsPackages(manifest)) return undefined;
  if (skip) {
    progress.note('packages skipped (--skip-packages): the SBOM lists the declared package_spec only');
    return undefined;
  }
  const started = Date.now();
  const built = await materialiseModulePackages({
    manifest,
    onProgress: (line) => {
      if (PROGRESS_LINE.test(line)) progress.note(line);
    },
  });
  for (const warning of built.warnings) progress.note(`warning: ${warning}`);
  if (built.strippedSetIds.length > 0) {
    report.stream.write(
      formatValidationReport(
        { valid: true, errors: [], warnings: setIdStrippedIssues(built.strippedSetIds) },
        { file: path.join(report.dir, 'manifest.yaml') },
      ),
    );
  }
  const files = built.packageTree.entries.filter((entry) => entry.type === 'file').length;
  progress.note(`packages: ${built.packageTree.packages.length} installed, ${files} files in ${((Date.now() - started) / 1000).toFixed(1)} s`);
  return built.packageTree;
}
