import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { jetstreamManager } from '@nats-io/jetstream';
import { connect } from '@nats-io/transport-node';
import { busNames } from '@powernode/events';
import { createTestDatabase, waitUntil, type TestDatabase } from '@powernode/testing';
import {
  agentProcessesOf,
  catalogSetup,
  startProvisionerPlatform,
  startSecondHost,
  uniqueName,
  type ProvisionerPlatform,
  type SecondHost,
} from '../provisioner-platform.js';

/*
 * A short chaos run of the provisioning half: two catalogs (one relaying, by lease), two provisioner hosts and a
 * gateway on a cluster of three nats-servers and PostgreSQL. While instances are provisioned, a provisioner of
 * each host, the relaying catalog and a NATS server are SIGKILLed and started again. Every instance must reach
 * running with no drift, started once (one provisioning → starting → running, one agent), every event must be in
 * the store once and on the stream once, and terminating must leave nothing behind on either host. An audit sink,
 * itself SIGKILLed and started again meanwhile, must hold every event once.
 */
const INSTANCES = 8;

let p: ProvisionerPlatform;
let database: TestDatabase | undefined;
let hostB: SecondHost | undefined;
let sink: ChildProcess | undefined;
const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../../..');

/** `powernode audit-sink --out <file>` against the platform's gateway. */
function startAuditSink(file: string): ChildProcess {
  return spawn(process.execPath, [path.join(root, 'bin/powernode.mjs'), 'audit-sink', '--out', file], {
    cwd: root,
    env: { ...process.env, POWERNODE_URL: p.platform.url, POWERNODE_TOKEN: p.platform.adminToken },
    stdio: 'ignore',
  });
}

function killed(child: ChildProcess | undefined, signal: NodeJS.Signals): Promise<void> {
  return new Promise((resolve) => {
    if (child === undefined || child.exitCode !== null || child.signalCode !== null) return resolve();
    child.once('exit', () => resolve());
    child.kill(signal);
  });
}

/** The complete lines of the audit file (a kill may leave the last one torn). */
async function auditLines(file: string): Promise<{ id: string; powernodeposition: number }[]> {
  const text = await readFile(file, 'utf8').catch(() => '');
  return text
    .slice(0, text.lastIndexOf('\n') + 1)
    .split('\n')
    .filter((l) => l !== '')
    .map((l) => JSON.parse(l) as { id: string; powernodeposition: number });
}

beforeAll(async () => {
  database = await createTestDatabase('pn_chaos');
  p = await startProvisionerPlatform({ EVENT_STORE_URL: database.url, POWERNODE_PROVISIONER_HOST: 'hv-a' }, { natsCluster: true });
}, 180_000);

afterAll(async () => {
  await killed(sink, 'SIGKILL');
  await hostB?.stop();
  await p?.stop();
  await database?.drop();
}, 120_000);

/** A command sent while the process that would answer it is down fails: retried as an operator would. */
async function retried(what: string, attempt: () => Promise<{ status: number; body: any }>, accept: (status: number) => boolean): Promise<any> {
  let last: { status: number; body: any } | Error | undefined;
  for (let n = 0; n < 40; n++) {
    try {
      last = await attempt();
      if (accept(last.status)) return last.body;
    } catch (error) {
      last = error as Error;
    }
    await new Promise((r) => setTimeout(r, 500));
  }
  throw new Error(`${what} kept failing: ${last instanceof Error ? last.message : JSON.stringify(last)}`);
}

