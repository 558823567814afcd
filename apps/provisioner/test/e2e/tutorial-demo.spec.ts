import { readFileSync } from 'node:fs';
import path from 'node:path';
import { parse as parseYaml } from 'yaml';
// eslint-disable-next-line @nx/enforce-module-boundaries -- the demo script is what this test checks
import { MY_REDIS, PREREQUISITE_MODULES } from '../../../../scripts/demo/example-modules.js';
import { agentProcessesOf } from '../provisioner-platform.js';
import { expectNoDuplicateEvents, runDemoScript, startE2ePlatform, type DemoStep, type E2ePlatform } from './e2e-platform.test-support.js';

/*
 * `npm run demo` against a running platform: the script itself runs as a child process (with --json, one
 * line per step), and every intermediate state it reports is checked here, then checked again through the
 * API and the event log. A second run on the same platform must work as well.
 */

type Step = DemoStep;

let e: E2ePlatform;

beforeAll(async () => {
  e = await startE2ePlatform();
}, 180_000);

afterAll(async () => {
  await e?.stop();
}, 120_000);

/** The transcript from the first record matching `from` on (a cursor that only moves forward). */
function reader(steps: Step[]) {
  let at = 0;
  return {
    /** The next record after the cursor that matches; fails naming what was expected. */
    next(what: string, match: (s: Step) => boolean): Step {
      const index = steps.findIndex((s, i) => i >= at && match(s));
      if (index < 0) throw new Error(`the demo printed no ${what} after step ${at}: ${JSON.stringify(steps.slice(at), null, 1).slice(0, 3000)}`);
      at = index + 1;
      return steps[index]!;
    },
    call(tool: string, match: (s: Step) => boolean = () => true): Step {
      return this.next(`${tool} call`, (s) => s.tool === tool && match(s));
    },
  };
}

const manifestOf = (dir: string) =>
  parseYaml(readFileSync(path.join(dir, 'manifest.yaml'), 'utf8')) as { name: string; dependencies?: { requires?: string[] } };

