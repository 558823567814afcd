import { Option, type Command } from 'commander';
import { PowernodeError } from '@powernode/contracts';
import { formatReference } from '@powernode/oci';
import { commandAction, UsageError, writeJson, writeLine } from './module-command-action.js';
import { addBuildOptions, artifactSummary, artifactSummaryLines, buildArtifact, type BuildOptions } from './module-build-command.js';
import { requireValidModuleDir } from './module-validate-command.js';
import { progressReporter } from './module-progress-reporter.js';
import { addRefOption, pushBuiltArtifact, requireRef, versionFromTag } from './module-push-command.js';
import { addRegistryOptions, parseModuleReference, registryClientFor, withRegistryCredentialsHint, type RegistryOptions } from './module-registry-access.js';
import { signAndAttach, resolveImage } from './module-sign-command.js';
import { addSigningOptions, describeSigningMode, resolveSigningMode, signingHelpText, type SigningOptions } from './module-signing.js';
import { deliverWebhook, moduleWebhookPayload } from './module-webhook-delivery.js';

interface PublishCommandOptions extends BuildOptions, RegistryOptions, SigningOptions {
  ref?: string;
  repoFullName?: string;
  webhookUrl?: string;
  webhookSecret?: string;
  webhookAttempts?: string;
  json?: boolean;
  quiet?: boolean;
}

const REPO_FULL_NAME = /^[A-Za-z0-9._-]+(?:\/[A-Za-z0-9._-]+)+$/;

/** The repository full name from the flag, POWERNODE_REPO_FULL_NAME, then the CI's GITEA_REPOSITORY / GITHUB_REPOSITORY. */
export function resolveRepoFullName(flag: string | undefined, env: NodeJS.ProcessEnv): string | undefined {
  for (const value of [flag, env['GITEA_REPOSITORY'], env['GITHUB_REPOSITORY']]) {
    if (value !== undefined && value.trim() !== '') return value.trim();
  }
  return undefined;
}

function required(value: string | undefined, flag: string, variable: string): string {
  if (value === undefined || value.trim() === '') throw new UsageError(`${flag} is required (or set ${variable})`);
  return value.trim();
}

function parseAttempts(value: string | undefined): number {
  const attempts = Number(value ?? '5');
  if (!Number.isInteger(attempts) || attempts < 1 || attempts > 20)
    throw new UsageError(`--webhook-attempts must be a whole number from 1 to 20, got "${value}"`);
  return attempts;
}

