import { execFile } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { MODULE_TREE_LAYER_MEDIA_TYPE, type BuiltModuleArtifact } from '@powernode/artifact';
import { CATALOG_RPC, INGEST_RPC, isPowernodeError, moduleBuildReportedEventIdFor, moduleVersionIdFor } from '@powernode/contracts';
import { openSqliteProcessedLedger, type EventEnvelope, type SqliteProcessedLedger } from '@powernode/events';
import { canonicalJsonBytes, OCI_MANIFEST_MEDIA_TYPE, sha256Digest, type ImageManifest } from '@powernode/oci';
import { CLOSED_LOOPBACK_PORT } from '@powernode/testing';
import {
  ADMIN,
  buildModule,
  CI_ISSUER,
  createModule,
  pushModule,
  reportBuild,
  repositoryOf,
  signDsse,
  signLegacyCosign,
  signMessage,
  startIngestInProcess,
  startIngestTestBed,
  versionEvents,
  waitForVersion,
  type IngestTestBed,
  type TestModule,
} from './ingest-test-bed.js';

const execFileAsync = promisify(execFile);

let bed: IngestTestBed;
let ingest: Awaited<ReturnType<typeof startIngestInProcess>>;
let ledger: SqliteProcessedLedger;

beforeAll(async () => {
  bed = await startIngestTestBed();
  // Ingest contacts only the registries it is allowed: the test registry, and the closed port the unreachable-registry cases name.
  ingest = await startIngestInProcess(bed, { INGEST_ALLOWED_REGISTRIES: `${bed.registry.host},127.0.0.1:${CLOSED_LOOPBACK_PORT}` });
  ledger = await openSqliteProcessedLedger(path.join(bed.platform.dataDir, 'ingest-ledger.sqlite'));
}, 120_000);

afterAll(async () => {
  ledger?.close();
  await ingest?.host.shutdown();
  await bed?.stop();
});

const built = (events: EventEnvelope[]) => events.filter((e) => e.type === 'ModuleVersionBuilt');
const isRejected = (code: string) => (v: { rejection_reason: string | null }) => v.rejection_reason?.startsWith(`${code}:`) === true;

/** The event the catalog appended for a webhook delivery (its id derives from the delivery id). */
const reportEventId = (module: TestModule, deliveryId: string): string => moduleBuildReportedEventIdFor(module.module_id, deliveryId);

