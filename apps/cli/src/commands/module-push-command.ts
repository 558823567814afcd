import { Option, type Command } from 'commander';
import { normaliseModuleVersion, pushModuleArtifact, type BuiltModuleArtifact } from '@powernode/artifact';
import { formatReference, type OciClient, type OciReference } from '@powernode/oci';
import { commandAction, UsageError, writeJson, writeLine } from './module-command-action.js';
import { addBuildOptions, artifactSummary, artifactSummaryLines, buildArtifact, type BuildOptions } from './module-build-command.js';
import { requireValidModuleDir } from './module-validate-command.js';
import { progressReporter, type ProgressReporter } from './module-progress-reporter.js';
import { addRegistryOptions, parseModuleReference, registryClientFor, withRegistryCredentialsHint, type RegistryOptions } from './module-registry-access.js';

interface PushCommandOptions extends BuildOptions, RegistryOptions {
  ref?: string;
  json?: boolean;
  quiet?: boolean;
}

/** The module version a tag names (`v0.1.0` → `0.1.0`), or undefined when the tag is not a semantic version. */
export function versionFromTag(tag: string | undefined): string | undefined {
  if (tag === undefined) return undefined;
  try {
    return normaliseModuleVersion(tag);
  } catch {
    return undefined;
  }
}

/** The `--ref` value, from the flag or POWERNODE_MODULE_REF; a usage error when neither is set. */
export function requireRef(ref: string | undefined): string {
  if (ref === undefined || ref.trim() === '') throw new UsageError('--ref <registry>/<path>:<tag> is required (or set POWERNODE_MODULE_REF)');
  return ref.trim();
}

/** Adds `--ref` with its environment variable. */
export function addRefOption(command: Command): Command {
  return command.addOption(
    new Option('--ref <ref>', 'where to push: <registry>/<path>:<tag>, e.g. 127.0.0.1:5000/acme/my-redis:v0.1.0').env('POWERNODE_MODULE_REF'),
  );
}

/** A pushed artifact: where it is and what it is. */
export interface PushedArtifact {
  reference: OciReference;
  client: OciClient;
  digest: string;
  /** `<registry>/<path>:<tag>@<digest>`, what the webhook reports and ingest pulls. */
  pinned: string;
}

/** Pushes a built artifact to `reference`, reporting each blob. */
export async function pushBuiltArtifact(
  client: OciClient,
  reference: OciReference,
  built: BuiltModuleArtifact,
  progress: ProgressReporter,
): Promise<PushedArtifact> {
  const digest = await pushModuleArtifact(client, reference, built, { onProgress: progress.artifact });
  return { reference, client, digest, pinned: `${formatReference({ ...reference, digest: undefined })}@${digest}` };
}

/** `powernode module push <dir> --ref …`: build, then push to an OCI registry. */
export function registerModulePushCommand(module: Command): void {
  const command = module
    .command('push')
    .description('build the module artifact and push it to an OCI registry; prints <ref>@<digest>')
    .argument('<dir>', 'the module repository (manifest.yaml, rootfs/)');
  addRefOption(command);
  addBuildOptions(command, 'module version annotated on the artifact (default: the tag, when it is a semantic version)');
  addRegistryOptions(command)
    .option('--json', 'print {ref, digest, artifact, manifest_digest, composefs_digest, fsverity_root_hash, …}')
    .option('-q, --quiet', 'no progress lines on stderr')
    .addHelpText('after', '\nExit status: 0 pushed, 1 invalid module or registry failure, 2 usage.')
    .action(
      commandAction(async (dir: string, options: PushCommandOptions) => {
        const reference = parseModuleReference(requireRef(options.ref));
        const client = registryClientFor(reference, options);
        const progress = progressReporter({ quiet: options.quiet === true });
        const version = options.version ?? versionFromTag(reference.tag);
        await requireValidModuleDir(dir, process.stderr);
        progress.step(`building ${dir}`);
        const built = await buildArtifact(dir, { ...options, ...(version === undefined ? {} : { version }) }, progress);
        try {
          progress.step(`pushing to ${formatReference(reference)}`);
          const pushed = await withRegistryCredentialsHint(() => pushBuiltArtifact(client, reference, built, progress));
          if (options.json === true) {
            writeJson({ ref: formatReference(reference), digest: pushed.digest, artifact: pushed.pinned, ...artifactSummary(built) });
            return 0;
          }
          writeLine(pushed.pinned);
          for (const line of artifactSummaryLines(built)) process.stderr.write(`  ${line}\n`);
          return 0;
        } finally {
          await built.dispose();
        }
      }),
    );
}
