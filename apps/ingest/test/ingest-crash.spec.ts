import { MODULE_TREE_LAYER_MEDIA_TYPE } from '@powernode/artifact';
import { startRegistryProxy, startServiceProcess, type RegistryProxy, type ServiceProcess } from '@powernode/testing';
import {
  buildModule,
  createModule,
  pushModule,
  reportBuild,
  repositoryOf,
  signDsse,
  startIngestTestBed,
  versionEvents,
  waitForVersion,
  type IngestTestBed,
} from './ingest-test-bed.js';

let bed: IngestTestBed;
let gate: RegistryProxy | undefined;
const processes: ServiceProcess[] = [];

beforeAll(async () => {
  bed = await startIngestTestBed();
}, 120_000);

afterAll(async () => {
  for (const p of processes) await p.kill();
  await gate?.stop();
  await bed?.stop();
});

/** Ingest from its real entry point, as a separate process on the test bed's NATS and data dir. */
async function startIngestProcess(env: NodeJS.ProcessEnv = {}): Promise<ServiceProcess> {
  const proc = startServiceProcess('ingest', { ...bed.platform.env, ...bed.platform.natsEnv('ingest'), ...env });
  processes.push(proc);
  await proc.waitForLog((line) => line.includes('ingest ready'), 60_000);
  return proc;
}

describe('ingest killed while handling a build', () => {
  it('is redelivered to the next ingest process, which finishes the job with exactly one version', async () => {
    const module = await createModule(bed, { label: 'crash' });
    const artifact = await buildModule(bed, module.name, 'v0.1.0');
    const pushed = await pushModule(bed, module, 'v0.1.0', artifact);
    await signDsse(bed, module, pushed, { identity: module.identity });
    const treeDigest = artifact.manifest.layers.find((l) => l.mediaType === MODULE_TREE_LAYER_MEDIA_TYPE)!.digest;
    // The tree layer download is held, so the first process is caught after the manifest and before the files.
    const opened = await startRegistryProxy(bed.registry.host, (req) =>
      req.method === 'GET' && (req.url ?? '').endsWith(`/blobs/${treeDigest}`) ? { kind: 'hold' } : { kind: 'forward' },
    );
    gate = opened;

    // The proxy is a registry of its own (another port): ingest contacts only the registries it is allowed.
    const allowProxy = { INGEST_ALLOWED_REGISTRIES: `${bed.registry.host},${opened.host}` };
    const first = await startIngestProcess(allowProxy);
    await reportBuild(bed, module, 'v0.1.0', `${opened.host}/${repositoryOf(module)}:v0.1.0`);
    const heldUrl = await opened.held();
    expect(heldUrl).toContain(treeDigest);
    await first.kill();
    expect(first.child.signalCode).toBe('SIGKILL');
    expect(await versionEvents(bed, module, 'v0.1.0')).toEqual([]);

    opened.setPlan(() => ({ kind: 'forward' }));
    opened.release();
    await startIngestProcess(allowProxy);
    const version = await waitForVersion(bed, module, 'v0.1.0', (v) => v.cosign_verified);
    expect(version).toMatchObject({ oci_digest: pushed.digest, composefs_digest: artifact.composefsDigest, cosign_verified: true, promotion_state: 'built' });
    const events = await versionEvents(bed, module, 'v0.1.0');
    expect(events.map((e) => e.type)).toEqual(['ModuleVersionBuilt']);
  });
});
