import { PowernodeError } from '@powernode/contracts';
import { HashAlgorithm } from '@sigstore/protobuf-specs';
import { TSAWitness } from '@sigstore/sign';

/** Anything that countersigns a signature with an RFC 3161 timestamp (the dev TSA, a remote TSA). */
export interface TimestampAuthority {
  /** A DER TimeStampResp whose message imprint is the SHA-256 of `signature`. */
  timestamp(signature: Buffer): Buffer | Promise<Buffer>;
}

/** A remote RFC 3161 TSA speaking Sigstore's timestamp-authority API (`POST <url>/api/v1/timestamp`). */
export function remoteTimestampAuthority(tsaURL: string, options: { timeoutMs?: number; retries?: number } = {}): TimestampAuthority {
  const witness = new TSAWitness({ tsaBaseURL: tsaURL, timeout: options.timeoutMs ?? 30_000, retry: options.retries ?? 2 });
  return {
    async timestamp(signature: Buffer): Promise<Buffer> {
      try {
        // The witness reads only the signature out of the bundle content.
        const content = {
          $case: 'messageSignature',
          messageSignature: { signature, messageDigest: { algorithm: HashAlgorithm.SHA2_256, digest: Buffer.alloc(0) } },
        } as const;
        const { rfc3161Timestamps } = await witness.testify(content);
        const token = rfc3161Timestamps[0]?.signedTimestamp;
        if (token === undefined) throw new Error('the TSA returned no timestamp');
        return Buffer.from(token);
      } catch (cause) {
        throw new PowernodeError(
          'signing_failed',
          `the timestamp authority at ${tsaURL} did not timestamp the signature: ${(cause as Error).message}; check the URL and that it is reachable`,
          {
            cause,
            details: { tsa_url: tsaURL },
          },
        );
      }
    },
  };
}