describe('npm run demo', () => {
  let firstTag: string;
  const prerequisiteDigests: Record<string, string> = {};

  it('walks tutorial 02 end to end and every step reports the state the tutorial promises', async () => {
    const run = await runDemoScript(e);
    expect({ code: run.code, failure: run.stderr.match(/demo failed: .*/)?.[0] ?? null }).toEqual({ code: 0, failure: null });
    const t = reader(run.steps);

    // Prerequisites, in dependency order: validated, registered, published, ingested, promoted to live.
    const approverToken = t.call('system_create_token');
    expect(approverToken.result).toMatchObject({ role: 'approver', token: '(secret, shown once: redacted)' });
    for (const module of PREREQUISITE_MODULES) {
      expect(
        t.next(`validation of ${module.name}`, (s) => s.command?.includes('validate') === true && s.command.includes(`examples/${module.name}`)).result,
      ).toEqual({ valid: true, errors: [], warnings: [] });
      const registered = t.call('system_create_module', (s) => s.args.name === module.name);
      expect(registered.result.module).toMatchObject({
        name: module.name,
        category: module.category,
        requires: manifestOf(module.dir).dependencies?.requires ?? [],
      });
      const published = t.next(
        `publication of ${module.name}`,
        (s) => s.command?.includes('publish') === true && s.command.includes(`examples/${module.name}`),
      );
      expect(published.result).toMatchObject({ module_name: module.name, version: '1.0.0', webhook: { status: 202 } });
      const listed = t.call('system_list_module_versions', (s) => s.args.module_name === module.name);
      const built = listed.result.versions.find((v: any) => v.version_string === '1.0.0');
      expect(built).toMatchObject({
        promotion_state: 'built',
        cosign_verified: true,
        rejection_reason: null,
        composefs_digest: published.result.composefs_digest,
        oci_digest: published.result.manifest_digest,
      });
      for (const to of ['staging', 'blessed', 'live']) {
        expect(t.call('system_promote_module_version', (s) => s.args.id === built.id && s.args.to === to).result.version).toMatchObject({
          id: built.id,
          promotion_state: to,
        });
      }
      prerequisiteDigests[module.name] = built.composefs_digest;
    }

    // Step 4: the local dry-run and the platform's validation agree.
    expect(t.next('validation of my-redis', (s) => s.command?.includes('examples/my-redis') === true).result).toEqual({
      valid: true,
      errors: [],
      warnings: [],
    });
    expect(t.call('system_validate_module_manifest').result).toEqual({ valid: true, errors: [], warnings: [] });

    // Step 5: registered from the manifest (its requires seed the record); the secret never reaches the transcript.
    const registered = t.call('system_create_module', (s) => s.args.name === 'my-redis');
    expect(registered.result).toMatchObject({
      module: {
        name: 'my-redis',
        category: 'userland',
        approval_policy: 'require_approval',
        requires: ['powernode/powernode-base-ruby@^1.0', 'powernode/security-hardening@^1.0'],
      },
      webhook_secret: '(secret, shown once: redacted)',
    });

    // Steps 6–7: published with dev signing through the webhook.
    const published = t.next('publication of my-redis', (s) => s.command?.includes('publish') === true && s.command.includes('examples/my-redis'));
    expect(published.env).toEqual({ POWERNODE_WEBHOOK_SECRET: '<webhook secret>' });
    expect(published.result).toMatchObject({
      module_name: 'my-redis',
      signature: { signer: { mode: 'dev', identity: 'https://powernode.dev/dev-signer' } },
      webhook: { status: 202 },
    });
    firstTag = published.result.ref.split(':').pop();
    expect(firstTag).toMatch(/^v0\.1\.\d+$/);

    // Step 8: ingested as built and verified, then staging → blessed → live, live approved by the second token.
    const listed = t.call('system_list_module_versions', (s) => s.args.module_name === 'my-redis');
    const version = listed.result.versions.find((v: any) => `v${v.version_string}` === firstTag);
    expect(version).toMatchObject({
      promotion_state: 'built',
      cosign_verified: true,
      rejection_reason: null,
      composefs_digest: published.result.composefs_digest,
      oci_digest: published.result.manifest_digest,
    });
    expect(t.call('system_promote_module_version', (s) => s.args.to === 'staging').result.version).toMatchObject({
      id: version.id,
      promotion_state: 'staging',
    });
    expect(t.call('system_promote_module_version', (s) => s.args.to === 'blessed').result.version).toMatchObject({
      id: version.id,
      promotion_state: 'blessed',
    });
    const requested = t.call('system_promote_module_version', (s) => s.args.to === 'live');
    expect(requested.result.version).toBeUndefined();
    expect(requested.result.approval).toMatchObject({ version_id: version.id, to: 'live', status: 'pending', requested_by: 'bootstrap-admin' });
    const approved = t.call('system_approve_promotion', (s) => s.args.approval_id === requested.result.approval.id);
    expect(approved.as).toBe('approver');
    expect(approved.result.version).toMatchObject({ id: version.id, promotion_state: 'live' });

    // Step 9: assigned to base; a node and an instance of it.
    const assigned = t.call('system_assign_module_to_template');
    expect(assigned.result.template).toMatchObject({ name: 'base' });
    expect(assigned.result.template.modules.map((m: any) => m.name)).toEqual(['my-redis']);
    const node = t.call('system_create_node').result.node;
    expect(node).toMatchObject({ node_template_id: assigned.result.template.id, channel: 'live', hostname: expect.stringMatching(/^redis-test-/) });
    const provisioned = t.call('system_provision_instance', (s) => s.args.node_id === node.id).result.instance;
    expect(['pending', 'provisioning', 'starting', 'running']).toContain(provisioned.status);

    // Verification: my-redis and its whole dependency closure run at the digests that were promoted; no drift.
    const running = t.call('system_get_instance', (s) => s.args.id === provisioned.id).result.instance;
    expect(running).toMatchObject({ status: 'running', errors: [], enrolled: true });
    expect(running.running_module_digests).toEqual({ 'my-redis': version.composefs_digest, ...prerequisiteDigests });
    expect(t.call('system_drift_report', (s) => s.args.instance_id === provisioned.id).result).toMatchObject({
      drift: false,
      missing: {},
      extra: {},
      mismatched: {},
      unresolved: [],
    });

    // Cleanup: terminated, unassigned, deleted, approver token revoked.
    expect(t.call('system_terminate_instance', (s) => s.args.id === provisioned.id).result.instance).toMatchObject({ status: 'terminated' });
    expect(t.call('system_unassign_module_from_template').result.template.modules).toEqual([]);
    expect(t.call('system_delete_module', (s) => s.args.name === 'my-redis').result).toEqual({ deleted: true, versions_deleted: 1 });
    expect(t.call('system_revoke_token', (s) => s.args.id === approverToken.result.id).result.token.revoked_at).toEqual(expect.any(String));

    // The same facts through the API and the event log.
    expect((await e.rest('GET', '/modules/my-redis')).status).toBe(404);
    expect((await e.rest('GET', `/templates/${assigned.result.template.id}`)).body.template.modules).toEqual([]);
    expect((await e.instance(provisioned.id)).status).toBe('terminated');
    expect(agentProcessesOf(provisioned.id)).toEqual([]);
    const approvalEvents = await e.events(`promotion-approval-${requested.result.approval.id}`);
    expect(approvalEvents.map((ev) => ev.type)).toEqual(['PromotionApprovalRequested', 'PromotionApprovalGranted']);
    expect(approvalEvents[1]!.data.approved_by).toMatch(/^demo-approver-/);
    expect(approvalEvents[0]!.data.requested_by).toBe('bootstrap-admin');
    const versionEvents = await e.events(`module-version-${version.id}`);
    const promotions = versionEvents.filter((ev) => ev.type === 'ModuleVersionPromoted').map((ev) => [ev.data.from, ev.data.to, ev.data.approval_id]);
    expect(promotions).toEqual([
      ['built', 'staging', null],
      ['staging', 'blessed', null],
      ['blessed', 'live', requested.result.approval.id],
    ]);
    const instanceEvents = await e.events(`instance-${provisioned.id}`);
    expectNoDuplicateEvents(instanceEvents);
    expect(instanceEvents.filter((ev) => ev.type === 'InstanceStatusChanged').map((ev) => ev.data.to)).toEqual(['provisioning', 'starting', 'running']);
    expect(instanceEvents[instanceEvents.length - 1]!.type).toBe('InstanceTerminated');
    const reported = instanceEvents.filter((ev) => ev.type === 'InstanceHeartbeatReceived').map((ev) => ev.data.running_module_digests['my-redis'] ?? null);
    expect(reported[reported.length - 1]).toBe(version.composefs_digest);
  }, 300_000);

  it('runs again on the same platform: the live prerequisites are reused and my-redis gets a new tag', async () => {
    const run = await runDemoScript(e);
    expect({ code: run.code, failure: run.stderr.match(/demo failed: .*/)?.[0] ?? null }).toEqual({ code: 0, failure: null });
    for (const module of PREREQUISITE_MODULES) {
      expect(run.steps).toContainEqual({ step: 'prerequisite', note: `${module.name} 1.0.0 is live already` });
      expect(run.steps.some((s) => s.tool === 'system_create_module' && s.args.name === module.name)).toBe(false);
      expect((await e.client.call('system_list_module_versions', { module_name: module.name })).versions).toHaveLength(1);
    }
    const published = run.steps.find((s) => s.command?.includes('publish') && s.command.includes('examples/my-redis'))!;
    const tag = published.result.ref.split(':').pop();
    expect(tag).toMatch(/^v0\.1\.\d+$/);
    expect(tag).not.toBe(firstTag);
    const running = run.steps.filter((s) => s.tool === 'system_get_instance').pop()!.result.instance;
    expect(running.running_module_digests).toEqual({ 'my-redis': published.result.composefs_digest, ...prerequisiteDigests });
    expect(run.steps.find((s) => s.tool === 'system_drift_report')!.result.drift).toBe(false);
    expect(run.steps.find((s) => s.tool === 'system_delete_module')!.result).toEqual({ deleted: true, versions_deleted: 1 });
    expect(MY_REDIS.name).toBe(manifestOf(MY_REDIS.dir).name);
  }, 300_000);
});
