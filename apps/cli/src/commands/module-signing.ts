import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { Option, type Command } from 'commander';
import { X509Certificate } from '@sigstore/core';
import { PowernodeError } from '@powernode/contracts';
import {
  certificateSigner,
  DevSigstore,
  remoteTimestampAuthority,
  signKeyless,
  signWithKey,
  type SerializedBundle,
  type StatementSubject,
} from '@powernode/sigstore';
import { UsageError } from './module-command-action.js';
import { ciTokenEndpoint, fetchCiIdentityToken, type CiTokenEndpoint } from './module-oidc-token.js';

// How a module is signed. Whatever the mode, what is signed is the same: a DSSE envelope around an
// in-toto statement naming the image manifest digest with cosign's image-signature predicate
// (https://sigstore.dev/cosign/sign/v1), which is what cosign v3 signs for an image, so the bundle
// verifies with `cosign verify` as well as with our ingest.

/** Identity and issuer the dev Sigstore writes into its certificates unless told otherwise. */
export const DEFAULT_DEV_IDENTITY = 'https://powernode.dev/dev-signer';
export const DEFAULT_DEV_ISSUER = 'https://powernode.dev/dev-issuer';
/** The public-good Sigstore instance. */
export const PUBLIC_FULCIO_URL = 'https://fulcio.sigstore.dev';
export const PUBLIC_REKOR_URL = 'https://rekor.sigstore.dev';

/** Signing flags as commander parses them. */
export interface SigningOptions {
  dev?: boolean;
  devIdentity?: string;
  devIssuer?: string;
  dataDir?: string;
  key?: string;
  keyPassphrase?: string;
  identityToken?: string;
  keyless?: boolean;
  fulcioUrl?: string;
  rekorUrl?: string;
  tsaUrl?: string;
  tlogUpload?: boolean;
}

/** Where a keyless signature gets its OIDC identity token. */
export type IdentityTokenSource = { source: 'given'; token: string } | { source: 'ci'; endpoint: CiTokenEndpoint };

/** The chosen way to sign. */
export type SigningMode =
  | { type: 'dev'; dataDir: string; identity: string; issuer: string }
  | { type: 'key'; keyFile: string; passphrase: string | undefined; tsaUrl: string | undefined }
  | { type: 'keyless'; token: IdentityTokenSource; fulcioUrl: string; rekorUrl: string | undefined; tsaUrl: string | undefined };

/** Who signed, as the commands report it. */
export interface SignerSummary {
  mode: SigningMode['type'];
  /** Certificate identity (SAN), or `sha256:<hex>` of the public key for key pairs. */
  identity: string | null;
  issuer: string | null;
}

/** Adds the signing flags (each with its environment variable). */
export function addSigningOptions(command: Command): Command {
  return command
    .addOption(new Option('--dev', 'sign with the local dev Sigstore under $POWERNODE_DATA_DIR (created on first use)').env('POWERNODE_SIGN_DEV'))
    .addOption(new Option('--dev-identity <uri>', 'signer identity (certificate SAN) for --dev').env('POWERNODE_DEV_IDENTITY').default(DEFAULT_DEV_IDENTITY))
    .addOption(new Option('--dev-issuer <url>', 'OIDC issuer written in the --dev certificate').env('POWERNODE_DEV_ISSUER').default(DEFAULT_DEV_ISSUER))
    .addOption(new Option('--data-dir <dir>', 'data directory holding the dev Sigstore').env('POWERNODE_DATA_DIR').default('./.data'))
    .addOption(new Option('--key <file>', 'sign with a P-256 private key (PKCS#8 or SEC 1 PEM), as cosign --key').env('POWERNODE_SIGNING_KEY'))
    .addOption(new Option('--key-passphrase <passphrase>', 'passphrase of an encrypted --key').env('POWERNODE_SIGNING_KEY_PASSPHRASE'))
    .addOption(
      new Option('--identity-token <jwt>', 'keyless: sign with a Fulcio certificate for this OIDC identity token (also read from SIGSTORE_ID_TOKEN)').env(
        'POWERNODE_IDENTITY_TOKEN',
      ),
    )
    .addOption(
      new Option('--keyless', 'keyless with the CI job\'s OIDC token (ACTIONS_ID_TOKEN_REQUEST_URL/_TOKEN, audience "sigstore"); the default in CI').env(
        'POWERNODE_SIGN_KEYLESS',
      ),
    )
    .addOption(new Option('--fulcio-url <url>', 'Fulcio for keyless signing').env('POWERNODE_FULCIO_URL').default(PUBLIC_FULCIO_URL))
    .addOption(new Option('--rekor-url <url>', 'Rekor transparency log for keyless signing').env('POWERNODE_REKOR_URL').default(PUBLIC_REKOR_URL))
    .addOption(new Option('--no-tlog-upload', 'do not record a keyless signature in Rekor (then --tsa-url is required)'))
    .addOption(
      new Option('--tsa-url <url>', 'RFC 3161 timestamp authority (Sigstore TSA API) to countersign keyless or --key signatures').env('POWERNODE_TSA_URL'),
    );
}

