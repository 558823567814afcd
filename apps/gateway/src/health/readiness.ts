/** One dependency the gateway needs to serve requests. */
export interface ReadinessCheck {
  name: string;
  check: () => Promise<void>;
}

export interface ReadinessReport {
  status: 'ready' | 'unavailable';
  checks: Record<string, { ok: boolean; error?: string; ms: number }>;
}

/**
 * The report as anyone may see it: which dependency is down and how long each check took, without the error
 * texts, which name internal addresses, subjects and driver messages (shown to callers with a bearer token).
 */
export function withoutErrorTexts(report: ReadinessReport): ReadinessReport {
  return { status: report.status, checks: Object.fromEntries(Object.entries(report.checks).map(([name, { ok, ms }]) => [name, { ok, ms }])) };
}

/** Runs every check concurrently with a timeout; the report names each dependency that failed and why. */
export async function runReadinessChecks(checks: ReadinessCheck[], timeoutMs = 2000): Promise<ReadinessReport> {
  const results = await Promise.all(
    checks.map(async ({ name, check }) => {
      const started = Date.now();
      try {
        await Promise.race([check(), new Promise((_, reject) => setTimeout(() => reject(new Error(`no answer within ${timeoutMs} ms`)), timeoutMs).unref())]);
        return [name, { ok: true, ms: Date.now() - started }] as const;
      } catch (error) {
        return [name, { ok: false, error: (error as Error).message, ms: Date.now() - started }] as const;
      }
    }),
  );
  const byName = Object.fromEntries(results);
  return { status: results.every(([, r]) => r.ok) ? 'ready' : 'unavailable', checks: byName };
}
