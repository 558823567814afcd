// Keyless signing against a Sigstore instance (public-good or private): an ephemeral key, a Fulcio
// certificate for the OIDC identity token, and Rekor and/or RFC 3161 witnesses.
import { PowernodeError } from '@powernode/contracts';
import { pem } from '@sigstore/core';
import { FulcioSigner, RekorWitness } from '@sigstore/sign';
import { prepareSignature, withWitnesses, type SerializedBundle, type SignContent } from './bundle-assembly.js';
import { remoteTimestampAuthority } from './timestamp-authority.js';

export type SignKeylessInput = SignContent & {
  /** The OIDC identity token (a JWT) Fulcio exchanges for a signing certificate. */
  identityToken: string;
  /** Fulcio base URL, e.g. https://fulcio.sigstore.dev. */
  fulcioURL: string;
  /** Rekor base URL, e.g. https://rekor.sigstore.dev; records the signature in the transparency log. */
  rekorURL?: string;
  /** RFC 3161 timestamp authority base URL, e.g. https://timestamp.sigstore.dev. */
  tsaURL?: string;
  timeoutMs?: number;
  /** Retries of a failed request (connection errors, 5xx, 408, 429), with exponential back-off. Default 2. */
  retries?: number;
};

function signingFailed(step: string, url: string, cause: unknown): PowernodeError {
  const code = (cause as { code?: unknown }).code;
  return new PowernodeError(
    'signing_failed',
    `${step} at ${url} failed${typeof code === 'string' ? ` (${code})` : ''}: ${(cause as Error).message}; check the URL, the network and the identity token`,
    {
      cause,
      details: { url },
    },
  );
}

/**
 * Signs keylessly and returns a v0.3 bundle. At least one of Rekor or a TSA is required: a Fulcio
 * certificate lives ten minutes, so the bundle must prove when the signature was made.
 */
export async function signKeyless(input: SignKeylessInput): Promise<SerializedBundle> {
  if (typeof input.identityToken !== 'string' || input.identityToken.split('.').length !== 3) {
    throw new PowernodeError('validation_failed', 'identityToken must be an OIDC identity token (a JWT: three dot-separated parts)', {
      details: { field: 'identity_token' },
    });
  }
  if (input.rekorURL === undefined && input.tsaURL === undefined) {
    throw new PowernodeError(
      'validation_failed',
      'keyless signing needs rekorURL or tsaURL (or both): without a transparency log or a timestamp the short-lived certificate cannot be verified later',
      {
        details: { field: 'rekor_url' },
      },
    );
  }
  const timeout = input.timeoutMs ?? 30_000;
  const retry = input.retries ?? 2;
  const token = input.identityToken;
  const signer = new FulcioSigner({ identityProvider: { getToken: async () => token }, fulcioBaseURL: input.fulcioURL, timeout, retry });
  const prepared = prepareSignature(input);
  let signed;
  try {
    signed = await signer.sign(prepared.toBeSigned);
  } catch (cause) {
    throw signingFailed('requesting a signing certificate from Fulcio', input.fulcioURL, cause);
  }
  if (signed.key.$case !== 'x509Certificate') throw new PowernodeError('internal', 'Fulcio signing returned no certificate');
  const certificatePem = signed.key.certificate;
  const bundle = prepared.bundle(signed.signature, { type: 'certificate', certificate: pem.toDER(certificatePem) });

  const tsa = input.tsaURL === undefined ? undefined : remoteTimestampAuthority(input.tsaURL, { timeoutMs: timeout, retries: retry });
  const rekorURL = input.rekorURL;
  const [rfc3161Timestamps, tlogEntries] = await Promise.all([
    tsa === undefined ? [] : Promise.resolve(tsa.timestamp(signed.signature)).then((t) => [t]),
    rekorURL === undefined
      ? []
      : new RekorWitness({ rekorBaseURL: rekorURL, timeout, retry })
          .testify(bundle.content, certificatePem)
          .then((m) => m.tlogEntries)
          .catch((cause: unknown) => {
            throw signingFailed('recording the signature in Rekor', rekorURL, cause);
          }),
  ]);
  return withWitnesses(bundle, { rfc3161Timestamps, tlogEntries });
}