const SIGNING_HELP = [
  '',
  'Signing modes (exactly one; in a CI job with an OIDC token endpoint the default is keyless):',
  `  --dev                 local dev Sigstore in <data dir>/dev-sigstore; identity ${DEFAULT_DEV_IDENTITY},`,
  `                        issuer ${DEFAULT_DEV_ISSUER}; its trusted root is <data dir>/dev-sigstore/trusted_root.json`,
  '  --key FILE            a cosign-style key pair (verify with --key on the public key)',
  '  --identity-token JWT  keyless via Fulcio (+ Rekor and/or a TSA) for that identity',
  "  --keyless             keyless with the CI job's own OIDC token (needs permissions: id-token: write)",
].join('\n');

/** The help text explaining the signing modes. */
export function signingHelpText(): string {
  return SIGNING_HELP;
}

function nonEmpty(value: string | undefined): string | undefined {
  return value === undefined || value.trim() === '' ? undefined : value.trim();
}

/**
 * Chooses the signing mode from the flags, the environment variables behind them and the CI environment.
 * Flags given on the command line win over ones that come from the environment; two modes from the same
 * place are a usage error, as is no mode outside CI.
 */
export function resolveSigningMode(
  options: SigningOptions,
  sourceOf: (option: keyof SigningOptions) => string | undefined,
  env: NodeJS.ProcessEnv,
): SigningMode {
  const identityToken = nonEmpty(options.identityToken) ?? nonEmpty(env['SIGSTORE_ID_TOKEN']);
  const tokenSource = nonEmpty(options.identityToken) === undefined ? 'env' : sourceOf('identityToken');
  const candidates: Array<{ type: SigningMode['type']; flag: string; fromCli: boolean }> = [];
  if (options.dev === true) candidates.push({ type: 'dev', flag: '--dev', fromCli: sourceOf('dev') === 'cli' });
  if (nonEmpty(options.key) !== undefined) candidates.push({ type: 'key', flag: '--key', fromCli: sourceOf('key') === 'cli' });
  if (identityToken !== undefined || options.keyless === true) {
    candidates.push({
      type: 'keyless',
      flag: identityToken !== undefined ? '--identity-token' : '--keyless',
      fromCli: (identityToken !== undefined && tokenSource === 'cli') || sourceOf('keyless') === 'cli',
    });
  }
  const fromCli = candidates.filter((c) => c.fromCli);
  const chosen = fromCli.length > 0 ? fromCli : candidates;
  if (chosen.length > 1) {
    throw new UsageError(
      `choose one signing mode, not ${chosen.map((c) => c.flag).join(' and ')}${fromCli.length === 0 ? ' (set through environment variables)' : ''}`,
    );
  }
  const tsaUrl = nonEmpty(options.tsaUrl);
  const ci = ciTokenEndpoint(env);
  const type = chosen[0]?.type ?? (ci === undefined ? undefined : 'keyless');
  switch (type) {
    case undefined:
      throw new UsageError(
        'choose how to sign: --dev, --key FILE or --identity-token JWT (in a CI job with "permissions: id-token: write" keyless signing is the default)',
      );
    case 'dev':
      return {
        type: 'dev',
        dataDir: nonEmpty(options.dataDir) ?? './.data',
        identity: nonEmpty(options.devIdentity) ?? DEFAULT_DEV_IDENTITY,
        issuer: nonEmpty(options.devIssuer) ?? DEFAULT_DEV_ISSUER,
      };
    case 'key':
      return { type: 'key', keyFile: options.key!.trim(), passphrase: options.keyPassphrase, tsaUrl };
    case 'keyless': {
      let token: IdentityTokenSource;
      if (identityToken !== undefined) token = { source: 'given', token: identityToken };
      else if (ci !== undefined) token = { source: 'ci', endpoint: ci };
      else {
        throw new PowernodeError(
          'validation_failed',
          '--keyless needs an OIDC identity token: run in a CI job with "permissions: id-token: write" (ACTIONS_ID_TOKEN_REQUEST_URL and ACTIONS_ID_TOKEN_REQUEST_TOKEN set) or pass --identity-token',
          { details: { field: 'identity_token' } },
        );
      }
      const rekorUrl = options.tlogUpload === false ? undefined : nonEmpty(options.rekorUrl);
      if (rekorUrl === undefined && tsaUrl === undefined) {
        throw new UsageError('keyless signing needs a transparency log or a timestamp authority to prove when it signed: keep --rekor-url or give --tsa-url');
      }
      return { type: 'keyless', token, fulcioUrl: nonEmpty(options.fulcioUrl) ?? PUBLIC_FULCIO_URL, rekorUrl, tsaUrl };
    }
    default: {
      const unreachable: never = type;
      return unreachable;
    }
  }
}

