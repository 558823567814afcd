import { pollUntil } from './poll.js';

describe('pollUntil', () => {
  test('answers the first answer that is not null, undefined or false', async () => {
    const answers = [undefined, null, false, 0, 'late'];
    let asked = 0;
    await expect(pollUntil(() => answers[asked++], { timeoutMs: 5_000, intervalMs: 1 })).resolves.toBe(0);
    expect(asked).toBe(4);
  });

  test('answers undefined once the time is up, having asked at least once', async () => {
    let asked = 0;
    await expect(pollUntil(async () => (asked++, false), { timeoutMs: 0 })).resolves.toBeUndefined();
    expect(asked).toBe(1);
  });

  test('a probe that throws ends the wait with its error', async () => {
    await expect(pollUntil(() => Promise.reject(new Error('registry exited')), { timeoutMs: 1_000 })).rejects.toThrow('registry exited');
  });
});
