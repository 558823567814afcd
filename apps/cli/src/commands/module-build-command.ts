import { Option, type Command } from 'commander';
import { PowernodeError } from '@powernode/contracts';
import { buildModuleArtifact, loadModuleManifest, type BuiltModuleArtifact } from '@powernode/artifact';
import { commandAction, writeJson, writeLine } from './module-command-action.js';
import { gitCommitTime, modulePackageTree, skipPackagesFromEnv } from './module-package-build.js';
import { progressReporter, type ProgressReporter } from './module-progress-reporter.js';
import { requireValidModuleDir } from './module-validate-command.js';

/** Build flags shared by build, push and publish. */
export interface BuildOptions {
  version?: string;
  source?: string;
  revision?: string;
  sourceDateEpoch?: string;
  skipPackages?: boolean;
}

interface BuildCommandOptions extends BuildOptions {
  out?: string;
  json?: boolean;
  quiet?: boolean;
}

/** Adds the flags that reach the artifact (version, source, revision, SOURCE_DATE_EPOCH). */
export function addBuildOptions(command: Command, versionHelp: string): Command {
  return command
    .addOption(new Option('--version <version>', versionHelp).env('POWERNODE_MODULE_VERSION'))
    .addOption(new Option('--source <url>', 'org.opencontainers.image.source annotation, e.g. the repository URL').env('POWERNODE_MODULE_SOURCE'))
    .addOption(new Option('--revision <commit>', 'org.opencontainers.image.revision annotation, e.g. the git commit').env('POWERNODE_MODULE_REVISION'))
    .addOption(
      new Option(
        '--source-date-epoch <seconds>',
        'mtime of every file and the SBOM timestamp (default: the commit time of HEAD in a git checkout, else 0)',
      ).env('SOURCE_DATE_EPOCH'),
    )
    .addOption(
      new Option(
        '--skip-packages',
        'do not install package_spec (nor the base system of a base.os module): a configuration-only test build whose SBOM lists the declared packages; also POWERNODE_SKIP_PACKAGES=1',
      ),
    );
}

function parseSourceDateEpoch(value: string | undefined): number | undefined {
  if (value === undefined || value.trim() === '') return undefined;
  if (!/^\d+$/.test(value.trim())) {
    throw new PowernodeError('validation_failed', `--source-date-epoch "${value}" is not a whole number of seconds; use e.g. $(git log -1 --format=%ct)`, {
      details: { field: 'source_date_epoch', value },
    });
  }
  return Number(value.trim());
}

/**
 * Builds the artifact of a module directory (validate it first), reporting progress: installs its packages
 * first unless skipped (root required), so a missing package fails the command before anything is pushed.
 */
export async function buildArtifact(dir: string, options: BuildOptions & { outDir?: string }, progress: ProgressReporter): Promise<BuiltModuleArtifact> {
  const sourceDateEpoch = parseSourceDateEpoch(options.sourceDateEpoch) ?? (await gitCommitTime(dir));
  const manifest = await loadModuleManifest(dir);
  const packageTree = await modulePackageTree(manifest, options.skipPackages === true || skipPackagesFromEnv(), progress, { dir, stream: process.stderr });
  return buildModuleArtifact({
    dir,
    ...(options.version === undefined ? {} : { version: options.version }),
    ...(options.source === undefined ? {} : { source: options.source }),
    ...(options.revision === undefined ? {} : { revision: options.revision }),
    ...(sourceDateEpoch === undefined ? {} : { sourceDateEpoch }),
    ...(options.outDir === undefined ? {} : { outDir: options.outDir }),
    ...(packageTree === undefined ? {} : { packageTree }),
    onProgress: progress.artifact,
  });
}

/** The digests of a built artifact, as every command prints them with --json. */
export function artifactSummary(built: BuiltModuleArtifact): Record<string, unknown> {
  return {
    module_name: built.moduleManifest.name,
    version: built.version ?? null,
    manifest_digest: built.manifestDigest,
    composefs_digest: built.composefsDigest,
    fsverity_root_hash: built.rootHash,
    layers: built.manifest.layers.map((layer) => ({ media_type: layer.mediaType, digest: layer.digest, size: layer.size })),
  };
}

/** The digests of a built artifact as aligned `label value` lines. */
export function artifactSummaryLines(built: BuiltModuleArtifact): string[] {
  return [
    `module             ${built.moduleManifest.name}${built.version === undefined ? '' : ` ${built.version}`}`,
    `manifest digest    ${built.manifestDigest}`,
    `composefs digest   ${built.composefsDigest}`,
    `fs-verity root     ${built.rootHash}`,
  ];
}

/** `powernode module build <dir>`: the artifact of DESIGN §4, printing its digests. */
export function registerModuleBuildCommand(module: Command): void {
  const command = module
    .command('build')
    .description('build the module artifact (tree layer, composefs description, SBOM, manifest) and print its digests')
    .argument('<dir>', 'the module repository (manifest.yaml, rootfs/)')
    .option('--out <dir>', 'write the artifact as an OCI image layout into this directory');
  addBuildOptions(command, 'module version annotated on the artifact (semver; a leading v is dropped)')
    .option('--json', 'print {module_name, version, manifest_digest, composefs_digest, fsverity_root_hash, layers, layout_dir}')
    .option('-q, --quiet', 'no progress lines on stderr')
    .addHelpText(
      'after',
      [
        '',
        'The same inputs always give the same manifest digest: no clock, owner or umask reaches the artifact.',
        'package_spec is installed from the Debian mirror apt is configured with (POWERNODE_DEBIAN_MIRROR overrides it)',
        'onto a cached base system, as root; a module providing base.os ships the whole base system.',
        'Exit status: 0 built, 1 invalid module or unavailable package, 2 usage.',
      ].join('\n'),
    )
    .action(
      commandAction(async (dir: string, options: BuildCommandOptions) => {
        const progress = progressReporter({ quiet: options.quiet === true });
        await requireValidModuleDir(dir, process.stderr);
        progress.step(`building ${dir}`);
        const built = await buildArtifact(dir, { ...options, ...(options.out === undefined ? {} : { outDir: options.out }) }, progress);
        try {
          if (options.json === true) {
            writeJson({ ...artifactSummary(built), layout_dir: options.out ?? null });
            return 0;
          }
          for (const line of artifactSummaryLines(built)) writeLine(line);
          if (options.out !== undefined) writeLine(`OCI layout         ${options.out}`);
          return 0;
        } finally {
          await built.dispose();
        }
      }),
    );
}
