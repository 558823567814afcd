import { createHmac, randomBytes, randomUUID } from 'node:crypto';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { buildModuleArtifact, pushModuleArtifact, type BuiltModuleArtifact } from '@powernode/artifact';
import { CATALOG_RPC, catalogStreams, moduleVersionIdFor, type Actor } from '@powernode/contracts';
import { openEventStore, powernodeEventCatalogue, RpcClient, type EventEnvelope, type EventStore } from '@powernode/events';
import { OCI_EMPTY_DESCRIPTOR, OCI_EMPTY_JSON, OCI_MANIFEST_MEDIA_TYPE, OciClient, sha256Digest, type Descriptor, type ImageManifest } from '@powernode/oci';
import { startServiceHost, type ServiceHost } from '@powernode/runtime';
import { COSIGN_ANNOTATIONS, DevSigstore, SIMPLE_SIGNING_MEDIA_TYPE, cosignSignatureTag, type SerializedBundle } from '@powernode/sigstore';
import { startPlatform, startRegistry, type TestPlatform, type TestRegistry } from '@powernode/testing';
import type { CatalogVersionView } from '../src/catalog-commands.js';
import { ingestConfigShape, startIngest, type IngestConfig, type StartedIngest } from '../src/start-ingest.js';

/*
 * What the ingest tests run against: a private nats-server and the real catalog as a child process
 * (startPlatform), a real docker-registry, the dev Sigstore of the platform's data dir, and the catalog's
 * SQLite event store opened read-side to count events.
 */

export const ADMIN: Actor = { id: 'test-admin', name: 'admin', role: 'admin' };
export const CI_ISSUER = 'https://token.actions.example.com';
export const BUNDLE_ARTIFACT_TYPE = 'application/vnd.dev.sigstore.bundle.v0.3+json';

/** Ingest settings for tests: quick retries, a short ack wait, one request per registry call. */
export const FAST_INGEST_ENV: NodeJS.ProcessEnv = {
  INGEST_MAX_DELIVER: '3',
  INGEST_RETRY_INITIAL_MS: '100',
  INGEST_RETRY_MAX_MS: '400',
  INGEST_ACK_WAIT_MS: '2000',
  OCI_REQUEST_RETRIES: '0',
};

export interface IngestTestBed {
  platform: TestPlatform;
  registry: TestRegistry;
  oci: OciClient;
  rpc: RpcClient;
  /** The catalog's event store, for counting what was appended. */
  store: EventStore;
  dev: DevSigstore;
  workDir: string;
  stop(): Promise<void>;
}

/** Starts NATS, the catalog, a registry; ingest is started by the test (in-process or as a process). */
export async function startIngestTestBed(env: NodeJS.ProcessEnv = {}, options: { natsCluster?: boolean } = {}): Promise<IngestTestBed> {
  const registry = await startRegistry();
  let platform: TestPlatform | undefined;
  try {
    platform = await startPlatform({ services: ['catalog'], env: { OCI_REGISTRY: registry.host, ...FAST_INGEST_ENV, ...env }, ...options });
    const rpc = await RpcClient.connect(
      platform.env['NATS_URL']!.split(','),
      { default_timeout_ms: 15_000, namespace: platform.namespace },
      platform.natsAuth('gateway'),
    );
    const store = await openEventStore(platform.env['EVENT_STORE_URL']!, powernodeEventCatalogue());
    const dev = await DevSigstore.loadOrCreate(platform.dataDir);
    const workDir = await mkdtemp(path.join(tmpdir(), 'pn-ingest-test-'));
    const oci = new OciClient({ registry: registry.host, insecure: true, retries: 1, retryDelayMs: 10 });
    const started = platform;
    return {
      platform: started,
      registry,
      oci,
      rpc,
      store,
      dev,
      workDir,
      async stop() {
        await rpc.close();
        await store.close();
        await started.stop();
        await registry.stop();
        await rm(workDir, { recursive: true, force: true });
      },
    };
  } catch (error) {
    await platform?.stop();
    await registry.stop();
    throw error;
  }
}

/** Ingest in this process, on the test bed's NATS and data dir. */
export async function startIngestInProcess(
  bed: IngestTestBed,
  env: NodeJS.ProcessEnv = {},
): Promise<{ host: ServiceHost<IngestConfig>; started: StartedIngest }> {
  const host = await startServiceHost({
    service: 'ingest',
    shape: ingestConfigShape,
    env: { ...bed.platform.env, ...bed.platform.natsEnv('ingest'), LOG_LEVEL: 'error', ...env },
    exitOnSignal: false,
  });
  try {
    return { host, started: await startIngest(host) };
  } catch (error) {
    await host.shutdown();
    throw error;
  }
}

export interface TestModule {
  module_id: string;
  name: string;
  repository_full_name: string;
  webhook_secret: string;
  /** The CI identity the module's policy accepts. */
  identity: string;
}

/** A module name and repository no other test uses. */
export function uniqueModuleName(label: string): string {
  return `${label}-${randomBytes(4).toString('hex')}`;
}

