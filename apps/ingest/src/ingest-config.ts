import { z } from 'zod';
import { baseConfigShape } from '@powernode/runtime';

const positiveInt = z.coerce.number().int().min(1);
/** A comma-separated list of `host[:port]` registries; empty entries are ignored. */
const registryList = z
  .string()
  .optional()
  .transform((value) =>
    (value ?? '')
      .split(',')
      .map((entry) => entry.trim())
      .filter((entry) => entry !== ''),
  )
  .refine(
    (entries) => entries.every((entry) => /^[A-Za-z0-9.-]+(:\d+)?$|^\[[0-9A-Fa-f:.]+\](:\d+)?$/.test(entry)),
    'must be comma-separated host[:port] entries',
  );

/**
 * Settings of the ingest service (environment variables, validated at start-up). Besides the base settings:
 *
 * - `POWERNODE_TRUSTED_ROOT`: comma-separated paths of Sigstore TrustedRoot JSON files to trust; default the
 *   shipped public-good root (`libs/sigstore/trust/`). Loaded once at start-up.
 * - `POWERNODE_DEV_SIGNING` (default `true`): also trust the dev Sigstore under `<POWERNODE_DATA_DIR>/dev-sigstore`
 *   (created on first use), which `powernode module sign --dev` signs with. Set `false` in production.
 * - `OCI_REGISTRY_USERNAME` + `OCI_REGISTRY_PASSWORD`, or `OCI_REGISTRY_TOKEN`: credentials for `OCI_REGISTRY`
 *   only; registries named in build reports are pulled anonymously, so credentials never leave for them.
 * - `OCI_INSECURE_REGISTRIES`: registries reached over plain HTTP besides loopback ones (which always are).
 * - `INGEST_ALLOWED_REGISTRIES`: the only hosts ingest sends a request to (default: `OCI_REGISTRY` alone).
 *   Build reports name the registry, so this is what keeps a report from pointing ingest at an internal
 *   service; every redirect and every token service a registry names must be on the list too.
 * - `INGEST_MAX_DELIVER` (5), `INGEST_RETRY_INITIAL_MS` (2000), `INGEST_RETRY_MAX_MS` (60000): a build report
 *   whose registry cannot be reached is retried with exponential backoff; the last delivery records the
 *   version as rejected (`registry_unreachable`).
 * - `INGEST_ACK_WAIT_MS` (30000): how long a delivery may go without a heartbeat before NATS redelivers it
 *   (after a crash, the redelivery finishes the job).
 * - `OCI_REQUEST_RETRIES` (3): attempts per registry request within one delivery.
 * - `INGEST_DURABLE` (`ingest`): the durable consumer's name; every ingest replica shares it.
 */
export const ingestConfigShape = {
  ...baseConfigShape,
  POWERNODE_TRUSTED_ROOT: z.string().optional(),
  POWERNODE_DEV_SIGNING: z.stringbool().default(true),
  OCI_REGISTRY_USERNAME: z.string().optional(),
  OCI_REGISTRY_PASSWORD: z.string().optional(),
  OCI_REGISTRY_TOKEN: z.string().optional(),
  OCI_INSECURE_REGISTRIES: registryList,
  INGEST_ALLOWED_REGISTRIES: registryList,
  INGEST_MAX_DELIVER: positiveInt.max(100).default(5),
  INGEST_RETRY_INITIAL_MS: positiveInt.default(2000),
  INGEST_RETRY_MAX_MS: positiveInt.default(60_000),
  INGEST_ACK_WAIT_MS: positiveInt.min(1000).default(30_000),
  OCI_REQUEST_RETRIES: z.coerce.number().int().min(0).max(10).default(3),
  INGEST_DURABLE: z
    .string()
    .regex(/^[A-Za-z0-9_-]{1,64}$/, 'must be 1-64 letters, digits, _ or -')
    .default('ingest'),
} as const;

/** The parsed ingest settings, as `startServiceHost` hands them over. */
export type IngestConfig = z.infer<z.ZodObject<typeof ingestConfigShape>> & { POWERNODE_DATA_DIR: string; EVENT_STORE_URL: string };

/**
 * The registries ingest may contact: `INGEST_ALLOWED_REGISTRIES` when set, else only `OCI_REGISTRY`. Never
 * "any": a build report names the registry, and an open list would let it point ingest at internal hosts.
 */
export function allowedRegistries(config: Pick<IngestConfig, 'INGEST_ALLOWED_REGISTRIES' | 'OCI_REGISTRY'>): string[] {
  return config.INGEST_ALLOWED_REGISTRIES.length > 0 ? [...config.INGEST_ALLOWED_REGISTRIES] : [config.OCI_REGISTRY];
}
