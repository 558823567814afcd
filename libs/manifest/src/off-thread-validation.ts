import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { Worker } from 'node:worker_threads';
import { PowernodeError, type ManifestValidationResult } from '@powernode/contracts';

/*
 * Manifest validation off the caller's event loop. A service that validates manifests anyone with read access
 * sends (the gateway's dry run) must keep answering while one is being read: the work runs on one worker
 * thread, a job at a time, each with a time budget after which the thread is ended (and a fresh one started),
 * and with a bounded queue beyond which callers are told to come back. The caps of the manifest format keep an
 * honest manifest far below the budget.
 */

/** Default time one validation may take on the worker. */
export const MANIFEST_VALIDATION_TIMEOUT_MS = 5_000;
/** Default number of validations waiting for the worker beyond which new ones are refused. */
export const MANIFEST_VALIDATION_QUEUE = 16;

interface Job {
  id: number;
  text: string;
  resolve: (result: ManifestValidationResult) => void;
  reject: (error: unknown) => void;
}

/** The worker's entry: the built file beside this one (tests run the sources, and the build beside them). */
function workerEntry(): URL {
  const beside = new URL('./validation-worker-main.js', import.meta.url);
  return existsSync(fileURLToPath(beside)) ? beside : new URL('../dist/validation-worker-main.js', import.meta.url);
}

export class OffThreadManifestValidator {
  private worker: Worker | undefined;
  private readonly queue: Job[] = [];
  private running: { job: Job; timer: NodeJS.Timeout } | undefined;
  private nextId = 1;

  constructor(private readonly options: { timeoutMs?: number; maxQueued?: number } = {}) {}

  /** The report of `validateManifestYaml(text)`, computed on the worker. */
  validate(text: string): Promise<ManifestValidationResult> {
    const maxQueued = this.options.maxQueued ?? MANIFEST_VALIDATION_QUEUE;
    if (this.queue.length >= maxQueued) {
      return Promise.reject(
        new PowernodeError('rate_limited', `${maxQueued} manifest validations are already waiting; try again in a few seconds`, {
          retryable: true,
          details: { rule: 'manifest_validation_queue', limit: maxQueued },
        }),
      );
    }
    return new Promise((resolve, reject) => {
      this.queue.push({ id: this.nextId++, text, resolve, reject });
      this.pump();
    });
  }

  /** Ends the worker; waiting validations are refused. */
  async close(): Promise<void> {
    for (const job of this.queue.splice(0)) job.reject(new PowernodeError('internal', 'the manifest validator was closed'));
    if (this.running !== undefined) {
      clearTimeout(this.running.timer);
      this.running.job.reject(new PowernodeError('internal', 'the manifest validator was closed'));
      this.running = undefined;
    }
    await this.worker?.terminate();
    this.worker = undefined;
  }

  private pump(): void {
    if (this.running !== undefined) return;
    const job = this.queue.shift();
    if (job === undefined) return;
    const worker = this.ensureWorker();
    const timeoutMs = this.options.timeoutMs ?? MANIFEST_VALIDATION_TIMEOUT_MS;
    const timer = setTimeout(() => {
      // A manifest the thread is still reading after its budget: that thread is ended, the next job gets a new one.
      this.running = undefined;
      this.worker = undefined;
      void worker.terminate();
      job.reject(
        new PowernodeError(
          'validation_failed',
          `manifest_yaml: validating it took longer than ${timeoutMs} ms and was stopped; simplify the manifest (fewer, flatter values and shorter globs)`,
          {
            details: { field: 'manifest_yaml', rule: 'manifest_validation_time', limit_ms: timeoutMs },
          },
        ),
      );
      this.pump();
    }, timeoutMs);
    timer.unref();
    this.running = { job, timer };
    worker.postMessage({ id: job.id, text: job.text });
  }

  private ensureWorker(): Worker {
    if (this.worker !== undefined) return this.worker;
    const worker = new Worker(workerEntry());
    worker.unref();
    worker.on('message', (message: { id: number; result: ManifestValidationResult }) => {
      const running = this.running;
      if (running === undefined || running.job.id !== message.id) return;
      clearTimeout(running.timer);
      this.running = undefined;
      running.job.resolve(message.result);
      this.pump();
    });
    worker.on('error', (error) => {
      const running = this.running;
      this.running = undefined;
      this.worker = undefined;
      if (running !== undefined) {
        clearTimeout(running.timer);
        running.job.reject(new PowernodeError('internal', `manifest validation failed on its worker: ${error.message}`, { cause: error }));
      }
      this.pump();
    });
    this.worker = worker;
    return worker;
  }
}
