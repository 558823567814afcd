// The web UI in headless Chromium (Debian's, through playwright-core) against the real catalog and gateway:
// - first load of /app: every asset the page loads before it shows sign-in, as sent (gzip); target < 300 KB;
//   baseline: the same files uncompressed.
// - navigation to the module list with 1,000 modules registered, until its first page of rows is rendered;
//   median of several navigations, target < 1 s; baseline: navigation to the (tiny) sign-in page.
// - an event appended through the API until it is shown on an open events page (live tail over the event
//   stream); p50 of several rounds, target < 500 ms; baseline: the API call's own round trip.
// Needs the build (`npm run bench` builds first) and /usr/bin/chromium.
// Durability: the platform's SQLite store under a temp data dir, as `npm start` runs it.
import { randomBytes } from 'node:crypto';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { gzipSync } from 'node:zlib';
import { startPlatform } from '@powernode/testing';
// eslint-disable-next-line @nx/enforce-module-boundaries -- the browser the web UI's own tests drive
import { CHROMIUM, launchChromium } from '../apps/web/test/browser.test-support.js';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const MODULES = 1000;
const NAV_ROUNDS = 7;
const EVENT_ROUNDS = 21;
const LOAD_TARGET_KB = 300;
const NAV_TARGET_MS = 1000;
const EVENT_TARGET_MS = 500;

const median = (values: number[]): number => {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = sorted.length >> 1;
  return sorted.length % 2 === 1 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
};

const verdict = (ok: boolean): string => (ok ? 'OK' : 'ABOVE TARGET');

