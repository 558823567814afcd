import path from 'node:path';
import { CATALOG_RPC, catalogStreams, GATEWAY_RPC, moduleVersionIdFor, PROJECTION_OWNERS } from '@powernode/contracts';
import { openEventStore, powernodeEventCatalogue, RpcClient, type EventStore } from '@powernode/events';
import { startPlatform, waitUntil, type TestPlatform } from '@powernode/testing';
import { mcpClient, restClient } from './platform-client.js';

const digest = (c: string) => `sha256:${c.repeat(64).slice(0, 64)}`;

let platform: TestPlatform;
let store: EventStore;
let admin: ReturnType<typeof restClient>;

/** Records a build the way ingest does: a ModuleVersionBuilt event on the version's stream. */
async function appendBuild(module: { id: string; name: string }, tag: string, manifest: Record<string, unknown>, verified = true): Promise<string> {
  const version_id = moduleVersionIdFor(module.id, tag);
  await store.append(
    catalogStreams.moduleVersion(version_id),
    [
      {
        type: 'ModuleVersionBuilt',
        actor: 'ingest',
        data: {
          version_id,
          module_id: module.id,
          module_name: module.name,
          version_string: tag.replace(/^v/, ''),
          tag,
          oci_ref: `127.0.0.1:5000/acme/${module.name}:${tag}`,
          oci_digest: digest('a'),
          composefs_digest: digest('b'),
          fsverity_root_hash: digest('c'),
          cosign_verified: verified,
          signer_identity: verified ? 'https://ci.example.com/acme/x' : 'someone-else',
          signer_issuer: 'https://token.actions.example.com',
          ...(verified ? {} : { verification_reason: 'identity_mismatch: signer does not match cosign_identity_regexp' }),
          sbom_summary: { format: 'CycloneDX', component_count: 1 },
          manifest: { schema_version: 1, name: module.name, ...manifest },
          built_at: new Date().toISOString(),
        },
      },
    ],
    { expected: 'no_stream' },
  );
  // Appended behind the catalog's back (as ingest does): wait until its read model has folded it.
  const deadline = Date.now() + 10_000;
  while (Date.now() < deadline) {
    const res = await admin('GET', `/module-versions/${version_id}`);
    if (res.status === 200) return version_id;
    await new Promise((r) => setTimeout(r, 25));
  }
  throw new Error(`version ${version_id} never appeared in the catalog`);
}

async function registerModule(name: string, extra: Record<string, unknown> = {}) {
  const res = await admin('POST', '/modules', {
    name,
    category: 'userland',
    variety: 'subscription',
    gitea_repo_full_name: `acme/modules/${name}`,
    cosign_identity_regexp: `https://ci\\.example\\.com/acme/.*`,
    cosign_issuer_regexp: 'https://token\\.actions\\.example\\.com',
    ...extra,
  });
  expect(res.status).toBe(201);
  return res.body as { module: { id: string; name: string }; webhook_secret: string };
}

beforeAll(async () => {
  platform = await startPlatform({ services: ['catalog', 'gateway'] });
  store = await openEventStore(`sqlite:${path.join(platform.dataDir, 'events.sqlite')}`, powernodeEventCatalogue());
  admin = restClient(platform.url, platform.adminToken);
}, 120_000);

afterAll(async () => {
  await store?.close();
  await platform?.stop();
});