it('starts every instance once and leaves nothing behind while provisioners, the relaying catalog and a NATS server are killed', async () => {
  await p.platform.startReplica('catalog');
  hostB = await startSecondHost(p, 'hv-b');
  const dirB = hostB.dataDir;
  const auditFile = path.join(dirB, 'audit.jsonl');
  sink = startAuditSink(auditFile);
  const catalog = catalogSetup(p);
  const templateId = await catalog.createTemplate(uniqueName('chaos'), []);
  const node = await retried(
    'creating the node',
    () => p.rest('POST', '/nodes', { hostname: uniqueName('chaos'), node_template_id: templateId }),
    (s) => s === 201,
  );
  const nodeId = node.node.id as string;

  for (let i = 0; i < INSTANCES; i++) {
    await retried(
      `provisioning instance ${i}`,
      () => p.rest('POST', `/nodes/${nodeId}/instances`),
      (s) => s === 201,
    );
    // Right after an answer, the host that recorded it is reacting: the moment a kill hurts most.
    if (i === 1) {
      await p.platform.services.get('provisioner')!.kill();
      await p.platform.startService('provisioner');
    }
    if (i === 2) {
      await hostB.restart();
    }
    if (i === 3) {
      // The first catalog started holds the relay lease.
      await p.platform.services.get('catalog')!.kill();
      await p.platform.startService('catalog');
    }
    if (i === 4) await p.platform.cluster!.nodes[0]!.kill();
    if (i === 5) {
      await killed(sink, 'SIGKILL');
      sink = startAuditSink(auditFile);
    }
    if (i === 6) await p.platform.cluster!.nodes[0]!.restart();
  }

  // A provision whose answer was lost may have been recorded anyway and retried: every recorded instance counts.
  const listed = (
    await retried(
      'listing instances',
      () => p.rest('GET', `/instances?node_id=${nodeId}&limit=100`),
      (s) => s === 200,
    )
  ).instances as any[];
  expect(listed.length).toBeGreaterThanOrEqual(INSTANCES);
  const hosts = new Set<string>();
  for (const instance of listed) {
    const running = await waitUntil(
      `instance ${instance.id} to run`,
      async () => {
        const res = await p.rest('GET', `/instances/${instance.id}`).catch(() => null);
        return res?.body?.instance?.status === 'running' ? res.body.instance : null;
      },
      120_000,
      250,
    ).catch(async (error: Error) => {
      const view = (await p.rest('GET', `/instances/${instance.id}`).catch(() => null))?.body?.instance;
      const events = (await p.instanceEvents(instance.id)).map((e) => `${e.type} ${JSON.stringify(e.data).slice(0, 160)}`);
      const logs = [p.platform.services.get('provisioner'), hostB?.process].map((proc) => proc?.lines.slice(-15).join('\n')).join('\n---\n');
      throw new Error(`${error.message}\nview: ${JSON.stringify(view)}\nevents:\n${events.join('\n')}\nprovisioner logs:\n${logs}`);
    });
    hosts.add(running.provisioner_host);
    const statuses = (await p.instanceEvents(instance.id)).filter((e) => e.type === 'InstanceStatusChanged').map((e) => (e.data as { to: string }).to);
    expect({ id: instance.id, statuses }).toEqual({ id: instance.id, statuses: ['provisioning', 'starting', 'running'] });
    expect({ id: instance.id, agents: agentProcessesOf(instance.id).length }).toEqual({ id: instance.id, agents: 1 });
    expect((await p.rest('GET', `/instances/${instance.id}/drift`)).body).toMatchObject({ drift: false });
  }
  expect([...hosts].every((h) => h === 'hv-a' || h === 'hv-b')).toBe(true);

  // Each event once in the store, and once on the stream.
  const log = await p.store.readAll({ after_position: 0, limit: 100_000 });
  expect(new Set(log.map((e) => e.id)).size).toBe(log.length);
  const nc = await connect({ servers: p.platform.env['NATS_URL']!.split(','), ...p.platform.natsAuth('gateway') });
  try {
    const jsm = await jetstreamManager(nc, { checkAPI: false });
    const stream = busNames(p.platform.namespace).event_stream;
    const head = await p.store.headPosition();
    const onStream = await waitUntil(
      'the stream to carry the whole log',
      async () => {
        // A server just restarted may not answer the JetStream API yet: ask again.
        const messages = await jsm.streams.info(stream).then(
          (info) => info.state.messages,
          () => undefined,
        );
        return messages !== undefined && messages >= head ? messages : undefined;
      },
      30_000,
      250,
    );
    expect(onStream).toBe(head);
  } finally {
    await nc.close();
  }

  // The audit sink, killed once, holds the whole log, each event once and in order.
  const audited = await waitUntil(
    'the audit file to reach the head of the log',
    async () => {
      const lines = await auditLines(auditFile);
      return (lines.at(-1)?.powernodeposition ?? 0) >= log.at(-1)!.position ? lines : undefined;
    },
    60_000,
    250,
  );
  expect(audited.filter((l) => l.powernodeposition <= log.at(-1)!.position).map((l) => l.id)).toEqual(log.map((e) => e.id));

  for (const instance of listed)
    await retried(
      `terminating ${instance.id}`,
      () => p.rest('POST', `/instances/${instance.id}/terminate`),
      (s) => s === 200,
    );
  const left = () =>
    listed.filter(
      (i) => existsSync(path.join(p.dataDir, 'instances', i.id)) || existsSync(path.join(dirB, 'instances', i.id)) || agentProcessesOf(i.id).length > 0,
    );
  await waitUntil('both hosts to destroy every sandbox and stop every agent', () => left().length === 0, 60_000, 250);
}, 600_000);