async function waitUntilProcessed(module: TestModule, deliveryId: string): Promise<void> {
  const id = reportEventId(module, deliveryId);
  const deadline = Date.now() + 45_000;
  while (!(await ledger.has('ingest', id))) {
    if (Date.now() > deadline) throw new Error(`ingest did not finish delivery ${deliveryId}`);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

async function publishSigned(
  module: TestModule,
  tag: string,
  form: 'dsse' | 'message' = 'dsse',
): Promise<{ artifact: BuiltModuleArtifact; ref: string; digest: string }> {
  const artifact = await buildModule(bed, module.name, tag);
  const pushed = await pushModule(bed, module, tag, artifact);
  if (form === 'dsse') await signDsse(bed, module, pushed, { identity: module.identity });
  else await signMessage(bed, module, pushed, artifact, { identity: module.identity });
  return { artifact, ref: pushed.ref, digest: pushed.digest };
}

describe('ingest of a reported build: verified builds', () => {
  it('records a DSSE-signed build as built and verified, with both digests, the signer and an SBOM summary', async () => {
    const module = await createModule(bed, { label: 'happy' });
    const { artifact, ref, digest } = await publishSigned(module, 'v0.1.0');
    const delivery = await reportBuild(bed, module, 'v0.1.0', ref);

    const version = await waitForVersion(bed, module, 'v0.1.0');
    expect(version).toMatchObject({
      id: moduleVersionIdFor(module.module_id, 'v0.1.0'),
      module_name: module.name,
      version_string: '0.1.0',
      promotion_state: 'built',
      oci_ref: ref,
      oci_digest: digest,
      composefs_digest: artifact.composefsDigest,
      fsverity_root_hash: artifact.rootHash,
      cosign_verified: true,
      signer_identity: module.identity,
      signer_issuer: CI_ISSUER,
      rejection_reason: null,
    });
    const [event] = built(await versionEvents(bed, module, 'v0.1.0'));
    expect(event?.causation_id).toBe(reportEventId(module, delivery));
    expect(event?.data).toMatchObject({
      tag: 'v0.1.0',
      sbom_summary: { format: 'CycloneDX', spec_version: '1.6', component_count: 3, package_count: 1, file_count: 2 },
      manifest: { name: module.name, schema_version: 1 },
    });
    expect(event?.data).not.toHaveProperty('verification_reason');
  });

  it('accepts a message signature over the manifest, and finds the artifact from the repository name when the report names none', async () => {
    const module = await createModule(bed, { label: 'message' });
    const { digest } = await publishSigned(module, 'v1.2.3', 'message');
    await reportBuild(bed, module, 'v1.2.3', null);
    const version = await waitForVersion(bed, module, 'v1.2.3');
    expect(version).toMatchObject({
      version_string: '1.2.3',
      oci_ref: `${bed.registry.host}/${repositoryOf(module)}:v1.2.3`,
      oci_digest: digest,
      cosign_verified: true,
      signer_identity: module.identity,
    });
  });
});

describe('ingest of a reported build: signed by the powernode CLI', () => {
  it('verifies what `powernode module sign --dev` attaches', async () => {
    const module = await createModule(bed, { label: 'cli-signed' });
    const artifact = await buildModule(bed, module.name, 'v0.3.0');
    const pushed = await pushModule(bed, module, 'v0.3.0', artifact);
    const cli = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../../bin/powernode.mjs');
    const signed = await execFileAsync(
      process.execPath,
      [
        cli,
        'module',
        'sign',
        pushed.ref,
        '--dev',
        '--data-dir',
        bed.platform.dataDir,
        '--dev-identity',
        module.identity,
        '--dev-issuer',
        CI_ISSUER,
        '--json',
        '--quiet',
      ],
      {
        env: { ...process.env, POWERNODE_SIGN_KEYLESS: '', ACTIONS_ID_TOKEN_REQUEST_URL: '', ACTIONS_ID_TOKEN_REQUEST_TOKEN: '' },
      },
    );
    expect(JSON.parse(signed.stdout)).toMatchObject({ digest: pushed.digest });
    await reportBuild(bed, module, 'v0.3.0', pushed.ref);
    expect(await waitForVersion(bed, module, 'v0.3.0')).toMatchObject({
      cosign_verified: true,
      signer_identity: module.identity,
      signer_issuer: CI_ISSUER,
      oci_digest: pushed.digest,
    });
  });
});

describe('ingest of a reported build: signatures that do not satisfy the policy', () => {
  it('records a build signed by another identity as built but unverified, names the signer, and refuses to promote it', async () => {
    const module = await createModule(bed, { label: 'stranger' });
    const artifact = await buildModule(bed, module.name, 'v0.1.0');
    const pushed = await pushModule(bed, module, 'v0.1.0', artifact);
    const stranger = 'https://gitea.example.com/evil/fork/.gitea/workflows/build.yaml@refs/heads/main';
    await signDsse(bed, module, pushed, { identity: stranger });
    await reportBuild(bed, module, 'v0.1.0', pushed.ref);

    const version = await waitForVersion(bed, module, 'v0.1.0');
    expect(version).toMatchObject({
      promotion_state: 'built',
      cosign_verified: false,
      signer_identity: stranger,
      signer_issuer: CI_ISSUER,
      oci_digest: pushed.digest,
      composefs_digest: artifact.composefsDigest,
    });
    expect(version.rejection_reason).toMatch(/^signature_untrusted: identity_mismatch: signer identity "https:\/\/gitea\.example\.com\/evil\/fork/);
    const refusal = await bed.rpc
      .request(CATALOG_RPC.promoteModuleVersion, { actor: ADMIN, input: { id: version.id, to: 'staging' } })
      .catch((e: unknown) => e);
    expect(isPowernodeError(refusal) && refusal.code).toBe('unverified_signature');
  });

  it('follows the tutorial fix: edit the policy, report the same build again, and the version becomes verified', async () => {
    const module = await createModule(bed, { label: 'fixed', identity_regexp: 'https://gitea\\.example\\.com/typo/.*' });
    const { ref, digest } = await publishSigned(module, 'v0.1.0');
    await reportBuild(bed, module, 'v0.1.0', ref);
    expect(await waitForVersion(bed, module, 'v0.1.0')).toMatchObject({ cosign_verified: false, signer_identity: module.identity });
    await bed.rpc.request(CATALOG_RPC.updateModule, {
      actor: ADMIN,
      input: { module_name: module.name, cosign_identity_regexp: module.identity.replace(/[.*+?^${}()|[\]\\]/g, '\\$&') },
    });
    await reportBuild(bed, module, 'v0.1.0', ref);
    expect(await waitForVersion(bed, module, 'v0.1.0', (v) => v.cosign_verified)).toMatchObject({
      cosign_verified: true,
      oci_digest: digest,
      rejection_reason: null,
    });
    expect(built(await versionEvents(bed, module, 'v0.1.0'))).toHaveLength(2);
  });

  it('anchors the policy: evil-user@example.com does not pass for user@example.com, user@example.com does', async () => {
    const module = await createModule(bed, { label: 'anchored', identity_regexp: 'user@example.com', identity: 'user@example.com' });
    const evil = await pushModule(bed, module, 'v0.1.0', await buildModule(bed, module.name, 'v0.1.0'));
    await signDsse(bed, module, evil, { identity: 'evil-user@example.com' });
    await reportBuild(bed, module, 'v0.1.0', evil.ref);
    const good = await pushModule(bed, module, 'v0.2.0', await buildModule(bed, module.name, 'v0.2.0'));
    await signDsse(bed, module, good, { identity: 'user@example.com' });
    await reportBuild(bed, module, 'v0.2.0', good.ref);

    const bypass = await waitForVersion(bed, module, 'v0.1.0');
    expect(bypass).toMatchObject({ cosign_verified: false, signer_identity: 'evil-user@example.com' });
    expect(bypass.rejection_reason).toContain('identity_mismatch');
    expect(bypass.rejection_reason).toContain('^(?:user@example.com)$');
    expect(await waitForVersion(bed, module, 'v0.2.0')).toMatchObject({ cosign_verified: true, signer_identity: 'user@example.com' });
  });

  it('reads legacy cosign sha256-<hex>.sig signatures: one without a proven signing time is a signature, but not a verified one', async () => {
    const module = await createModule(bed, { label: 'legacy' });
    const pushed = await pushModule(bed, module, 'v0.1.0', await buildModule(bed, module.name, 'v0.1.0'));
    await signLegacyCosign(bed, module, pushed, { identity: module.identity });
    await reportBuild(bed, module, 'v0.1.0', pushed.ref);
    const version = await waitForVersion(bed, module, 'v0.1.0');
    expect(version).toMatchObject({ cosign_verified: false, oci_digest: pushed.digest, signer_identity: null });
    expect(version.rejection_reason).toMatch(/^signature_untrusted: timestamp_missing: /);
  });
});

describe('ingest of a reported build: broken signature attachments', () => {
  async function corrupt(digest: string): Promise<void> {
    const stored = bed.registry.blobDataPath(digest);
    const bytes = await readFile(stored);
    bytes[Math.floor(bytes.length / 2)] ^= 0xff;
    await writeFile(stored, bytes);
  }

  it('does not let a referrer whose bundle cannot be read hide a good signature, nor pass for one', async () => {
    const module = await createModule(bed, { label: 'broken-sig' });
    const alone = await pushModule(bed, module, 'v0.1.0', await buildModule(bed, module.name, 'v0.1.0'));
    await corrupt((await signDsse(bed, module, alone, { identity: 'someone@example.com' })).bundleDigest);
    await reportBuild(bed, module, 'v0.1.0', alone.ref);
    const both = await pushModule(bed, module, 'v0.2.0', await buildModule(bed, module.name, 'v0.2.0'));
    await corrupt((await signDsse(bed, module, both, { identity: 'someone@example.com' })).bundleDigest);
    await signDsse(bed, module, both, { identity: module.identity });
    await reportBuild(bed, module, 'v0.2.0', both.ref);

    const unreadable = await waitForVersion(bed, module, 'v0.1.0');
    expect(unreadable).toMatchObject({ cosign_verified: false, composefs_digest: expect.stringMatching(/^sha256:/), signer_identity: null });
    expect(unreadable.rejection_reason).toMatch(/^signature_untrusted: bundle_malformed: referrer sha256:[0-9a-f]{64} cannot be read: .*sha256:/);
    expect(await waitForVersion(bed, module, 'v0.2.0')).toMatchObject({ cosign_verified: true, signer_identity: module.identity });
  });
});

describe('ingest of a reported build: rejections', () => {
  it('rejects an unsigned build as signature_missing, keeping its digest', async () => {
    const module = await createModule(bed, { label: 'unsigned' });
    const pushed = await pushModule(bed, module, 'v0.1.0', await buildModule(bed, module.name, 'v0.1.0'));
    await reportBuild(bed, module, 'v0.1.0', pushed.ref);
    const version = await waitForVersion(bed, module, 'v0.1.0');
    expect(version).toMatchObject({ cosign_verified: false, oci_digest: pushed.digest, composefs_digest: null, promotion_state: 'built' });
    expect(version.rejection_reason).toMatch(/^signature_missing: no signature for sha256:[0-9a-f]{64}/);
  });

  it('rejects a tag that is not a semantic version without pulling anything', async () => {
    const module = await createModule(bed, { label: 'notsemver' });
    // Nothing listens there: a pull would end in registry_unreachable, not in not_semver.
    const nowhere = `127.0.0.1:${CLOSED_LOOPBACK_PORT}/${repositoryOf(module)}:latest`;
    await reportBuild(bed, module, 'latest', nowhere);
    const version = await waitForVersion(bed, module, 'latest');
    expect(version).toMatchObject({ version_string: 'latest', oci_ref: nowhere, oci_digest: null, cosign_verified: false });
    expect(version.rejection_reason).toMatch(/^not_semver: tag "latest" is not a semantic version/);
  });

  it('rejects a build whose tree layer holds a file changed after the build (fsverity_mismatch), even when the result is signed', async () => {
    const module = await createModule(bed, { label: 'tampered' });
    const artifact = await buildModule(bed, module.name, 'v0.1.0');
    const treeLayer = artifact.manifest.layers.find((l) => l.mediaType === MODULE_TREE_LAYER_MEDIA_TYPE)!;
    const treeBlob = artifact.blobs.get(treeLayer.digest)!;
    const original = treeBlob.bytes ?? (await readFile(treeBlob.path));
    // Same length, so only the content hashes can tell.
    const tampered = Buffer.from(original.toString('latin1').replace('listen 8080', 'listen 9090'), 'latin1');
    expect(tampered.equals(original)).toBe(false);
    const manifest: ImageManifest = {
      ...artifact.manifest,
      layers: artifact.manifest.layers.map((l) => (l === treeLayer ? { ...l, digest: sha256Digest(tampered), size: tampered.length } : l)),
    };
    const repository = repositoryOf(module);
    for (const blob of artifact.blobs.values()) if (blob.role !== 'tree') await bed.oci.uploadBlob(repository, blob.bytes ?? { path: blob.path });
    await bed.oci.uploadBlob(repository, tampered);
    const bytes = canonicalJsonBytes(manifest);
    const pushedManifest = await bed.oci.putManifest(repository, 'v0.1.0', { bytes, mediaType: OCI_MANIFEST_MEDIA_TYPE });
    await signDsse(
      bed,
      module,
      { subject: { mediaType: OCI_MANIFEST_MEDIA_TYPE, digest: pushedManifest.digest, size: bytes.length } },
      { identity: module.identity },
    );
    await reportBuild(bed, module, 'v0.1.0', `${bed.registry.host}/${repository}:v0.1.0`);

    const version = await waitForVersion(bed, module, 'v0.1.0');
    expect(version).toMatchObject({ cosign_verified: false, composefs_digest: null, oci_digest: pushedManifest.digest });
    expect(version.rejection_reason).toMatch(new RegExp(`^fsverity_mismatch: fsverity verification failed: /etc/${module.name}/app\\.conf`));
  });

  it('rejects a build whose layer blob was replaced in the registry storage (digest_mismatch)', async () => {
    const module = await createModule(bed, { label: 'swapped' });
    const artifact = await buildModule(bed, module.name, 'v0.1.0');
    const pushed = await pushModule(bed, module, 'v0.1.0', artifact);
    await signDsse(bed, module, pushed, { identity: module.identity });
    const treeLayer = artifact.manifest.layers.find((l) => l.mediaType === MODULE_TREE_LAYER_MEDIA_TYPE)!;
    const stored = bed.registry.blobDataPath(treeLayer.digest);
    const bytes = await readFile(stored);
    bytes[Math.floor(bytes.length / 2)] ^= 0xff;
    await writeFile(stored, bytes);
    await reportBuild(bed, module, 'v0.1.0', pushed.ref);

    const version = await waitForVersion(bed, module, 'v0.1.0');
    expect(version).toMatchObject({ cosign_verified: false, composefs_digest: null, oci_digest: pushed.digest });
    expect(version.rejection_reason).toMatch(/^digest_mismatch: /);
    expect(version.rejection_reason).toContain(treeLayer.digest);
  });

  it('rejects an artifact whose manifest names another module (manifest_invalid)', async () => {
    const module = await createModule(bed, { label: 'misnamed' });
    const pushed = await pushModule(bed, module, 'v0.1.0', await buildModule(bed, module.name, 'v0.1.0', 'some-other-module'));
    await signDsse(bed, module, pushed, { identity: module.identity });
    await reportBuild(bed, module, 'v0.1.0', pushed.ref);
    const version = await waitForVersion(bed, module, 'v0.1.0');
    expect(version.rejection_reason).toMatch(/^manifest_invalid: the artifact's manifest names module "some-other-module"/);
  });

  it('rejects an artifact built for another version than its tag (manifest_invalid): a signed old build cannot be re-tagged', async () => {
    const module = await createModule(bed, { label: 'retagged' });
    const pushed = await pushModule(bed, module, 'v2.0.0', await buildModule(bed, module.name, 'v1.0.0'));
    await signDsse(bed, module, pushed, { identity: module.identity });
    await reportBuild(bed, module, 'v2.0.0', pushed.ref);
    const version = await waitForVersion(bed, module, 'v2.0.0');
    expect(version.rejection_reason).toMatch(/^manifest_invalid: the artifact was built as version "1\.0\.0"/);
  });

  it('retries while the registry is unreachable, then records registry_unreachable on the last delivery', async () => {
    const module = await createModule(bed, { label: 'offline' });
    const retriedBefore = ingest.started.consumer.stats().retried;
    const nowhere = `127.0.0.1:${CLOSED_LOOPBACK_PORT}/${repositoryOf(module)}:v0.1.0`;
    await reportBuild(bed, module, 'v0.1.0', nowhere);
    const version = await waitForVersion(bed, module, 'v0.1.0');
    expect(version).toMatchObject({ oci_ref: nowhere, oci_digest: null, cosign_verified: false });
    expect(version.rejection_reason).toMatch(/^registry_unreachable: .*unreachable.*gave up after 3 deliveries/);
    // INGEST_MAX_DELIVER=3: two deliveries were handed back for a retry before the third recorded the rejection.
    expect(ingest.started.consumer.stats().retried - retriedBefore).toBeGreaterThanOrEqual(2);
  });
});

describe('ingest of a reported build: idempotency', () => {
  it('records one version when the same build is reported twice and when the same event is handled again', async () => {
    const module = await createModule(bed, { label: 'twice' });
    const { ref, digest } = await publishSigned(module, 'v0.1.0');
    const first = await reportBuild(bed, module, 'v0.1.0', ref);
    await waitForVersion(bed, module, 'v0.1.0');
    await waitUntilProcessed(module, first);
    const second = await reportBuild(bed, module, 'v0.1.0', ref);
    await waitUntilProcessed(module, second);
    // The same event once more, past the consumer's ledger (a redelivery after a lost ledger write).
    const [reported] = (await bed.store.readAll({ after_position: 0, limit: 100_000 })).filter((e) => e.id === reportEventId(module, first));
    await ingest.started.ingest.handleBuildReported(reported!, { attempt: 1, subject: 'powernode.events.module.ModuleBuildReported', stream_sequence: 0 });

    const events = await versionEvents(bed, module, 'v0.1.0');
    expect(built(events)).toHaveLength(1);
    expect(events).toHaveLength(1);
    expect(await waitForVersion(bed, module, 'v0.1.0')).toMatchObject({ oci_digest: digest, cosign_verified: true });
  });

  it('drops a report for a module deleted before ingest got to it', async () => {
    const module = await createModule(bed, { label: 'deleted' });
    const { ref } = await publishSigned(module, 'v0.1.0');
    // Hold ingest back so that the deletion certainly comes first.
    await ingest.started.consumer.stop();
    let delivery: string;
    try {
      delivery = await reportBuild(bed, module, 'v0.1.0', ref);
      await bed.rpc.request(CATALOG_RPC.deleteModule, { actor: ADMIN, input: { name: module.name } });
    } finally {
      await ingest.started.consumer.start();
    }
    await waitUntilProcessed(module, delivery);
    expect(await versionEvents(bed, module, 'v0.1.0')).toEqual([]);
  });
});

describe('re-verification after the trust policy is edited', () => {
  const escape = (s: string) => s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');

  it('flips cosign_verified both ways, keeps the promotion state, and then only lets the version be retired', async () => {
    const module = await createModule(bed, { label: 'reverify', identity_regexp: 'https://gitea\\.example\\.com/someone-else/.*' });
    const { digest } = await publishSigned(module, 'v0.1.0');
    await reportBuild(bed, module, 'v0.1.0', null);
    const before = await waitForVersion(bed, module, 'v0.1.0');
    expect(before).toMatchObject({ cosign_verified: false, signer_identity: module.identity });

    await bed.rpc.request(CATALOG_RPC.updateModule, { actor: ADMIN, input: { module_name: module.name, cosign_identity_regexp: escape(module.identity) } });
    const fixed = await bed.rpc.request<{ version: Record<string, unknown>; changed: boolean }>(
      INGEST_RPC.reverifyVersion,
      { actor: ADMIN, input: { id: before.id } },
      { timeout_ms: 60_000 },
    );
    expect(fixed).toMatchObject({
      changed: true,
      version: { id: before.id, cosign_verified: true, signer_identity: module.identity, rejection_reason: null, oci_digest: digest },
    });
    await bed.rpc.request(CATALOG_RPC.promoteModuleVersion, { actor: ADMIN, input: { id: before.id, to: 'staging' } });

    const unchanged = await bed.rpc.request<{ changed: boolean }>(
      INGEST_RPC.reverifyVersion,
      { actor: ADMIN, input: { id: before.id } },
      { timeout_ms: 60_000 },
    );
    expect(unchanged.changed).toBe(false);

    await bed.rpc.request(CATALOG_RPC.updateModule, {
      actor: ADMIN,
      input: { module_name: module.name, cosign_issuer_regexp: 'https://other-issuer\\.example\\.com' },
    });
    const lost = await bed.rpc.request<{ version: Record<string, unknown>; changed: boolean }>(
      INGEST_RPC.reverifyVersion,
      { actor: ADMIN, input: { id: before.id } },
      { timeout_ms: 60_000 },
    );
    expect(lost).toMatchObject({ changed: true, version: { cosign_verified: false, promotion_state: 'staging' } });
    expect(String(lost.version['rejection_reason'])).toMatch(/^signature_untrusted: issuer_mismatch: /);
    const refusal = await bed.rpc.request(CATALOG_RPC.promoteModuleVersion, { actor: ADMIN, input: { id: before.id, to: 'blessed' } }).catch((e: unknown) => e);
    expect(isPowernodeError(refusal) && refusal.code).toBe('unverified_signature');
    await bed.rpc.request(CATALOG_RPC.promoteModuleVersion, { actor: ADMIN, input: { id: before.id, to: 'retired' } });

    const reverified = (await versionEvents(bed, module, 'v0.1.0')).filter((e) => e.type === 'ModuleVersionReverified');
    expect(reverified.map((e) => (e.data as { cosign_verified: boolean; requested_by: string }).cosign_verified)).toEqual([true, false]);
    expect(reverified[0]?.data).toMatchObject({ requested_by: ADMIN.name, cosign_identity_regexp: escape(module.identity), oci_digest: digest });
  });

  it('refuses to re-verify a version rejected at ingest (conflict) and an unknown version (not_found)', async () => {
    const module = await createModule(bed, { label: 'reverify-rejected' });
    const pushed = await pushModule(bed, module, 'v0.1.0', await buildModule(bed, module.name, 'v0.1.0'));
    await reportBuild(bed, module, 'v0.1.0', pushed.ref);
    const rejected = await waitForVersion(bed, module, 'v0.1.0', isRejected('signature_missing'));
    const conflict = await bed.rpc.request(INGEST_RPC.reverifyVersion, { actor: ADMIN, input: { id: rejected.id } }).catch((e: unknown) => e);
    expect(isPowernodeError(conflict) && conflict.code).toBe('conflict');
    const unknown = await bed.rpc.request(INGEST_RPC.reverifyVersion, { actor: ADMIN, input: { id: randomUUID() } }).catch((e: unknown) => e);
    expect(isPowernodeError(unknown) && unknown.code).toBe('not_found');
    const invalid = await bed.rpc.request(INGEST_RPC.reverifyVersion, { actor: ADMIN, input: {} }).catch((e: unknown) => e);
    expect(isPowernodeError(invalid) && invalid.code).toBe('validation_failed');
  });

  it('answers ingest.ping', async () => {
    expect(await bed.rpc.request(INGEST_RPC.ping, {})).toEqual({ service: 'ingest', ok: true });
  });
});