export async function benchUi(report: (line: string) => void): Promise<void> {
  if (!existsSync(path.join(ROOT, 'apps/web/dist/index.html'))) throw new Error('apps/web/dist is missing: run npm run build first');
  if (!existsSync(CHROMIUM)) throw new Error(`${CHROMIUM} is missing: apt-get install chromium`);
  const platform = await startPlatform({ services: ['catalog', 'gateway'] });
  const browser = await launchChromium();
  try {
    const api = async (method: string, route: string, body?: unknown) => {
      const res = await fetch(`${platform.url}/api/v1/system${route}`, {
        method,
        headers: { authorization: `Bearer ${platform.adminToken}`, ...(body === undefined ? {} : { 'content-type': 'application/json' }) },
        body: body === undefined ? undefined : JSON.stringify(body),
      });
      if (!res.ok) throw new Error(`${method} ${route}: ${res.status} ${await res.text()}`);
      return res.json() as Promise<any>;
    };

    // 1. First load: the bytes of every response the page needed, as they came over the wire.
    const context = await browser.newContext({ baseURL: platform.url });
    const first = await context.newPage();
    const sizes: Promise<number>[] = [];
    first.on('requestfinished', (request) => sizes.push(request.sizes().then((s) => s.responseBodySize)));
    await first.goto('/app/');
    await first.getByLabel('Bearer token').waitFor();
    const sent = (await Promise.all(sizes)).reduce((a, b) => a + b, 0);
    const files = readdirSync(path.join(ROOT, 'apps/web/dist/assets')).map((f) => readFileSync(path.join(ROOT, 'apps/web/dist/assets', f)));
    const raw = files.reduce((a, b) => a + b.length, 0) + readFileSync(path.join(ROOT, 'apps/web/dist/index.html')).length;
    const gzipped = files.reduce((a, b) => a + gzipSync(b, { level: 9 }).length, 0);
    report(
      `first load of /app: ${(sent / 1024).toFixed(1)} KB sent (${sizes.length} responses, gzip; assets gzip ${(gzipped / 1024).toFixed(1)} KB); baseline: ${(raw / 1024).toFixed(1)} KB uncompressed — target < ${LOAD_TARGET_KB} KB: ${verdict(sent / 1024 < LOAD_TARGET_KB)}`,
    );

    // 2. The module list with 1,000 modules.
    const registerStarted = performance.now();
    const tag = randomBytes(3).toString('hex');
    for (let i = 0; i < MODULES; i += 20) {
      await Promise.all(
        Array.from({ length: Math.min(20, MODULES - i) }, (_, j) =>
          api('POST', '/modules', {
            name: `bench-${tag}-${String(i + j).padStart(4, '0')}`,
            display_name: `Bench module ${i + j}`,
            category: 'userland',
            variety: 'subscription',
            gitea_repo_full_name: `bench/m-${tag}-${i + j}`,
            cosign_identity_regexp: 'https://example\\.com/.*',
            cosign_issuer_regexp: 'https://example\\.com',
          }),
        ),
      );
    }
    report(`(registered ${MODULES} modules in ${((performance.now() - registerStarted) / 1000).toFixed(1)} s)`);
    await context.addInitScript(`sessionStorage.setItem('powernode.token', ${JSON.stringify(platform.adminToken)})`);
    const page = await context.newPage();
    await page.goto('/app/system/modules');
    await page.locator('tbody tr').nth(49).waitFor();
    const navigations: number[] = [];
    const baselines: number[] = [];
    // The baseline page lives in a context without the token: it stops at sign-in.
    const bareContext = await browser.newContext({ baseURL: platform.url });
    const bare = await bareContext.newPage();
    for (let round = 0; round < NAV_ROUNDS; round++) {
      await page.goto('about:blank');
      let started = performance.now();
      await page.goto('/app/system/modules');
      await page.locator('tbody tr').nth(49).waitFor();
      navigations.push(performance.now() - started);
      await bare.goto('about:blank');
      started = performance.now();
      await bare.goto('/app/');
      await bare.getByLabel('Bearer token').waitFor();
      baselines.push(performance.now() - started);
    }
    await bareContext.close();
    const rows = await page.locator('tbody tr').count();
    report(
      `module list with ${MODULES} modules, navigation until its first ${rows} rows render: median ${median(navigations).toFixed(0)} ms, max ${Math.max(...navigations).toFixed(0)} ms (${NAV_ROUNDS} rounds); baseline: sign-in page ${median(baselines).toFixed(0)} ms — target < ${NAV_TARGET_MS} ms: ${verdict(median(navigations) < NAV_TARGET_MS)}`,
    );

    // 3. Append → shown on an open page.
    await page.goto('/app/system/events');
    await page.getByText('live tail: live').waitFor({ timeout: 30_000 });
    await page.getByRole('table', { name: 'Event log' }).locator('tbody tr').first().waitFor();
    const shown: number[] = [];
    const roundTrips: number[] = [];
    // Timed inside the page, on its clock: the request goes out from the page, and a MutationObserver notes
    // the moment the row is in the document (a locator's polling would add its own interval).
    for (let round = 0; round < EVENT_ROUNDS; round++) {
      const name = `bench-live-${tag}-${round}`;
      const timing = (await page.evaluate(`(async () => {
        const table = document.querySelector('table[aria-label="Event log"]');
        const started = performance.now();
        const seen = new Promise((resolve) => {
          const observer = new MutationObserver(() => {
            if (table.textContent.includes('"name":"${name}"')) {
              observer.disconnect();
              resolve(performance.now() - started);
            }
          });
          observer.observe(table, { childList: true, subtree: true, characterData: true });
        });
        const res = await fetch('/api/v1/system/templates', {
          method: 'POST',
          headers: { authorization: 'Bearer ' + sessionStorage.getItem('powernode.token'), 'content-type': 'application/json' },
          body: JSON.stringify({ name: '${name}' }),
        });
        const roundTrip = performance.now() - started;
        if (res.status !== 201) throw new Error('POST /templates answered ' + res.status);
        return { shown: await seen, roundTrip };
      })()`)) as { shown: number; roundTrip: number };
      shown.push(timing.shown);
      roundTrips.push(timing.roundTrip);
    }
    const sorted = [...shown].sort((a, b) => a - b);
    report(
      `event appended (POST /templates) → shown on an open events page: p50 ${median(shown).toFixed(0)} ms, p90 ${sorted[Math.floor(sorted.length * 0.9)]!.toFixed(0)} ms, max ${sorted[sorted.length - 1]!.toFixed(0)} ms (${EVENT_ROUNDS} rounds); baseline: the API call's round trip p50 ${median(roundTrips).toFixed(0)} ms — target p50 < ${EVENT_TARGET_MS} ms: ${verdict(median(shown) < EVENT_TARGET_MS)}`,
    );
    await context.close();
  } finally {
    await browser.cleanup();
    await platform.stop();
  }
}