/** Registers a module through the catalog; by default its policy accepts `identity` from CI_ISSUER. */
export async function createModule(
  bed: IngestTestBed,
  options: { label: string; identity_regexp?: string; issuer_regexp?: string; identity?: string } = { label: 'mod' },
): Promise<TestModule> {
  const name = uniqueModuleName(options.label);
  const repository_full_name = `acme/modules/${name}`;
  const identity = options.identity ?? `https://gitea.example.com/${repository_full_name}/.gitea/workflows/build.yaml@refs/heads/main`;
  const created = await bed.rpc.request<{ module: { id: string }; webhook_secret: string }>(CATALOG_RPC.createModule, {
    actor: ADMIN,
    input: {
      name,
      category: 'userland',
      variety: 'subscription',
      gitea_repo_full_name: repository_full_name,
      cosign_identity_regexp: options.identity_regexp ?? identity.replace(/[.*+?^${}()|[\]\\]/g, '\\$&'),
      cosign_issuer_regexp: options.issuer_regexp ?? CI_ISSUER.replace(/[.*+?^${}()|[\]\\]/g, '\\$&'),
    },
  });
  return { module_id: created.module.id, name, repository_full_name, webhook_secret: created.webhook_secret, identity };
}

/** Writes a small module (manifest + two files) named `name` and builds its artifact for `tag`. */
export async function buildModule(bed: IngestTestBed, name: string, tag: string, manifestName = name): Promise<BuiltModuleArtifact> {
  const dir = path.join(bed.workDir, `${name}-${tag}-${randomBytes(3).toString('hex')}`);
  await mkdir(path.join(dir, 'rootfs', 'etc', name), { recursive: true });
  await writeFile(
    path.join(dir, 'manifest.yaml'),
    `schema_version: 1\nname: ${manifestName}\ndisplay_name: "Ingest test module"\ndescription: "a module for ingest tests"\npackage_spec:\n  - curl\nfile_spec:\n  - "/etc/${name}/**"\ndependencies:\n  requires: []\n  provides: []\n`,
  );
  await writeFile(path.join(dir, 'rootfs', 'etc', name, 'app.conf'), `listen 8080\nname ${name}\n`);
  await writeFile(path.join(dir, 'rootfs', 'etc', name, 'motd'), 'hello from a module\n');
  return buildModuleArtifact({ dir, version: tag, sourceDateEpoch: 1_700_000_000 });
}

/** The repository of a test module in the registry. */
export function repositoryOf(module: TestModule): string {
  return module.repository_full_name.toLowerCase();
}

/** Pushes a built artifact under `<registry>/<repository>:<tag>` and returns its reference and digest. */
export async function pushModule(
  bed: IngestTestBed,
  module: TestModule,
  tag: string,
  built: BuiltModuleArtifact,
): Promise<{ ref: string; digest: string; subject: Descriptor }> {
  const ref = `${bed.registry.host}/${repositoryOf(module)}:${tag}`;
  const digest = await pushModuleArtifact(bed.oci, ref, built);
  return { ref, digest, subject: { mediaType: OCI_MANIFEST_MEDIA_TYPE, digest, size: built.manifestBytes.length } };
}

/** Attaches a Sigstore bundle to `subject` as an OCI referrer, laid out as `powernode module sign` and cosign v3 do. */
export async function attachBundle(bed: IngestTestBed, repository: string, subject: Descriptor, bundle: SerializedBundle): Promise<{ bundleDigest: string }> {
  const bytes = Buffer.from(JSON.stringify(bundle), 'utf8');
  await bed.oci.uploadBlob(repository, OCI_EMPTY_JSON, { mediaType: OCI_EMPTY_DESCRIPTOR.mediaType });
  await bed.oci.uploadBlob(repository, bytes, { mediaType: BUNDLE_ARTIFACT_TYPE });
  const manifest: ImageManifest = {
    schemaVersion: 2,
    mediaType: OCI_MANIFEST_MEDIA_TYPE,
    artifactType: BUNDLE_ARTIFACT_TYPE,
    config: { ...OCI_EMPTY_DESCRIPTOR },
    layers: [{ mediaType: BUNDLE_ARTIFACT_TYPE, digest: sha256Digest(bytes), size: bytes.length }],
    subject,
  };
  await bed.oci.attachReferrer(repository, manifest);
  return { bundleDigest: sha256Digest(bytes) };
}

/** Signs the manifest digest with the dev Sigstore as a DSSE image-signature statement and attaches it. */
export async function signDsse(
  bed: IngestTestBed,
  module: TestModule,
  pushed: { subject: Descriptor },
  signer: { identity: string; issuer?: string },
): Promise<{ bundleDigest: string }> {
  const bundle = bed.dev.sign({
    subject: { digest: pushed.subject.digest, name: `${bed.registry.host}/${repositoryOf(module)}` },
    identity: signer.identity,
    issuer: signer.issuer ?? CI_ISSUER,
  });
  return attachBundle(bed, repositoryOf(module), pushed.subject, bundle);
}

