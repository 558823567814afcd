/** Closed-loop HTTP load: `concurrency` workers issue requests back to back for `durationMs`. */
export async function measureRequestsPerSecond(
  request: () => Promise<Response>,
  options: { concurrency: number; durationMs: number; warmUpMs?: number },
): Promise<{ rps: number; count: number; errors: number; p50: number; p99: number }> {
  const warmUpEnd = performance.now() + (options.warmUpMs ?? 500);
  while (performance.now() < warmUpEnd) await (await request()).arrayBuffer();
  const latencies: number[] = [];
  let errors = 0;
  const end = performance.now() + options.durationMs;
  const started = performance.now();
  await Promise.all(
    Array.from({ length: options.concurrency }, async () => {
      while (performance.now() < end) {
        const t = performance.now();
        const res = await request();
        await res.arrayBuffer();
        if (!res.ok) errors++;
        latencies.push(performance.now() - t);
      }
    }),
  );
  const seconds = (performance.now() - started) / 1000;
  latencies.sort((a, b) => a - b);
  const pct = (p: number) => latencies[Math.min(latencies.length - 1, Math.floor(p * latencies.length))] ?? 0;
  return { rps: latencies.length / seconds, count: latencies.length, errors, p50: pct(0.5), p99: pct(0.99) };
}