describe('catalog over REST and MCP', () => {
  it('refuses requests without a token or with a bad one (401) and with the wrong role (403), on REST and MCP alike', async () => {
    expect((await restClient(platform.url, undefined)('GET', '/modules')).status).toBe(401);
    const bad = await restClient(platform.url, 'pn_nope')('GET', '/modules');
    expect(bad.status).toBe(401);
    expect(bad.headers.get('content-type')).toContain('application/problem+json');
    expect(bad.body.code).toBe('unauthenticated');
    const viewer = (await admin('POST', '/tokens', { role: 'viewer', name: 'viewer-1' })).body.token as string;
    const asViewer = restClient(platform.url, viewer);
    expect((await asViewer('GET', '/modules')).status).toBe(200);
    const refused = await asViewer('POST', '/templates', { name: 'viewer-made' });
    expect(refused.status).toBe(403);
    expect(refused.body.code).toBe('forbidden');

    const noAuthMcp = await fetch(`${platform.url}/mcp`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', accept: 'application/json, text/event-stream' },
      body: JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'tools/list' }),
    });
    expect(noAuthMcp.status).toBe(401);
    const mcp = await mcpClient(platform.url, viewer);
    const denied = await mcp.call('system_create_template', { name: 'viewer-mcp' });
    expect(denied.isError).toBe(true);
    expect(denied.text).toMatch(/^forbidden: /);
    await mcp.close();
  });

  it('registers a module, shows the webhook secret once, and validates input with field paths', async () => {
    const created = await registerModule('my-redis');
    expect(created.webhook_secret).toMatch(/^[0-9a-f]{64}$/);
    const got = await admin('GET', '/modules/my-redis');
    expect(got.status).toBe(200);
    expect(JSON.stringify(got.body)).not.toContain(created.webhook_secret);
    expect(got.body.module.name).toBe('my-redis');

    const events = await admin('GET', `/events?stream=${catalogStreams.module(created.module.id)}`);
    expect(JSON.stringify(events.body)).not.toContain(created.webhook_secret);
    expect(events.body.events[0].actor).toBe('bootstrap-admin');

    const dup = await admin('POST', '/modules', {
      name: 'my-redis',
      category: 'userland',
      variety: 'subscription',
      gitea_repo_full_name: 'acme/other',
      cosign_identity_regexp: 'x',
      cosign_issuer_regexp: 'y',
    });
    expect(dup.status).toBe(409);
    expect(dup.body.code).toBe('already_exists');

    const invalid = await admin('POST', '/modules', {
      name: 'Bad Name',
      category: 'nope',
      variety: 'subscription',
      gitea_repo_full_name: 'acme/x',
      cosign_identity_regexp: '(',
      cosign_issuer_regexp: 'y',
    });
    expect(invalid.status).toBe(400);
    expect(invalid.body.code).toBe('validation_failed');
    expect(invalid.body.issues.map((i: { path: string }) => i.path).sort()).toEqual(['category', 'name']);

    const badPattern = await admin('POST', '/modules', {
      name: 'bad-pattern',
      category: 'userland',
      variety: 'subscription',
      gitea_repo_full_name: 'acme/bad-pattern',
      cosign_identity_regexp: '(unclosed',
      cosign_issuer_regexp: 'y',
    });
    expect(badPattern.status).toBe(400);
    expect(badPattern.body.detail).toContain('cosign_identity_regexp');
    expect((await admin('GET', '/modules/bad-pattern')).status).toBe(404);
    // The refused registration released the name: it can be registered properly now.
    await registerModule('bad-pattern');
  });

  it('answers deeply nested manifest YAML with a validation report or a 400, never a 500', async () => {
    const deep = `schema_version: 1\nname: deep-yaml\nmask: ${'['.repeat(20_000)}${']'.repeat(20_000)}\n`;
    const report = await admin('POST', '/manifests/validate', { manifest_yaml: deep });
    expect(report.status).toBe(200);
    expect(report.body).toMatchObject({ valid: false, errors: [{ code: 'manifest_too_deep', path: expect.stringMatching(/^mask\[0\]/), line: 3 }] });

    const escaping = await admin('POST', '/modules', {
      name: 'escaping',
      category: 'userland',
      variety: 'subscription',
      gitea_repo_full_name: 'acme/escaping',
      cosign_identity_regexp: 'https://gitea\\.example\\.com/acme/dev-signer)|(.*evil',
      cosign_issuer_regexp: 'y',
    });
    expect(escaping.status).toBe(400);
    expect(escaping.body).toMatchObject({ code: 'validation_failed', field: 'cosign_identity_regexp', rule: 'trust_pattern_compiles' });

    const registered = await admin('POST', '/modules', {
      name: 'deep-yaml',
      category: 'userland',
      variety: 'subscription',
      gitea_repo_full_name: 'acme/deep-yaml',
      cosign_identity_regexp: 'x',
      cosign_issuer_regexp: 'y',
      manifest_yaml: deep,
    });
    expect(registered.status).toBe(400);
    expect(registered.body).toMatchObject({ code: 'manifest_invalid', issues: [{ code: 'manifest_too_deep', path: expect.stringMatching(/^mask\[0\]/) }] });
    expect((await admin('GET', '/modules/deep-yaml')).status).toBe(404);
  });

  it('walks built → staging → blessed → live with a second principal approving, and refuses built → live', async () => {
    const dep = await registerModule('dep-base', { category: 'system-base' });
    const app = await registerModule('web-app');
    const depVersion = await appendBuild(dep.module, 'v1.0.0', {});
    const appVersion = await appendBuild(app.module, 'v0.1.0', { dependencies: { requires: ['powernode/dep-base@^1.0'], provides: [] } });

    const operator = (await admin('POST', '/tokens', { role: 'operator', name: 'op' })).body.token as string;
    const approver = (await admin('POST', '/tokens', { role: 'approver', name: 'approver' })).body.token as string;
    const op = await mcpClient(platform.url, operator);

    const listed = await op.call('system_list_module_versions', { module_name: 'web-app' });
    expect(listed.isError).toBe(false);
    expect(listed.data.versions).toHaveLength(1);
    expect(listed.data.versions[0]).toMatchObject({
      id: appVersion,
      version_string: '0.1.0',
      promotion_state: 'built',
      cosign_verified: true,
      composefs_digest: digest('b'),
      fsverity_root_hash: digest('c'),
    });

    const toLive = await op.call('system_promote_module_version', { id: appVersion, to: 'live' });
    expect(toLive.isError).toBe(true);
    expect(toLive.text).toMatch(/^invalid_transition: /);

    const blocked = await op.call('system_promote_module_version', { id: appVersion, to: 'staging' });
    expect(blocked.isError).toBe(true);
    expect(blocked.text).toMatch(/^dependency_not_promoted: .*dep-base/);

    expect((await op.call('system_promote_module_version', { module_version_id: depVersion, target_state: 'staging' })).isError).toBe(false);
    const staged = await op.call('system_promote_module_version', { id: appVersion, to: 'staging' });
    expect(staged.data.version.promotion_state).toBe('staging');
    expect((await op.call('system_promote_module_version', { id: appVersion, to: 'blessed' })).data.version.promotion_state).toBe('blessed');

    const pending = await op.call('system_promote_module_version', { id: appVersion, to: 'live' });
    expect(pending.isError).toBe(false);
    expect(pending.data.approval).toMatchObject({ status: 'pending' });

    const self = await op.call('system_approve_promotion', { approval_id: pending.data.approval.id });
    expect(self.isError).toBe(true);
    expect(self.text).toMatch(/^forbidden: /);

    const approverClient = await mcpClient(platform.url, approver);
    const approved = await approverClient.call('system_approve_promotion', { approval_id: pending.data.approval.id });
    expect(approved.isError).toBe(false);
    expect(approved.data.version.promotion_state).toBe('live');
    await approverClient.close();

    const rest = await restClient(platform.url, operator)('GET', '/modules/web-app/versions');
    expect(rest.body.versions[0].promotion_state).toBe('live');
    await op.close();
  });

  it('refuses to promote an unverified version anywhere but retired', async () => {
    const m = await registerModule('unsigned-thing');
    const v = await appendBuild(m.module, 'v1.0.0', {}, false);
    const refused = await admin('POST', `/module-versions/${v}/promote`, { to: 'staging' });
    expect(refused.status).toBe(409);
    expect(refused.body.code).toBe('unverified_signature');
    const retired = await admin('POST', `/module-versions/${v}/promote`, { to: 'retired' });
    expect(retired.status).toBe(200);
    expect(retired.body.version.promotion_state).toBe('retired');
  });

  it('assigns and unassigns by name, previews composition with a protected path folded into a neighbour, and guards delete', async () => {
    await registerModule('redis-protected', {
      manifest_yaml: 'schema_version: 1\nname: redis-protected\nfile_spec:\n  - "/etc/redis/**"\nprotected_spec:\n  - "/etc/redis/redis.conf"\n',
    });
    await registerModule('overlay-etc', { manifest_yaml: 'schema_version: 1\nname: overlay-etc\nfile_spec:\n  - "/etc/**"\nmask:\n  - "/etc/motd"\n' });
    const templates = await admin('GET', '/templates');
    const base = templates.body.templates.find((t: { name: string }) => t.name === 'base');
    expect(base).toBeDefined();
    expect(templates.body.templates.map((t: { name: string }) => t.name)).toEqual(expect.arrayContaining(['base', 'hardened']));

    const assigned = await admin('POST', `/templates/${base.id}/modules`, { module_name: 'redis-protected' });
    expect(assigned.status).toBe(200);
    expect(assigned.body.template.modules.map((m: { name: string }) => m.name)).toContain('redis-protected');
    const again = await admin('POST', `/templates/${base.id}/modules`, { module_name: 'redis-protected' });
    expect(again.status).toBe(409);
    expect(again.body.code).toBe('already_assigned');
    await admin('POST', '/templates/base/modules', { module_name: 'overlay-etc' });

    const preview = await admin('GET', '/templates/base/compose-preview');
    expect(preview.status).toBe(200);
    const overlay = preview.body.preview.layers.find((l: { module: string }) => l.module === 'overlay-etc');
    expect(overlay.effective_mask).toEqual(expect.arrayContaining(['/etc/motd', '/etc/redis/redis.conf']));

    const refused = await admin('DELETE', '/modules/redis-protected');
    expect(refused.status).toBe(409);
    expect(refused.body.code).toBe('module_assigned');
    expect(refused.body.detail).toContain('base');

    const unassigned = await admin('DELETE', `/templates/${base.id}/modules/redis-protected`);
    expect(unassigned.status).toBe(200);
    expect(unassigned.body.template.modules.map((m: { name: string }) => m.name)).not.toContain('redis-protected');
    expect((await admin('DELETE', `/templates/${base.id}/modules/redis-protected`)).status).toBe(200);

    const deleted = await admin('DELETE', '/modules/redis-protected');
    expect(deleted.status).toBe(200);
    expect(deleted.body).toEqual({ deleted: true, versions_deleted: 0 });
    expect((await admin('GET', '/modules/redis-protected')).status).toBe(404);
    await registerModule('redis-protected');
  });

  it('paginates lists with an opaque cursor', async () => {
    for (const n of ['page-a', 'page-b', 'page-c']) await registerModule(n);
    const seen: string[] = [];
    let cursor: string | null = null;
    do {
      const page: { body: { modules: { name: string }[]; next_cursor: string | null } } = await admin(
        'GET',
        `/modules?limit=2${cursor ? `&cursor=${encodeURIComponent(cursor)}` : ''}`,
      );
      expect(page.body.modules.length).toBeLessThanOrEqual(2);
      seen.push(...page.body.modules.map((m) => m.name));
      cursor = page.body.next_cursor;
    } while (cursor);
    expect(new Set(seen).size).toBe(seen.length);
    expect(seen).toEqual(expect.arrayContaining(['page-a', 'page-b', 'page-c']));
  });

  it('serves an OpenAPI document and the MCP tool list from the same operations', async () => {
    const doc = (await (await fetch(`${platform.url}/api/docs`)).json()) as { openapi: string; paths: Record<string, Record<string, { operationId: string }>> };
    expect(doc.openapi).toBe('3.1.0');
    expect(doc.paths['/api/v1/system/modules'].post.operationId).toBe('system_create_module');
    const mcp = await mcpClient(platform.url, platform.adminToken);
    const tools = (await mcp.client.listTools()).tools.map((t) => t.name);
    for (const op of Object.values(doc.paths)
      .flatMap((p) => Object.values(p))
      .map((o) => o.operationId)) {
      // The webhook is CI's, and the live event stream is a long-lived HTTP response, not a call: neither is a tool.
      if (op !== 'webhook_gitea_module' && op !== 'system_stream_events') expect(tools).toContain(op);
    }
    await mcp.close();
  });

  // The GET paths of every catalog read, with the catalog RPC that answers the same question.
  const catalogReads = (): [string, string, Record<string, unknown>][] => [
    ['/modules?limit=200', CATALOG_RPC.listModules, { limit: 200 }],
    ['/modules/web-app', CATALOG_RPC.getModule, { module_name: 'web-app' }],
    ['/modules/web-app/versions', CATALOG_RPC.listModuleVersions, { module_name: 'web-app' }],
    ['/templates', CATALOG_RPC.listTemplates, {}],
    ['/templates/base', CATALOG_RPC.getTemplate, { template_id: 'base' }],
    ['/templates/base/compose-preview', CATALOG_RPC.composePreview, { template_id: 'base' }],
    ['/approvals', CATALOG_RPC.listApprovals, {}],
  ];

  it('answers catalog reads from its own read models exactly as the catalog service answers them', async () => {
    const rpc = await RpcClient.connect(platform.nats.url, { namespace: platform.namespace }, platform.natsAuth('gateway'));
    const actor = { id: 'test-reader', name: 'test-reader', role: 'viewer' };
    try {
      for (const [route, pattern, input] of catalogReads()) {
        const rest = await admin('GET', route);
        expect({ route, status: rest.status }).toEqual({ route, status: 200 });
        expect(rest.body).toEqual(await rpc.request(pattern, { actor, input }));
      }
      expect((await admin('GET', '/modules/no-such-module/versions')).body.code).toBe('not_found');
      const ready = (await (await fetch(`${platform.url}/readyz`)).json()) as { status: string; checks: Record<string, { ok: boolean }> };
      // (no provisioner runs in this platform, so only these two checks are ready)
      expect(ready.checks).toMatchObject({ read_models: { ok: true }, catalog: { ok: true } });
    } finally {
      await rpc.close();
    }
  });

  it('/readyz names what is down to anyone, and why only to a caller with a valid token', async () => {
    type Readiness = { status: string; unavailable?: string[]; checks: Record<string, { ok: boolean; error?: string }> };
    const readyz = async (headers: Record<string, string> = {}) => {
      const response = await fetch(`${platform.url}/readyz`, { headers });
      return { status: response.status, body: (await response.json()) as Readiness };
    };
    // No provisioner runs in this platform: its check fails, with an error text that names the bus subject.
    const untrusted: Array<Record<string, string>> = [{}, { authorization: 'Bearer pn_not_a_token_of_this_platform' }];
    for (const headers of untrusted) {
      const anonymous = await readyz(headers);
      expect(anonymous.status).toBe(503);
      expect(anonymous.body.unavailable).toContain('provisioner');
      expect(anonymous.body.checks['provisioner']).toEqual({ ok: false, ms: expect.any(Number) });
      expect(JSON.stringify(anonymous.body)).not.toContain('provisioner.ping');
    }
    const trusted = await readyz({ authorization: `Bearer ${platform.adminToken}` });
    expect(trusted.body.checks['provisioner']).toMatchObject({ ok: false, error: expect.stringContaining('provisioner.ping') });
    for (const headers of untrusted) expect((await readyz(headers)).body).not.toHaveProperty('bus');
  });

  it('shows who relays and how far behind the stream is, in /readyz (with a token) and /metrics', async () => {
    await registerModule('relayed-module');
    const catalogPid = platform.services.get('catalog')!.child.pid;
    const ready = (await (await fetch(`${platform.url}/readyz`, { headers: { authorization: `Bearer ${platform.adminToken}` } })).json()) as {
      bus: { relay: { holder: string | null; published_position: number | null; lag_events: number | null }; consumers: unknown[] };
    };
    expect(ready.bus.relay.holder).toMatch(new RegExp(`^catalog-.+-${catalogPid}$`));
    const head = await store.headPosition();
    await waitUntil('the relay to publish the whole log', async () => {
      const metrics = await (await fetch(`${platform.url}/metrics`)).text();
      return /^powernode_relay_lag_events 0$/m.test(metrics) ? metrics : undefined;
    });
    const metrics = await (await fetch(`${platform.url}/metrics`)).text();
    expect(metrics).toMatch(new RegExp(`^powernode_relay_holder\\{holder="catalog-.+-${catalogPid}"\\} 1$`, 'm'));
    expect(metrics).toMatch(/^powernode_bus_leadership_up 1$/m);
    const after = (await (await fetch(`${platform.url}/readyz`, { headers: { authorization: `Bearer ${platform.adminToken}` } })).json()) as typeof ready;
    expect(after.bus.relay.published_position).toBeGreaterThanOrEqual(head);
  });

  it('sees at once a version appended to the store by another process', async () => {
    const { module } = await registerModule('late-arrival');
    const version_id = moduleVersionIdFor(module.id, 'v1.0.0');
    await store.append(
      catalogStreams.moduleVersion(version_id),
      [
        {
          type: 'ModuleVersionBuilt',
          actor: 'ingest',
          data: {
            version_id,
            module_id: module.id,
            module_name: module.name,
            version_string: '1.0.0',
            tag: 'v1.0.0',
            oci_ref: `127.0.0.1:5000/acme/late-arrival:v1.0.0`,
            oci_digest: digest('d'),
            composefs_digest: digest('e'),
            fsverity_root_hash: digest('f'),
            cosign_verified: true,
            signer_identity: 'https://ci.example.com/acme/x',
            signer_issuer: 'https://token.actions.example.com',
            sbom_summary: null,
            manifest: { schema_version: 1, name: module.name },
            built_at: new Date().toISOString(),
          },
        },
      ],
      { expected: 'no_stream' },
    );
    // No polling here: a read that follows an append to the store answers with it.
    const listed = await admin('GET', '/modules/late-arrival/versions');
    expect(listed.body.versions.map((v: { id: string }) => v.id)).toEqual([version_id]);
    const promoted = await admin('POST', `/module-versions/${version_id}/promote`, { to: 'staging' });
    expect(promoted.status).toBe(200);
    expect(promoted.body.version.promotion_state).toBe('staging');
  });

  it('gives the same answers after the catalog and gateway read models are dropped and replayed', async () => {
    const reads = catalogReads().map(([route]) => route);
    const before = await Promise.all(reads.map((route) => admin('GET', route)));
    expect(before.map((r) => r.status)).toEqual(reads.map(() => 200));
    expect(before[0]!.body.modules.length).toBeGreaterThan(3);
    expect(before[2]!.body.versions.length).toBeGreaterThan(0);
    const rpc = await RpcClient.connect(platform.nats.url, { namespace: platform.namespace }, platform.natsAuth('operator'));
    try {
      for (const service of ['catalog', 'gateway'] as const) {
        const owner = PROJECTION_OWNERS.find((o) => o.service === service)!;
        const replayed = await rpc.request<{ rebuilt: { projection: string; position: number }[] }>(owner.replay, {}, { timeout_ms: 60_000 });
        expect(replayed.rebuilt.map((r) => r.projection).sort()).toEqual([...owner.projections].sort());
      }
      await expect(rpc.request(GATEWAY_RPC.replay, { projection: 'no-such-projection' })).rejects.toMatchObject({
        code: 'not_found',
        details: { projection: 'no-such-projection' },
      });
    } finally {
      await rpc.close();
    }
    const after = await Promise.all(reads.map((route) => admin('GET', route)));
    expect(after.map((r) => r.body)).toEqual(before.map((r) => r.body));
  });
});