/** Signs the manifest bytes with the dev Sigstore as a message signature (`cosign sign-blob` form) and attaches it. */
export async function signMessage(
  bed: IngestTestBed,
  module: TestModule,
  pushed: { subject: Descriptor },
  built: BuiltModuleArtifact,
  signer: { identity: string; issuer?: string },
): Promise<void> {
  const bundle = bed.dev.sign({ artifact: built.manifestBytes, identity: signer.identity, issuer: signer.issuer ?? CI_ISSUER });
  await attachBundle(bed, repositoryOf(module), pushed.subject, bundle);
}

/** Stores a legacy cosign signature (`sha256-<hex>.sig` tag, simple-signing payload, annotations) made with the dev Sigstore. */
export async function signLegacyCosign(bed: IngestTestBed, module: TestModule, pushed: { digest: string }, signer: { identity: string }): Promise<void> {
  const repository = repositoryOf(module);
  const payload = Buffer.from(
    JSON.stringify({
      critical: {
        identity: { 'docker-reference': `${bed.registry.host}/${repository}` },
        image: { 'docker-manifest-digest': pushed.digest },
        type: 'cosign container image signature',
      },
      optional: null,
    }),
  );
  const bundle = bed.dev.sign({ artifact: payload, identity: signer.identity, issuer: CI_ISSUER }) as unknown as {
    messageSignature: { signature: string };
    verificationMaterial: { certificate: { rawBytes: string } };
  };
  const der = Buffer.from(bundle.verificationMaterial.certificate.rawBytes, 'base64');
  const pem = `-----BEGIN CERTIFICATE-----\n${der
    .toString('base64')
    .replace(/(.{64})/g, '$1\n')
    .trim()}\n-----END CERTIFICATE-----\n`;
  await bed.oci.uploadBlob(repository, OCI_EMPTY_JSON, { mediaType: OCI_EMPTY_DESCRIPTOR.mediaType });
  await bed.oci.uploadBlob(repository, payload, { mediaType: SIMPLE_SIGNING_MEDIA_TYPE });
  const manifest: ImageManifest = {
    schemaVersion: 2,
    mediaType: OCI_MANIFEST_MEDIA_TYPE,
    config: { ...OCI_EMPTY_DESCRIPTOR },
    layers: [
      {
        mediaType: SIMPLE_SIGNING_MEDIA_TYPE,
        digest: sha256Digest(payload),
        size: payload.length,
        annotations: { [COSIGN_ANNOTATIONS.signature]: bundle.messageSignature.signature, [COSIGN_ANNOTATIONS.certificate]: pem },
      },
    ],
  };
  await bed.oci.putManifest(repository, cosignSignatureTag(pushed.digest), manifest);
}

/** Sends the CI webhook through the catalog's real path (HMAC over the raw body); returns the delivery id. */
export async function reportBuild(
  bed: IngestTestBed,
  module: TestModule,
  tag: string,
  artifact_ref: string | null,
  delivery_id: string = randomUUID(),
): Promise<string> {
  // The delivery id inside the signed body, as `powernode module publish` sends it: a report of a tag reported
  // before is a new body, not a replay.
  const body = JSON.stringify({
    repository: { full_name: module.repository_full_name },
    ref: `refs/tags/${tag}`,
    ...(artifact_ref === null ? {} : { artifact: artifact_ref }),
    delivery: delivery_id,
  });
  await bed.rpc.request(CATALOG_RPC.receiveWebhook, {
    repository_full_name: module.repository_full_name,
    raw_body_base64: Buffer.from(body).toString('base64'),
    signature: createHmac('sha256', module.webhook_secret).update(body).digest('hex'),
    delivery_id,
    tag,
    artifact_ref,
  });
  return delivery_id;
}

/** The version of `module` for `tag` as the catalog lists it, once `ready` says so (polls; fails after `timeoutMs`). */
export async function waitForVersion(
  bed: IngestTestBed,
  module: TestModule,
  tag: string,
  ready: (v: CatalogVersionView) => boolean = () => true,
  timeoutMs = 45_000,
): Promise<CatalogVersionView> {
  const id = moduleVersionIdFor(module.module_id, tag);
  const deadline = Date.now() + timeoutMs;
  let last: CatalogVersionView | undefined;
  while (Date.now() < deadline) {
    const { versions } = await bed.rpc.request<{ versions: CatalogVersionView[] }>(CATALOG_RPC.listModuleVersions, {
      actor: ADMIN,
      input: { module_name: module.name },
    });
    last = versions.find((v) => v.id === id);
    if (last !== undefined && ready(last)) return last;
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  throw new Error(`version ${tag} of ${module.name} not as expected within ${timeoutMs} ms; last seen: ${JSON.stringify(last)}`);
}

/** Every event of the version's stream in the catalog's store. */
export async function versionEvents(bed: IngestTestBed, module: TestModule, tag: string): Promise<EventEnvelope[]> {
  return bed.store.readStream(catalogStreams.moduleVersion(moduleVersionIdFor(module.module_id, tag)));
}