/** `powernode module publish <dir> …`: what CI runs on a tag: validate, build, push, sign, notify the platform. */
export function registerModulePublishCommand(module: Command): void {
  const command = module
    .command('publish')
    .description('validate, build, push, sign and report a module version to Powernode (what the CI workflow runs on a tag)')
    .argument('<dir>', 'the module repository (manifest.yaml, rootfs/)');
  addRefOption(command)
    .addOption(
      new Option('--repo-full-name <owner/repo>', 'the git repository the module is registered with (default: GITEA_REPOSITORY or GITHUB_REPOSITORY)').env(
        'POWERNODE_REPO_FULL_NAME',
      ),
    )
    .addOption(
      new Option('--webhook-url <url>', 'the Powernode webhook, e.g. https://<gateway>/api/v1/system/webhooks/gitea/module').env('POWERNODE_WEBHOOK_URL'),
    )
    .addOption(
      new Option('--webhook-secret <secret>', "the module's webhook secret (shown once when the module was registered)").env('POWERNODE_WEBHOOK_SECRET'),
    )
    .addOption(
      new Option('--webhook-attempts <n>', 'attempts at delivering the webhook on 5xx or connection errors').env('POWERNODE_WEBHOOK_ATTEMPTS').default('5'),
    );
  addBuildOptions(command, 'module version (default: the tag of --ref, which must then be a semantic version such as v0.1.0)');
  addSigningOptions(command);
  addRegistryOptions(command)
    .option('--json', 'print {ref, digest, artifact, manifest_digest, composefs_digest, fsverity_root_hash, signature, webhook}')
    .option('-q, --quiet', 'no progress lines on stderr')
    .addHelpText(
      'after',
      [
        signingHelpText(),
        '',
        'Steps: [1/5] validate  [2/5] build  [3/5] push  [4/5] sign (referrer)  [5/5] webhook',
        'The webhook body is {"repository":{"full_name"},"ref":"refs/tags/<tag>","artifact":"<ref>@<digest>","delivery":"<id>"},',
        'signed with X-Gitea-Signature: hex HMAC-SHA256(secret, body), with one X-Gitea-Delivery id (the same <id>) for every retry.',
        'Exit status: 0 published, 1 refused (invalid module, registry, signing or webhook failure), 2 usage.',
      ].join('\n'),
    )
    .action(
      commandAction(async (dir: string, options: PublishCommandOptions, cmd: Command) => {
        const ref = requireRef(options.ref);
        const repoFullName = required(
          resolveRepoFullName(options.repoFullName, process.env),
          '--repo-full-name',
          'POWERNODE_REPO_FULL_NAME, GITEA_REPOSITORY or GITHUB_REPOSITORY',
        );
        const webhookUrl = required(options.webhookUrl, '--webhook-url', 'POWERNODE_WEBHOOK_URL');
        const webhookSecret = required(options.webhookSecret, '--webhook-secret', 'POWERNODE_WEBHOOK_SECRET');
        const attempts = parseAttempts(options.webhookAttempts);
        const mode = resolveSigningMode(options, (option) => cmd.getOptionValueSource(option), process.env);

        if (!REPO_FULL_NAME.test(repoFullName)) {
          throw new PowernodeError('validation_failed', `--repo-full-name "${repoFullName}" is not <owner>/<repo>`, {
            details: { field: 'repo_full_name', value: repoFullName },
          });
        }
        if (!/^https?:\/\//.test(webhookUrl) || !URL.canParse(webhookUrl)) {
          throw new PowernodeError('validation_failed', `--webhook-url "${webhookUrl}" is not an http(s) URL`, {
            details: { field: 'webhook_url', value: webhookUrl },
          });
        }
        const reference = parseModuleReference(ref, { requireTag: true });
        const tag = reference.tag!;
        const version = options.version ?? versionFromTag(tag);
        if (version === undefined) {
          throw new PowernodeError('not_semver', `the tag "${tag}" of --ref is not a semantic version; tag releases like v0.1.0 or pass --version`, {
            details: { field: 'ref', value: ref },
          });
        }
        const client = registryClientFor(reference, options);
        const progress = progressReporter({ quiet: options.quiet === true });

        progress.step(`[1/5] validate ${dir}`);
        const validation = await requireValidModuleDir(dir, process.stderr);
        progress.note(
          validation.warnings.length === 0 ? 'valid' : `valid, ${validation.warnings.length} warning${validation.warnings.length === 1 ? '' : 's'}`,
        );
        progress.step('[2/5] build');
        const built = await buildArtifact(dir, { ...options, version }, progress);
        try {
          progress.step(`[3/5] push ${formatReference(reference)}`);
          const pushed = await withRegistryCredentialsHint(() => pushBuiltArtifact(client, reference, built, progress));
          progress.step(`[4/5] sign (${describeSigningMode(mode)})`);
          const subject = await withRegistryCredentialsHint(() => resolveImage(client, { ...reference, digest: pushed.digest }));
          const signature = await withRegistryCredentialsHint(() => signAndAttach(client, reference, subject, mode, progress));
          progress.step(`[5/5] webhook ${webhookUrl}`);
          const delivery = await deliverWebhook(webhookUrl, webhookSecret, moduleWebhookPayload(repoFullName, tag, pushed.pinned), {
            attempts,
            onRetry: (attempt, reason, delayMs) => progress.note(`attempt ${attempt} failed (${reason}); retrying in ${Math.round(delayMs / 100) / 10} s`),
          });
          progress.note(`accepted (HTTP ${delivery.status}, delivery ${delivery.delivery_id})`);

          if (options.json === true) {
            writeJson({
              ref: formatReference(reference),
              digest: pushed.digest,
              artifact: pushed.pinned,
              ...artifactSummary(built),
              repo_full_name: repoFullName,
              signature,
              webhook: {
                url: webhookUrl,
                status: delivery.status,
                delivery_id: delivery.delivery_id,
                attempts: delivery.attempts,
                response: delivery.response,
              },
            });
            return 0;
          }
          writeLine(`published ${pushed.pinned}`);
          for (const line of artifactSummaryLines(built)) writeLine(`  ${line}`);
          writeLine(`  signature          ${signature.digest} (${signature.signer.identity ?? 'unknown signer'})`);
          writeLine(`  webhook            HTTP ${delivery.status}, delivery ${delivery.delivery_id}`);
          return 0;
        } finally {
          await built.dispose();
        }
      }),
    );
}