/** A short description of a mode for progress lines. */
export function describeSigningMode(mode: SigningMode): string {
  switch (mode.type) {
    case 'dev':
      return `dev Sigstore in ${path.join(mode.dataDir, 'dev-sigstore')} as ${mode.identity}`;
    case 'key':
      return `key ${mode.keyFile}${mode.tsaUrl === undefined ? '' : `, timestamped by ${mode.tsaUrl}`}`;
    case 'keyless':
      return `keyless via ${mode.fulcioUrl} (token from ${mode.token.source === 'ci' ? 'the CI job' : '--identity-token'})${mode.rekorUrl === undefined ? '' : `, logged in ${mode.rekorUrl}`}${mode.tsaUrl === undefined ? '' : `, timestamped by ${mode.tsaUrl}`}`;
    default: {
      const unreachable: never = mode;
      return unreachable;
    }
  }
}

/** Who the bundle says signed: the certificate's SAN and issuer, or the key fingerprint of the hint. */
export function signerOfBundle(mode: SigningMode['type'], bundle: SerializedBundle): SignerSummary {
  const material = bundle.verificationMaterial as {
    certificate?: { rawBytes: string };
    x509CertificateChain?: { certificates: Array<{ rawBytes: string }> };
    publicKey?: { hint?: string };
  };
  const raw = material.certificate?.rawBytes ?? material.x509CertificateChain?.certificates[0]?.rawBytes;
  if (raw !== undefined) {
    const signer = certificateSigner(X509Certificate.parse(Buffer.from(raw, 'base64')));
    return { mode, identity: signer.identity ?? null, issuer: signer.issuer ?? null };
  }
  return { mode, identity: material.publicKey?.hint ?? null, issuer: null };
}

async function readKeyFile(file: string): Promise<string> {
  try {
    return await readFile(file, 'utf8');
  } catch (cause) {
    const code = (cause as NodeJS.ErrnoException).code;
    throw new PowernodeError(
      code === 'ENOENT' ? 'not_found' : 'validation_failed',
      `cannot read the signing key ${file}: ${code ?? (cause as Error).message}; pass the path of a PEM P-256 private key`,
      {
        cause,
        details: { field: 'key', path: file },
      },
    );
  }
}

/** Signs an image manifest digest in the chosen mode and returns the v0.3 bundle and its signer. */
export async function signImageDigest(mode: SigningMode, subject: StatementSubject): Promise<{ bundle: SerializedBundle; signer: SignerSummary }> {
  let bundle: SerializedBundle;
  switch (mode.type) {
    case 'dev': {
      const dev = await DevSigstore.loadOrCreate(mode.dataDir);
      bundle = dev.sign({ subject, identity: mode.identity, issuer: mode.issuer });
      break;
    }
    case 'key': {
      const privateKeyPem = await readKeyFile(mode.keyFile);
      bundle = await signWithKey({
        subject,
        privateKeyPem,
        ...(mode.passphrase === undefined ? {} : { passphrase: mode.passphrase }),
        ...(mode.tsaUrl === undefined ? {} : { timestampAuthority: remoteTimestampAuthority(mode.tsaUrl) }),
      });
      break;
    }
    case 'keyless': {
      const identityToken = mode.token.source === 'given' ? mode.token.token : await fetchCiIdentityToken(mode.token.endpoint);
      bundle = await signKeyless({
        subject,
        identityToken,
        fulcioURL: mode.fulcioUrl,
        ...(mode.rekorUrl === undefined ? {} : { rekorURL: mode.rekorUrl }),
        ...(mode.tsaUrl === undefined ? {} : { tsaURL: mode.tsaUrl }),
      });
      break;
    }
    default: {
      const unreachable: never = mode;
      return unreachable;
    }
  }
  return { bundle, signer: signerOfBundle(mode.type, bundle) };
}
