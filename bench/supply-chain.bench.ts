// Webhook → ModuleVersionBuilt latency for a 10 MiB module on loopback, through the real gateway, catalog and
// ingest processes (SQLite store, private nats-server, Debian docker-registry). Each round pushes and signs a
// new tag with the CLI (outside the measurement), then times from the webhook POST until the version is listed
// as built and verified. Baseline: pulling and verifying the same artifact in this process (what ingest must do
// at least). Target: p50 < 500 ms.
import { execFile } from 'node:child_process';
import { createHmac, randomBytes, randomUUID } from 'node:crypto';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { promisify } from 'node:util';
import { pullModuleArtifact } from '@powernode/artifact';
import { OciClient } from '@powernode/oci';
import { startPlatform, startRegistry } from '@powernode/testing';

const exec = promisify(execFile);
const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const ROUNDS = 8;
const SIZE = 10 * 1024 * 1024;
const TARGET_P50_MS = 500;

export async function benchSupplyChain(report: (line: string) => void): Promise<void> {
  const registry = await startRegistry();
  const platform = await startPlatform({ services: ['catalog', 'ingest', 'gateway'], env: { OCI_REGISTRY: registry.host } });
  const work = await mkdtemp(path.join(tmpdir(), 'pn-bench-sc-'));
  try {
    const dir = path.join(work, 'big-module');
    await mkdir(path.join(dir, 'rootfs/opt/big'), { recursive: true });
    await writeFile(path.join(dir, 'manifest.yaml'), 'schema_version: 1\nname: big-module\nfile_spec:\n  - "/opt/big/**"\n');
    await writeFile(path.join(dir, 'rootfs/opt/big/blob.bin'), randomBytes(SIZE));
    const auth = { authorization: `Bearer ${platform.adminToken}`, 'content-type': 'application/json' };
    const created = await fetch(`${platform.url}/api/v1/system/modules`, {
      method: 'POST',
      headers: auth,
      body: JSON.stringify({
        name: 'big-module',
        category: 'userland',
        variety: 'subscription',
        gitea_repo_full_name: 'bench/big-module',
        cosign_identity_regexp: 'https://powernode\\.dev/dev-signer',
        cosign_issuer_regexp: 'https://powernode\\.dev/dev-issuer',
      }),
    });
    const secret = ((await created.json()) as { webhook_secret: string }).webhook_secret;
    const cliEnv = { ...process.env, POWERNODE_DATA_DIR: platform.dataDir };
    const latencies: number[] = [];
    const baselines: number[] = [];
    for (let round = 0; round < ROUNDS; round++) {
      const tag = `v1.0.${round}`;
      const ref = `${registry.host}/bench/big-module:${tag}`;
      await exec(process.execPath, [path.join(root, 'bin/powernode.mjs'), 'module', 'push', dir, '--ref', ref], { env: cliEnv });
      await exec(process.execPath, [path.join(root, 'bin/powernode.mjs'), 'module', 'sign', ref, '--dev'], { env: cliEnv });
      const cache = await mkdtemp(path.join(work, 'pull-'));
      let t = performance.now();
      await pullModuleArtifact(new OciClient({ registry: registry.host, insecure: true }), ref, { cacheDir: cache });
      baselines.push(performance.now() - t);
      const body = JSON.stringify({ repository: { full_name: 'bench/big-module' }, ref: `refs/tags/${tag}`, artifact: ref });
      t = performance.now();
      const res = await fetch(`${platform.url}/api/v1/system/webhooks/gitea/module`, {
        method: 'POST',
        headers: {
          'content-type': 'application/json',
          'x-gitea-signature': createHmac('sha256', secret).update(body).digest('hex'),
          'x-gitea-delivery': randomUUID(),
        },
        body,
      });
      if (res.status !== 202) throw new Error(`webhook answered ${res.status}: ${await res.text()}`);
      for (;;) {
        const list = (await (await fetch(`${platform.url}/api/v1/system/modules/big-module/versions`, { headers: auth })).json()) as {
          versions: { version_string: string; cosign_verified: boolean }[];
        };
        const v = list.versions.find((x) => x.version_string === tag.slice(1));
        if (v) {
          if (!v.cosign_verified) throw new Error(`version ${tag} was not verified`);
          break;
        }
        await new Promise((r) => setTimeout(r, 5));
      }
      latencies.push(performance.now() - t);
    }
    const p50 = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
    report(`baseline: pull + verify a 10 MiB module in process: p50 ${p50(baselines).toFixed(0)} ms`);
    report(
      `webhook → ModuleVersionBuilt (10 MiB module, ${ROUNDS} rounds): p50 ${p50(latencies).toFixed(0)} ms, max ${Math.max(...latencies).toFixed(0)} ms, ratio to baseline ${(p50(latencies) / p50(baselines)).toFixed(2)} — target p50 < ${TARGET_P50_MS} ms: ${p50(latencies) < TARGET_P50_MS ? 'OK' : 'ABOVE TARGET'}`,
    );
  } finally {
    await platform.stop();
    await registry.stop();
    await rm(work, { recursive: true, force: true });
  }
}

if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(path.resolve(process.argv[1])).href) {
  await benchSupplyChain((line) => console.log(line));
}
