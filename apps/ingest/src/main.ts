import 'reflect-metadata';
import { startServiceHost } from '@powernode/runtime';
import { ingestConfigShape, startIngest } from './start-ingest.js';

const host = await startServiceHost({ service: 'ingest', shape: ingestConfigShape });
try {
  await startIngest(host);
} catch (error) {
  // A service that cannot verify (no trust roots, no ledger) must not run at all; nothing was consumed yet.
  host.logger.fatal({ err: error }, `ingest cannot start: ${(error as Error).message}`);
  host.logger.flush?.();
  process.exit(1);
}
