import { KeyedLock } from '../src/index.js';

/** A promise with its resolve and reject at hand, to hold work open until the test lets it finish. */
function gate<T = void>(): { promise: Promise<T>; open: (value: T) => void; fail: (error: Error) => void } {
  let open!: (value: T) => void;
  let fail!: (error: Error) => void;
  const promise = new Promise<T>((resolve, reject) => {
    open = resolve;
    fail = reject;
  });
  return { promise, open, fail };
}

const flush = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));

describe('KeyedLock', () => {
  test('serialises work under the same key, in call order', async () => {
    const lock = new KeyedLock();
    const log: string[] = [];
    const first = gate();
    const a = lock.run('instance-1', async () => {
      log.push('a starts');
      await first.promise;
      log.push('a ends');
      return 'a';
    });
    const b = lock.run('instance-1', async () => {
      log.push('b starts');
      return 'b';
    });
    await flush();
    expect(log).toEqual(['a starts']);
    first.open();
    expect(await Promise.all([a, b])).toEqual(['a', 'b']);
    expect(log).toEqual(['a starts', 'a ends', 'b starts']);
  });

  test('runs work under different keys in parallel', async () => {
    const lock = new KeyedLock();
    const held = gate();
    const started: string[] = [];
    const a = lock.run('instance-1', async () => {
      started.push('a');
      await held.promise;
    });
    const b = lock.run('instance-2', async () => {
      started.push('b');
    });
    await b;
    await flush();
    expect(started).toEqual(['a', 'b']);
    expect(lock.busyKeys).toBe(1);
    held.open();
    await a;
  });

  test('releases the key when work throws: the error goes to its caller, the next run still runs', async () => {
    const lock = new KeyedLock();
    const failing = gate();
    const a = lock.run('stream', () => failing.promise);
    const b = lock.run('stream', async () => 'b ran');
    failing.fail(new Error('decider refused'));
    await expect(a).rejects.toThrow('decider refused');
    await expect(b).resolves.toBe('b ran');
    await lock.idle();
    expect(lock.busyKeys).toBe(0);
  });

  test('a synchronous throw inside work releases the key too', async () => {
    const lock = new KeyedLock();
    await expect(
      lock.run('stream', () => {
        throw new Error('thrown before any await');
      }),
    ).rejects.toThrow('thrown before any await');
    await expect(lock.run('stream', async () => 1)).resolves.toBe(1);
  });

  test('idle waits for every queued run under every key', async () => {
    const lock = new KeyedLock();
    const held = gate();
    let done = false;
    void lock.run('k1', async () => {
      await held.promise;
      done = true;
    });
    void lock.run('k2', async () => undefined);
    const idle = lock.idle().then(() => done);
    held.open();
    await expect(idle).resolves.toBe(true);
    expect(lock.busyKeys).toBe(0);
  });
});
