import { readFile } from 'node:fs/promises';
import { Option, type Command } from 'commander';
import { PowernodeError } from '@powernode/contracts';
import { loadTrustedRoot, verifyBundle, type ArtifactInput, type SignerPolicy, type SigstoreTrust } from '@powernode/sigstore';
import { commandAction, UsageError, writeJson, writeLine } from './module-command-action.js';

interface VerifyBlobOptions {
  bundle: string;
  trustedRoot?: string;
  certificateIdentity?: string;
  certificateIdentityRegexp?: string;
  certificateOidcIssuer?: string;
  certificateOidcIssuerRegexp?: string;
  key?: string;
  json?: boolean;
}

const DIGEST = /^sha256:[0-9a-f]{64}$/;

/** A literal string as a regular expression matching exactly it. */
export function exactPattern(literal: string): string {
  return literal.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&');
}

async function readInput(file: string, what: string, flag: string): Promise<Buffer> {
  try {
    return await readFile(file);
  } catch (cause) {
    const code = (cause as NodeJS.ErrnoException).code;
    throw new PowernodeError(
      code === 'ENOENT' ? 'not_found' : 'validation_failed',
      `cannot read the ${what} ${file}: ${code === 'ENOENT' ? 'no such file' : (cause as Error).message}; check ${flag}`,
      {
        cause,
        details: { path: file },
      },
    );
  }
}

/**
 * The artifact argument: a file's bytes, or a `sha256:<hex>` digest when no file has that name (for a DSSE
 * statement's subject or a SHA-256 message signature); nothing for a DSSE bundle verified on its own.
 */
async function artifactInput(artifact: string | undefined): Promise<ArtifactInput | undefined> {
  if (artifact === undefined) return undefined;
  if (DIGEST.test(artifact)) {
    const bytes = await readFile(artifact).catch(() => undefined);
    return bytes ?? { digest: artifact };
  }
  return readInput(artifact, 'artifact', 'the <artifact> argument');
}

/** The signer policy the flags describe; a usage error when they describe none or two. */
export function policyFromFlags(options: Omit<VerifyBlobOptions, 'bundle' | 'json'>, publicKeyPem: string | undefined): SignerPolicy {
  const identity = options.certificateIdentityRegexp ?? (options.certificateIdentity === undefined ? undefined : exactPattern(options.certificateIdentity));
  const issuer = options.certificateOidcIssuerRegexp ?? (options.certificateOidcIssuer === undefined ? undefined : exactPattern(options.certificateOidcIssuer));
  if (options.certificateIdentityRegexp !== undefined && options.certificateIdentity !== undefined) {
    throw new UsageError('give --certificate-identity or --certificate-identity-regexp, not both');
  }
  if (options.certificateOidcIssuerRegexp !== undefined && options.certificateOidcIssuer !== undefined) {
    throw new UsageError('give --certificate-oidc-issuer or --certificate-oidc-issuer-regexp, not both');
  }
  if (publicKeyPem !== undefined) {
    if (identity !== undefined || issuer !== undefined)
      throw new UsageError('--key verifies a key-pair signature: drop the certificate identity and issuer flags');
    return { public_key_pem: publicKeyPem };
  }
  if (identity === undefined || issuer === undefined) {
    throw new UsageError(
      'a keyless signature needs --certificate-identity-regexp (or --certificate-identity) and --certificate-oidc-issuer-regexp (or --certificate-oidc-issuer); a key-pair signature needs --key',
    );
  }
  return { identity_regexp: identity, issuer_regexp: issuer };
}

/** Trust for a key-pair check without a trusted root: no authorities, so only the policy's key counts. */
function keyOnlyTrust(): SigstoreTrust {
  return {
    roots: [],
    material: {
      certificateAuthorities: [],
      timestampAuthorities: [],
      tlogs: [],
      ctlogs: [],
      publicKey: () => {
        throw new Error('no public keys are trusted besides --key');
      },
    },
  };
}

/** `powernode verify-blob`: offline Sigstore bundle verification with cosign's flag names. */
export function registerVerifyBlobCommand(program: Command): void {
  program
    .command('verify-blob')
    .description('verify a Sigstore bundle offline against a trusted root and a signer policy (cosign verify-blob flags)')
    .argument('[artifact]', 'the signed file (or sha256:<hex>); may be omitted for a DSSE bundle')
    .requiredOption('--bundle <file>', 'the Sigstore bundle (JSON)')
    .addOption(new Option('--trusted-root <file>', 'Sigstore trusted_root.json (required unless --key)').env('POWERNODE_TRUSTED_ROOT'))
    .addOption(
      new Option('--certificate-identity-regexp <regexp>', 'the signing certificate SAN must match (anchored: the whole value)').env(
        'POWERNODE_CERTIFICATE_IDENTITY_REGEXP',
      ),
    )
    .addOption(new Option('--certificate-identity <identity>', 'the signing certificate SAN must equal this'))
    .addOption(
      new Option('--certificate-oidc-issuer-regexp <regexp>', 'the certificate OIDC issuer must match (anchored)').env(
        'POWERNODE_CERTIFICATE_OIDC_ISSUER_REGEXP',
      ),
    )
    .addOption(new Option('--certificate-oidc-issuer <issuer>', 'the certificate OIDC issuer must equal this'))
    .addOption(new Option('--key <file>', 'verify a key-pair signature with this PEM public key instead').env('POWERNODE_VERIFY_KEY'))
    .option('--json', 'print the verdict {verified, signer_identity, signer_issuer, signed_at} or {verified:false, reason_code, reason}')
    .addHelpText(
      'after',
      [
        '',
        'Patterns are anchored (^…$) before matching, whatever is written. Certificates are checked at the signing',
        'time the bundle proves (RFC 3161 timestamp or transparency-log entry), never at "now"; nothing is fetched.',
        'Exit status: 0 verified, 1 not verified (the reason is printed) or unreadable input, 2 usage.',
      ].join('\n'),
    )
    .action(
      commandAction(async (artifact: string | undefined, options: VerifyBlobOptions) => {
        const publicKeyPem = options.key === undefined ? undefined : (await readInput(options.key, 'public key', '--key')).toString('utf8');
        const policy = policyFromFlags(options, publicKeyPem);
        if (options.trustedRoot === undefined && publicKeyPem === undefined)
          throw new UsageError('--trusted-root <file> is required (or set POWERNODE_TRUSTED_ROOT)');
        const trust = options.trustedRoot === undefined ? keyOnlyTrust() : loadTrustedRoot(options.trustedRoot);
        const bundle = await readInput(options.bundle, 'bundle', '--bundle');
        const input = await artifactInput(artifact);
        const verdict = verifyBundle({ bundle, ...(input === undefined ? {} : { artifact: input }), policy, trust });
        if (options.json === true) writeJson(verdict);
        if (!verdict.verified) {
          process.stderr.write(`powernode: not verified (${verdict.reason_code}): ${verdict.reason}\n`);
          return 1;
        }
        if (options.json !== true) {
          writeLine('Verified OK');
          writeLine(`  signer     ${verdict.signer_identity}${verdict.signer_issuer === null ? '' : ` (issuer ${verdict.signer_issuer})`}`);
          writeLine(`  signed at  ${verdict.signed_at ?? 'unknown (no timestamp in the bundle)'}`);
        }
        return 0;
      }),
    );
}
