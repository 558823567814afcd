import type { Command } from 'commander';
import { PowernodeError } from '@powernode/contracts';
import { formatReference, type Descriptor, type OciClient, type OciReference } from '@powernode/oci';
import { commandAction, writeJson, writeLine } from './module-command-action.js';
import { progressReporter, type ProgressReporter } from './module-progress-reporter.js';
import { addRegistryOptions, parseModuleReference, registryClientFor, withRegistryCredentialsHint, type RegistryOptions } from './module-registry-access.js';
import { attachSignatureReferrer, SIGSTORE_BUNDLE_ARTIFACT_TYPE } from './module-signature-referrer.js';
import {
  addSigningOptions,
  describeSigningMode,
  resolveSigningMode,
  signImageDigest,
  signingHelpText,
  type SignerSummary,
  type SigningMode,
  type SigningOptions,
} from './module-signing.js';

interface SignCommandOptions extends SigningOptions, RegistryOptions {
  json?: boolean;
  quiet?: boolean;
}

/** A signature attached to an image. */
export interface AttachedSignature {
  /** Digest of the referrer manifest holding the bundle. */
  digest: string;
  artifact_type: string;
  /** The `sha256-<hex>` tag index updated on registries without the referrers API. */
  fallback_tag: string | null;
  signer: SignerSummary;
}

/** Signs the image `subject` of `reference` and attaches the bundle as a referrer. */
export async function signAndAttach(
  client: OciClient,
  reference: OciReference,
  subject: Descriptor,
  mode: SigningMode,
  progress: ProgressReporter,
): Promise<AttachedSignature> {
  progress.note(`signing ${subject.digest} with the ${describeSigningMode(mode)}`);
  const { bundle, signer } = await signImageDigest(mode, { digest: subject.digest, name: `${reference.registry}/${reference.repository}` });
  const attached = await attachSignatureReferrer(client, reference.repository, subject, bundle);
  progress.note(`attached signature ${attached.digest}${attached.fallbackTag === undefined ? ' (referrers API)' : ` (tag index ${attached.fallbackTag})`}`);
  return { digest: attached.digest, artifact_type: SIGSTORE_BUNDLE_ARTIFACT_TYPE, fallback_tag: attached.fallbackTag ?? null, signer };
}

/** The manifest `reference` names (by digest or tag), as a descriptor; not_found when the registry has none. */
export async function resolveImage(client: OciClient, reference: OciReference): Promise<Descriptor> {
  const target = reference.digest ?? reference.tag;
  if (target === undefined) {
    throw new PowernodeError(
      'validation_failed',
      `OCI reference "${formatReference(reference)}" names neither a tag nor a digest; sign <registry>/<path>:<tag> or <registry>/<path>@sha256:<hex>`,
      {
        details: { field: 'ref' },
      },
    );
  }
  const head = await client.headManifest(reference.repository, target);
  if (head === undefined) {
    throw new PowernodeError('not_found', `${formatReference(reference)} does not exist in the registry; push it first (powernode module push)`, {
      details: { ref: formatReference(reference) },
    });
  }
  return { mediaType: head.mediaType, digest: head.digest, size: head.size };
}

/** `powernode module sign <ref>`: sign an image's manifest digest and attach the Sigstore bundle as a referrer. */
export function registerModuleSignCommand(module: Command): void {
  const command = module
    .command('sign')
    .description('sign the manifest digest of an image in a registry and attach the Sigstore bundle as an OCI referrer')
    .argument('<ref>', 'the image: <registry>/<path>:<tag> or <registry>/<path>@sha256:<hex>');
  addSigningOptions(command);
  addRegistryOptions(command)
    .option('--json', 'print {ref, digest, signature:{digest, artifact_type, fallback_tag, signer}}')
    .option('-q, --quiet', 'no progress lines on stderr')
    .addHelpText(
      'after',
      `${signingHelpText()}\n\nThe bundle is a DSSE in-toto statement naming the manifest digest (cosign v3's image signature),\nattached with artifactType ${SIGSTORE_BUNDLE_ARTIFACT_TYPE}.\nExit status: 0 signed, 1 refused (no such image, registry or signing failure), 2 usage.`,
    )
    .action(
      commandAction(async (ref: string, options: SignCommandOptions, cmd: Command) => {
        const mode = resolveSigningMode(options, (option) => cmd.getOptionValueSource(option), process.env);
        const reference = parseModuleReference(ref);
        const client = registryClientFor(reference, options);
        const progress = progressReporter({ quiet: options.quiet === true });
        progress.step(`signing ${formatReference(reference)}`);
        const subject = await withRegistryCredentialsHint(() => resolveImage(client, reference));
        const signature = await withRegistryCredentialsHint(() => signAndAttach(client, reference, subject, mode, progress));
        if (options.json === true) {
          writeJson({ ref: formatReference(reference), digest: subject.digest, signature });
          return 0;
        }
        writeLine(`signed ${formatReference({ ...reference, digest: subject.digest })}`);
        writeLine(`  signature ${signature.digest}`);
        writeLine(`  signer    ${signature.signer.identity ?? '(unknown)'}${signature.signer.issuer === null ? '' : ` (issuer ${signature.signer.issuer})`}`);
        return 0;
      }),
    );
}
