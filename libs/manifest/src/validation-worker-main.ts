import { parentPort } from 'node:worker_threads';
import { validateManifestYaml } from './validate-manifest-yaml.js';

/*
 * The entry of the thread that validates manifests for OffThreadManifestValidator: one text in, one report
 * out, so a manifest that takes long to read holds this thread, never the caller's event loop.
 */
parentPort?.on('message', (job: { id: number; text: string }) => {
  parentPort!.postMessage({ id: job.id, result: validateManifestYaml(job.text) });
});
