import { spawnSync } from 'node:child_process';
import { mkdir, mkdtemp, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import type { Browser, BrowserContext, Page } from 'playwright-core';
/* eslint-disable @nx/enforce-module-boundaries -- the whole platform and the demo's publish step, as the provisioner's e2e tests use them */
import { startE2ePlatform, type E2ePlatform } from '../../provisioner/test/e2e/e2e-platform.test-support.js';
import { DEV_IDENTITY_REGEXP, DEV_ISSUER_REGEXP } from '../../../scripts/demo/example-modules.js';
import { publishModule } from '../../../scripts/demo/steps.js';
/* eslint-enable @nx/enforce-module-boundaries */
import { inaccessibleControls, launchChromium, newContext, signIn } from './browser.test-support.js';

/*
 * Tutorial steps 5, 8 and 9 in a real browser (Debian's chromium) against the whole platform: register a
 * module in the form and copy its secret; publish with the CLI and watch the version arrive on the open page;
 * promote it to live, approved by a second person in another browser context; assign it to a template;
 * create a node, provision an instance and watch it reach running with no drift. Then a viewer finds no
 * control that changes anything, and a revoked token returns to sign-in. Screenshots go to docs/images/.
 */

const REPO_ROOT = path.resolve(import.meta.dirname, '../../..');
const IMAGES = path.join(REPO_ROOT, 'docs/images');

let e: E2ePlatform;
let browser: Browser & { cleanup(): Promise<void> };
const contexts: BrowserContext[] = [];
const suffix = Date.now().toString(36).slice(-5);
const moduleName = `web-probe-${suffix}`;
const repo = `e2e/${moduleName}`;

beforeAll(async () => {
  e = await startE2ePlatform();
  browser = await launchChromium();
  await mkdir(IMAGES, { recursive: true });
}, 180_000);

afterAll(async () => {
  for (const c of contexts) await c.close().catch(() => undefined);
  await browser?.cleanup();
  await e?.stop();
}, 120_000);

async function context(): Promise<BrowserContext> {
  const c = await newContext(browser, e.platform.url);
  contexts.push(c);
  return c;
}

const shot = (page: Page, name: string) => page.screenshot({ path: path.join(IMAGES, `web-ui-${name}.png`) });

/** A token of `role` made through the API (the admin's own). */
async function token(role: string, name: string): Promise<string> {
  const made = await e.rest('POST', '/tokens', { role, name: `${name}-${suffix}` });
  if (made.status !== 201) throw new Error(`token: ${made.status} ${JSON.stringify(made.body)}`);
  return made.body.token;
}

/** A one-file module published with the real CLI (dev signing, the real webhook) under `tag`. */
async function publish(webhookSecret: string, tag: string): Promise<void> {
  const dir = await mkdtemp(path.join(os.tmpdir(), `pn-web-${moduleName}-`));
  await mkdir(path.join(dir, 'rootfs/etc', moduleName), { recursive: true });
  await writeFile(
    path.join(dir, 'manifest.yaml'),
    `schema_version: 1\nname: ${moduleName}\ndisplay_name: "Web probe"\ndescription: "Published from the browser test"\nlicense: "MIT"\nfile_spec:\n  - "/etc/${moduleName}/**"\n`,
  );
  await writeFile(path.join(dir, 'rootfs/etc', moduleName, 'release'), `${moduleName} ${tag}\n`);
  await publishModule(e.ctx, { dir, repo, tag, webhookSecret });
}

describe('the operator web UI walks tutorial steps 5, 8 and 9', () => {
  let admin: Page;
  let secret: string;
  let hostname: string;
  let instanceId: string;

  it('step 5: registers a module with the validation the API applies, and shows the webhook secret once with a copy button', async () => {
    admin = await signIn(await context(), e.platform.adminToken);
    await admin.getByRole('link', { name: 'Register a module' }).click();
    await admin.getByRole('heading', { name: 'Register a module' }).waitFor();
    expect(await inaccessibleControls(admin)).toEqual([]);
    const name = admin.getByLabel('Name', { exact: true });
    await name.fill('Not A Name');
    await name.blur();
    // The message of the API's own schema, next to the field it concerns.
    await admin.getByText('must be 1–64 lowercase letters, digits or hyphens').waitFor();
    expect(await name.getAttribute('aria-invalid')).toBe('true');
    await name.fill(moduleName);
    await admin.getByLabel('Display name').fill('Web probe');
    await admin.getByLabel('Category').selectOption('userland');
    await admin.getByLabel('Variety').selectOption('subscription');
    await admin.getByLabel('Gitea repository').fill('not a repo');
    await admin.getByRole('button', { name: 'Register module' }).click();
    await admin.getByText('must look like <owner>/<repo>').waitFor();
    await admin.getByLabel('Gitea repository').fill(repo);
    await admin.getByLabel('Cosign identity regexp').fill(DEV_IDENTITY_REGEXP);
    await admin.getByLabel('Cosign issuer regexp').fill(DEV_ISSUER_REGEXP);
    await admin.getByRole('button', { name: 'Register module' }).click();
    await admin.getByText('it will not be shown again').waitFor();
    secret = (await admin.getByTestId('webhook-secret').textContent())!.trim();
    expect(secret.length).toBeGreaterThanOrEqual(32);
    await admin.getByRole('button', { name: 'Copy webhook secret' }).click();
    expect(await admin.evaluate('navigator.clipboard.readText()')).toBe(secret);
    const registered = await e.rest('GET', `/modules/${moduleName}`);
    expect(registered.body.module).toMatchObject({
      name: moduleName,
      display_name: 'Web probe',
      gitea_repo_full_name: repo,
      approval_policy: 'require_approval',
    });
  }, 60_000);

  it('step 8: the published version arrives live on the open page; promoted to live with approval by a second token', async () => {
    await admin.getByRole('link', { name: `Go to ${moduleName}` }).click();
    await admin.getByText('No versions yet').waitFor();
    await publish(secret, 'v0.1.0');
    // No reload: the row comes from the event stream.
    const row = admin.locator('tr[data-version="0.1.0"]');
    await row.waitFor({ timeout: 60_000 });
    await row.getByText('built').waitFor();
    expect(await row.locator('td').nth(2).textContent()).toBe('yes');
    const version = (await e.rest('GET', `/modules/${moduleName}/versions`)).body.versions[0];
    expect(await row.locator('code').first().getAttribute('title')).toBe(version.composefs_digest);
    await admin.getByRole('button', { name: 'Promote to staging' }).click();
    await row.getByText('staging', { exact: true }).waitFor();
    await admin.getByRole('button', { name: 'Promote to blessed' }).click();
    await row.getByText('blessed', { exact: true }).waitFor();
    await admin.getByRole('button', { name: 'Promote to live' }).click();
    await row.getByText('(live pending approval)').waitFor();
    // Four eyes: the requester is offered no Approve button.
    await admin.getByText('you requested it').waitFor();
    expect(await admin.getByRole('button', { name: /^Approve/ }).count()).toBe(0);
    await shot(admin, 'module');

    const approver = await signIn(await context(), await token('approver', 'web-approver'), `/app/system/modules/${moduleName}`);
    const approve = approver.getByRole('button', { name: 'Approve 0.1.0 to live' });
    await approve.waitFor();
    // An approver may approve but not promote: no promotion buttons for this role.
    expect(await approver.getByRole('button', { name: /^Promote/ }).count()).toBe(0);
    await approve.click();
    const approvedAt = performance.now();
    // The admin's page, in another browser context, shows the approval's effect from the stream.
    await row.getByText('live', { exact: true }).waitFor({ timeout: 5_000 });
    const shownAfterMs = performance.now() - approvedAt;
    expect(shownAfterMs).toBeLessThan(1_000);
    expect((await e.rest('GET', `/module-versions/${version.id}`)).body.version.promotion_state).toBe('live');
  }, 120_000);

  it('step 9: assigns it to a template, with the compose preview', async () => {
    await admin.getByRole('link', { name: 'Templates' }).click();
    await admin.getByRole('link', { name: 'base', exact: true }).click();
    await admin.getByRole('heading', { name: 'Template base' }).waitFor();
    await admin.getByLabel('Module to assign').fill(moduleName);
    await admin.getByRole('button', { name: 'Assign module' }).click();
    await admin.getByRole('button', { name: `Unassign ${moduleName}` }).waitFor();
    await admin.getByRole('table', { name: 'Layers' }).getByRole('cell', { name: moduleName, exact: true }).waitFor();
    await admin.getByRole('table', { name: 'Dependency closure' }).getByRole('cell', { name: '0.1.0' }).waitFor();
    await shot(admin, 'template');
  }, 60_000);

  it('step 9: provisions an instance of a node, which reaches running with the promoted digest and no drift', async () => {
    hostname = `web-node-${suffix}`;
    await admin.getByRole('link', { name: 'Nodes' }).click();
    await admin.getByLabel('Hostname').fill(hostname);
    await admin.getByLabel('Template').selectOption('base');
    await admin.getByLabel('Channel').selectOption('live');
    await admin.getByRole('button', { name: 'Create node' }).click();
    await admin.getByRole('button', { name: `Provision instance of ${hostname}` }).click();
    await admin.getByRole('heading', { name: /^Instance / }).waitFor();
    instanceId = decodeURIComponent(new URL(admin.url()).pathname.split('/').pop()!);
    // Status from the events: provisioning, starting, then running on the agent's first heartbeat.
    await admin.getByTestId('instance-status').getByText('running').waitFor({ timeout: 90_000 });
    const version = (await e.rest('GET', `/modules/${moduleName}/versions`)).body.versions[0];
    const running = admin.getByRole('table', { name: 'Running module digests' }).getByRole('row').filter({ hasText: moduleName });
    await running.waitFor({ timeout: 60_000 });
    expect(await running.locator('code').getAttribute('title')).toBe(version.composefs_digest);
    await admin.getByText('No drift: the instance runs exactly what it should.').waitFor({ timeout: 60_000 });
    await admin
      .getByRole('region', { name: 'Progress' })
      .or(admin.getByRole('heading', { name: 'Progress' }))
      .first()
      .waitFor();
    await shot(admin, 'instance');
    await admin.getByRole('link', { name: 'Nodes' }).click();
    await admin.getByRole('cell', { name: hostname, exact: true }).waitFor();
    expect(await inaccessibleControls(admin)).toEqual([]);
    await shot(admin, 'nodes');
    await admin.getByRole('link', { name: 'Modules' }).click();
    await admin.getByRole('link', { name: moduleName }).waitFor();
    await shot(admin, 'modules');
    await admin.getByRole('link', { name: 'Events' }).click();
    await admin.getByRole('table', { name: 'Event log' }).getByText('ModuleVersionPromoted').first().waitFor();
    await shot(admin, 'events');
  }, 180_000);

  it('edits the signature policy and terminates the instance', async () => {
    await admin.getByRole('link', { name: 'Modules' }).click();
    await admin.getByRole('link', { name: moduleName }).click();
    await admin.getByRole('button', { name: 'Edit signature policy' }).click();
    await admin.getByLabel('Cosign identity regexp').fill('https://ci\\.example\\.com/.*');
    await admin.getByRole('button', { name: 'Save signature policy' }).click();
    await admin.getByText('https://ci\\.example\\.com/.*').waitFor();
    expect((await e.rest('GET', `/modules/${moduleName}`)).body.module.cosign_identity_regexp).toBe('https://ci\\.example\\.com/.*');

    await admin.goto(`/app/system/instances/${instanceId}`);
    await admin.getByRole('button', { name: 'Terminate…' }).click();
    await admin.getByRole('button', { name: 'Terminate instance' }).click();
    await admin.getByTestId('instance-status').getByText('terminated').waitFor({ timeout: 60_000 });
    expect((await e.instance(instanceId)).status).toBe('terminated');
    expect(await admin.getByRole('button', { name: /^Terminate/ }).count()).toBe(0);
  }, 90_000);

  it('shows a promotion made with the CLI on the open page within a second', async () => {
    await admin.goto(`/app/system/modules/${moduleName}`);
    const row = admin.locator('tr[data-version="0.1.0"]');
    await row.getByText('live', { exact: true }).waitFor();
    await admin.getByTestId('live-state').getByText('live').waitFor();
    const version = (await e.rest('GET', `/modules/${moduleName}/versions`)).body.versions[0];
    const cli = spawnSync(process.execPath, [path.join(REPO_ROOT, 'bin/powernode.mjs'), 'promote', version.id, '--to', 'retired'], {
      env: { ...process.env, POWERNODE_URL: e.platform.url, POWERNODE_TOKEN: e.platform.adminToken },
      encoding: 'utf8',
    });
    expect({ code: cli.status, stderr: cli.stderr }).toEqual({ code: 0, stderr: '' });
    const promotedAt = performance.now();
    await row.getByText('retired', { exact: true }).waitFor({ timeout: 5_000 });
    expect(performance.now() - promotedAt).toBeLessThan(1_000);
  }, 60_000);

  it('a viewer is offered no control that changes anything', async () => {
    const viewer = await signIn(await context(), await token('viewer', 'web-viewer'));
    const mutating = /Register|Promote|Retire|Send back|Approve|Reject|Edit|Save|Assign|Unassign|Provision|Terminate|Create/;
    const templateId = (await e.rest('GET', '/templates')).body.templates.find((t: { name: string }) => t.name === 'base').id;
    // Each page once its data has loaded (the controls in question depend on it).
    const pages: [string, (p: Page) => Promise<void>][] = [
      ['/app/system/modules', (p) => p.getByRole('link', { name: moduleName }).waitFor()],
      [`/app/system/modules/${moduleName}`, (p) => p.locator('tr[data-version="0.1.0"]').waitFor()],
      [`/app/system/templates/${templateId}`, (p) => p.getByRole('table', { name: 'Layers' }).getByRole('cell', { name: moduleName, exact: true }).waitFor()],
      ['/app/system/nodes', (p) => p.getByRole('cell', { name: hostname, exact: true }).waitFor()],
      [`/app/system/instances/${instanceId}`, (p) => p.getByRole('table', { name: 'Running module digests' }).waitFor()],
      ['/app/system/modules/new', (p) => p.getByText('Your role cannot register modules').waitFor()],
    ];
    for (const [route, ready] of pages) {
      await viewer.goto(route);
      await ready(viewer);
      const controls = [
        ...(await viewer.getByRole('button').allTextContents()),
        ...(await viewer.getByRole('link').allTextContents()),
        ...(await viewer.locator('input, select, textarea').evaluateAll((els) => els.map((el: any) => String(el.labels?.[0]?.textContent ?? el.id)))),
      ];
      expect({ route, mutating: controls.filter((c) => mutating.test(c)) }).toEqual({ route, mutating: [] });
      expect({ route, problems: await inaccessibleControls(viewer) }).toEqual({ route, problems: [] });
    }
    // The audit log is an administrator's: not offered either.
    expect(await viewer.getByRole('link', { name: 'Events' }).count()).toBe(0);
  }, 60_000);

  it('returns to sign-in when the token is refused (revoked)', async () => {
    const made = await e.rest('POST', '/tokens', { role: 'viewer', name: `web-revoked-${suffix}` });
    const page = await signIn(await context(), made.body.token);
    await e.rest('DELETE', `/tokens/${made.body.id}`);
    // The page may find out by itself (its live stream is refused when it reconnects) before the next click
    // asks the API: either way it must end at sign-in.
    await page
      .getByRole('link', { name: 'Templates' })
      .click({ timeout: 3000 })
      .catch(() => undefined);
    await page.getByLabel('Bearer token').waitFor();
    await page.getByText('Your token was refused').waitFor();
    expect(await page.evaluate("sessionStorage.getItem('powernode.token')")).toBeNull();
    // Signing in again with the keyboard alone: type the token, Enter submits.
    await page.getByLabel('Bearer token').focus();
    await page.keyboard.type(e.platform.adminToken);
    await page.keyboard.press('Enter');
    await page.getByRole('navigation', { name: 'Main' }).waitFor();
  }, 60_000);
});
