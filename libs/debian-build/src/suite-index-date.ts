import type { MirrorSuite } from './debian-mirror.js';

/*
 * The `Date:` of a suite's signed index (dists/<suite>/InRelease) names the archive state a build installs
 * from: it is part of the cache key (a new point release invalidates the base) and the SOURCE_DATE_EPOCH of
 * the build (so rebuilding the same archive state gives the same bytes, whatever the clock says).
 */

const INDEX_DATE_TIMEOUT_MS = 5000;
// The Date field sits in the first lines; the file itself is hundreds of kilobytes.
const HEADER_BYTES = 4096;

/** The `Date:` of `<uri>/dists/<suite>/InRelease` as seconds since the epoch, or undefined when the mirror does not answer in time. */
export async function fetchSuiteIndexDate(suite: MirrorSuite, timeoutMs = INDEX_DATE_TIMEOUT_MS): Promise<number | undefined> {
  const url = `${suite.uri}/dists/${suite.suite}/InRelease`;
  try {
    const response = await fetch(url, { headers: { range: `bytes=0-${HEADER_BYTES - 1}` }, signal: AbortSignal.timeout(timeoutMs) });
    if (!response.ok || response.body === null) return undefined;
    const reader = response.body.getReader();
    let text = '';
    while (text.length < HEADER_BYTES) {
      const { done, value } = await reader.read();
      if (done) break;
      text += Buffer.from(value).toString('utf8');
    }
    await reader.cancel().catch(() => undefined);
    const date = /^Date:\s*(.+)$/m.exec(text)?.[1]?.trim();
    const seconds = date === undefined ? NaN : Math.floor(Date.parse(date) / 1000);
    return Number.isFinite(seconds) ? seconds : undefined;
  } catch {
    return undefined;
  }
}
