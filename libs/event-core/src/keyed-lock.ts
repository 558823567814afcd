/**
 * Runs async work one at a time per key, in call order, while work under different keys runs in parallel.
 * Commands on one stream, and operations on one instance, use it so that they never interleave within a
 * process. A failed run releases the key like a successful one; its error goes to its own caller only.
 */
export class KeyedLock {
  /** The last queued run of each key, settled either way; dropped once nothing is queued behind it. */
  private readonly tails = new Map<string, Promise<void>>();

  /** Runs `work` once every earlier run under `key` has settled; answers what `work` answers. */
  run<T>(key: string, work: () => Promise<T>): Promise<T> {
    const previous = this.tails.get(key) ?? Promise.resolve();
    const run = previous.then(work);
    const settled = run.then(
      () => undefined,
      () => undefined,
    );
    this.tails.set(key, settled);
    void settled.then(() => {
      if (this.tails.get(key) === settled) this.tails.delete(key);
    });
    return run;
  }

  /** Resolves once every run queued so far, under any key, has settled. */
  async idle(): Promise<void> {
    await Promise.all(this.tails.values());
  }

  /** How many keys have work queued or running (for tests and metrics). */
  get busyKeys(): number {
    return this.tails.size;
  }
}
