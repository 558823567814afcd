import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { chromium, type Browser, type BrowserContext, type Page } from 'playwright-core';

/** Debian's chromium: never a browser build of Playwright's own. */
export const CHROMIUM = process.env['POWERNODE_CHROMIUM'] ?? '/usr/bin/chromium';

/**
 * Headless Chromium as the tests and benchmarks drive it. Playwright gives every launch a fresh, temporary
 * profile (its --user-data-dir) and removes it on close; nothing reaches the network but the gateway.
 */
export async function launchChromium(): Promise<Browser & { cleanup(): Promise<void> }> {
  const downloads = await mkdtemp(path.join(os.tmpdir(), 'pn-chromium-'));
  const browser = await chromium.launch({
    executablePath: CHROMIUM,
    headless: true,
    downloadsPath: downloads,
    args: [
      '--headless',
      '--no-sandbox',
      '--disable-gpu',
      '--disable-quic',
      '--no-first-run',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
    ],
  });
  return Object.assign(browser, {
    async cleanup() {
      await browser.close();
      await rm(downloads, { recursive: true, force: true });
    },
  });
}

/** A fresh context (its own sessionStorage: another tab, another person) with clipboard access for copy buttons. */
export async function newContext(browser: Browser, baseURL: string): Promise<BrowserContext> {
  const context = await browser.newContext({ baseURL, viewport: { width: 1280, height: 900 } });
  await context.grantPermissions(['clipboard-read', 'clipboard-write'], { origin: baseURL });
  return context;
}

/** Opens the app, signs in with `token` and waits for the module list. */
export async function signIn(context: BrowserContext, token: string, path = '/app/'): Promise<Page> {
  const page = await context.newPage();
  await page.goto(path);
  await page.getByLabel('Bearer token').fill(token);
  await page.getByRole('button', { name: 'Sign in' }).click();
  await page.getByRole('navigation', { name: 'Main' }).waitFor();
  return page;
}

/**
 * Controls a person using a screen reader or the keyboard could not use: inputs without a visible <label>,
 * buttons and links without a name, anything focusable taken out of the tab order. Empty when all is well.
 */
export async function inaccessibleControls(page: Page): Promise<string[]> {
  return page.evaluate(`(() => {
    const problems = [];
    for (const el of document.querySelectorAll('input, select, textarea')) {
      const label = el.labels && el.labels[0];
      if (!label || !label.textContent.trim() || label.offsetParent === null) problems.push('no visible label: ' + el.outerHTML.slice(0, 80));
    }
    for (const el of document.querySelectorAll('button, a[href]')) {
      const name = (el.getAttribute('aria-label') || el.textContent || '').trim();
      if (!name) problems.push('no name: ' + el.outerHTML.slice(0, 80));
      if (el.tabIndex < 0) problems.push('not in the tab order: ' + el.outerHTML.slice(0, 80));
    }
    return problems;
  })()`);
}
