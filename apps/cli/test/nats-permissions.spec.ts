import { readFile, stat, writeFile, chmod } from 'node:fs/promises';
import { jetstream, jetstreamManager, AckPolicy } from '@nats-io/jetstream';
import { connect, type NatsConnection } from '@nats-io/transport-node';
import { busNames, ensureDeadLetterStream, ensureEventStream, ensureLeaseStream, JetStreamLease, NATS_USERS, type NatsUser } from '@powernode/events';
import { startNatsServer, type TestNatsServer } from '@powernode/testing';
import { natsAuthFromConfig, natsUserEnvironment } from '@powernode/runtime';

/*
 * The platform's NATS users against a real nats-server started with the configuration `npm start` writes: each
 * service can do what it does, and is refused what another service does.
 */
const bus = busNames('permtest');
let server: TestNatsServer;
const open: NatsConnection[] = [];

async function connectAs(user: NatsUser): Promise<NatsConnection> {
  const auth = natsAuthFromConfig(natsUserEnvironment(server.credentials!, user));
  const nc = await connect({ servers: server.url, name: user, ...auth });
  open.push(nc);
  return nc;
}

/** Resolves with the permission error the server reports on `nc` for `subject`, or undefined after `ms`. */
function permissionError(nc: NatsConnection, subject: string, ms = 2000): Promise<Error | undefined> {
  return new Promise((resolve) => {
    const timer = setTimeout(() => resolve(undefined), ms);
    void (async () => {
      for await (const s of nc.status()) {
        if (s.type === 'error' && String(s.error).includes(subject)) {
          clearTimeout(timer);
          resolve(s.error);
          return;
        }
      }
    })();
  });
}

beforeAll(async () => {
  server = await startNatsServer({ auth: { bus, relay_host: 'catalog' } });
}, 30_000);

// Each test's connections go with it: a responder left subscribed would answer the next test's requests.
afterEach(async () => {
  await Promise.all(open.splice(0).map((nc) => nc.close().catch(() => undefined)));
});

afterAll(async () => {
  await server?.stop();
});

describe('the platform NATS users', () => {
  it('keeps every password and the server configuration readable by their owner only', async () => {
    for (const file of [server.credentials!.config_file, ...NATS_USERS.map((u) => server.credentials!.passwordFile(u))]) {
      expect(((await stat(file)).mode & 0o777).toString(8)).toBe('600');
    }
    const config = await readFile(server.credentials!.config_file, 'utf8');
    expect(config).toContain('authorization');
    expect(config).not.toContain('no_auth_user');
  });

  it('refuses a connection without credentials, and one with a wrong password', async () => {
    await expect(connect({ servers: server.url, reconnect: false })).rejects.toThrow(/Authorization Violation/i);
    await expect(connect({ servers: server.url, reconnect: false, user: 'gateway', pass: 'not-the-password-at-all' })).rejects.toThrow(
      /Authorization Violation/i,
    );
  });

  it('lets every service make sure the event and dead-letter streams exist', async () => {
    for (const user of ['catalog', 'ingest', 'provisioner', 'gateway'] as const) {
      const jsm = await jetstreamManager(await connectAs(user));
      await ensureEventStream(jsm, { name: bus.event_stream, subjects: [`${bus.event_subject_prefix}.>`] });
      await ensureDeadLetterStream(jsm, { name: bus.dead_letter_stream, subjects: [`${bus.dead_letter_prefix}.>`] });
    }
  });

  it('lets only the relay host publish events', async () => {
    const catalog = await connectAs('catalog');
    const jsm = await jetstreamManager(catalog);
    const ack = await jetstream(catalog).publish(`${bus.event_subject_prefix}.module.ModuleCreated`, '{}', { msgID: 'relay-1' });
    expect(ack.stream).toBe(bus.event_stream);
    const before = (await jsm.streams.info(bus.event_stream)).state.messages;

    for (const user of ['gateway', 'ingest', 'provisioner'] as const) {
      const nc = await connectAs(user);
      const subject = `${bus.event_subject_prefix}.module.Forged${user}`;
      await expect(jetstream(nc).publish(subject, '{}', { timeout: 2000 })).rejects.toThrow(/Permissions Violation for Publish/i);
    }
    expect((await jsm.streams.info(bus.event_stream)).state.messages).toBe(before);
  });

  it('lets only the relay host contend for the relay lease', async () => {
    const catalog = await connectAs('catalog');
    const catalogJsm = await jetstreamManager(catalog);
    await ensureLeaseStream(catalogJsm, { name: bus.lease_stream, subjects: [`${bus.lease_subject_prefix}.>`] });
    const lease = new JetStreamLease({
      js: jetstream(catalog),
      jsm: catalogJsm,
      stream: bus.lease_stream,
      subject: `${bus.lease_subject_prefix}.relay`,
      holder: 'catalog-1',
      onAcquired: async () => undefined,
      onLost: async () => undefined,
    });
    await lease.start();
    expect(lease.status().holding).toBe(true);
    await lease.stop();

    for (const user of ['gateway', 'ingest', 'provisioner'] as const) {
      const nc = await connectAs(user);
      await expect(jetstream(nc).publish(`${bus.lease_subject_prefix}.relay`, '{}', { timeout: 2000 })).rejects.toThrow(/Permissions Violation for Publish/i);
      await expect((await jetstreamManager(nc)).streams.purge(bus.lease_stream)).rejects.toThrow(/Permissions Violation for Publish/i);
    }
  });

  it('lets the gateway and ingest ask the catalog, and nobody but the gateway ask the provisioner', async () => {
    const catalog = await connectAs('catalog');
    const provisioner = await connectAs('provisioner');
    const heard: string[] = [];
    catalog.subscribe('permtest.catalog.>', { callback: (_e, m) => void (heard.push(m.subject), m.respond('pong')) });
    provisioner.subscribe('permtest.provisioner.>', { callback: (_e, m) => void (heard.push(m.subject), m.respond('pong')) });
    await catalog.flush();
    await provisioner.flush();

    const gateway = await connectAs('gateway');
    const ingest = await connectAs('ingest');
    expect((await gateway.request('permtest.catalog.ping', '', { timeout: 2000 })).string()).toBe('pong');
    expect((await gateway.request('permtest.provisioner.ping', '', { timeout: 2000 })).string()).toBe('pong');
    expect((await ingest.request('permtest.catalog.ping', '', { timeout: 2000 })).string()).toBe('pong');

    // Forwarded RPCs name their actor in the payload: a service that could send them could act as anyone.
    await expect(ingest.request('permtest.provisioner.instance.provision', '{}', { timeout: 2000 })).rejects.toThrow(/Permissions Violation for Publish/i);
    await expect(catalog.request('permtest.provisioner.instance.provision', '{}', { timeout: 2000 })).rejects.toThrow(/Permissions Violation for Publish/i);
    await expect(provisioner.request('permtest.catalog.module.create', '{}', { timeout: 2000 })).rejects.toThrow(/Permissions Violation for Publish/i);
    expect(heard).toEqual(['permtest.catalog.ping', 'permtest.provisioner.ping', 'permtest.catalog.ping']);
  });

  it('gives the operator the pings and replays, not the commands', async () => {
    const catalog = await connectAs('catalog');
    catalog.subscribe('permtest.catalog.>', { callback: (_e, m) => void m.respond('ok') });
    await catalog.flush();
    const operator = await connectAs('operator');
    expect((await operator.request('permtest.catalog.ping', '', { timeout: 2000 })).string()).toBe('ok');
    expect((await operator.request('permtest.catalog.projections.replay', '{}', { timeout: 2000 })).string()).toBe('ok');
    await expect(operator.request('permtest.catalog.module.create', '{}', { timeout: 2000 })).rejects.toThrow(/Permissions Violation for Publish/i);
  });

  it("keeps each service out of another's inbox: replies, and the streamed answers only the provisioner sends the gateway", async () => {
    const gateway = await connectAs('gateway');
    const denied = permissionError(gateway, '_INBOX.catalog.>');
    const sub = gateway.subscribe('_INBOX.catalog.>');
    expect(String(await denied)).toMatch(/Permissions Violation for Subscription/i);
    await sub.closed.catch(() => undefined);

    // The provisioner streams exec output to the inbox the gateway names; the catalog may not write there.
    const parts: string[] = [];
    gateway.subscribe('_INBOX.gateway.stream1', { callback: (_e, m) => void parts.push(m.string()) });
    await gateway.flush();
    const provisioner = await connectAs('provisioner');
    provisioner.publish('_INBOX.gateway.stream1', 'from-provisioner');
    await provisioner.flush();
    const catalog = await connectAs('catalog');
    const forged = permissionError(catalog, '_INBOX.gateway.stream1');
    catalog.publish('_INBOX.gateway.stream1', 'forged');
    await catalog.flush().catch(() => undefined);
    expect(String(await forged)).toMatch(/Permissions Violation for Publish/i);
    await gateway.flush();
    expect(parts).toEqual(['from-provisioner']);
  });

  it('lets ingest run its durable consumer (create, pull, ack, dead-letter) and nobody delete it', async () => {
    const ingest = await connectAs('ingest');
    const jsm = await jetstreamManager(ingest);
    await jsm.consumers.add(bus.event_stream, {
      durable_name: 'ingest-permtest',
      ack_policy: AckPolicy.Explicit,
      filter_subject: `${bus.event_subject_prefix}.module.*`,
    });
    const consumer = await jetstream(ingest).consumers.get(bus.event_stream, 'ingest-permtest');
    const m = await consumer.next({ expires: 2000 });
    expect(m?.subject).toBe(`${bus.event_subject_prefix}.module.ModuleCreated`);
    expect(await m!.ackAck()).toBe(true);
    const dlq = await jetstream(ingest).publish(`${bus.dead_letter_prefix}.ingest-permtest`, '{}');
    expect(dlq.stream).toBe(bus.dead_letter_stream);

    await expect(jsm.consumers.delete(bus.event_stream, 'ingest-permtest')).rejects.toThrow(/Permissions Violation for Publish/i);
    const gatewayJsm = await jetstreamManager(await connectAs('gateway'));
    await expect(gatewayJsm.consumers.delete(bus.event_stream, 'ingest-permtest')).rejects.toThrow(/Permissions Violation for Publish/i);
    await expect(gatewayJsm.streams.delete(bus.event_stream)).rejects.toThrow(/Permissions Violation for Publish/i);
    expect((await jsm.consumers.info(bus.event_stream, 'ingest-permtest')).name).toBe('ingest-permtest');
  });
});

describe('a service process NATS configuration', () => {
  it('reads the password from NATS_PASSWORD_FILE, and says which variable is wrong', async () => {
    const file = server.credentials!.passwordFile('gateway');
    const auth = natsAuthFromConfig({ NATS_USER: 'gateway', NATS_PASSWORD_FILE: file });
    expect(auth).toEqual({ user: 'gateway', pass: (await readFile(file, 'utf8')).trim(), inboxPrefix: '_INBOX.gateway' });
    expect(natsAuthFromConfig({})).toEqual({});
    expect(() => natsAuthFromConfig({ NATS_PASSWORD_FILE: file })).toThrow(/NATS_USER: must be set/);
    expect(() => natsAuthFromConfig({ NATS_USER: 'gateway' })).toThrow(/NATS_PASSWORD_FILE: must name the password file/);
    expect(() => natsAuthFromConfig({ NATS_USER: 'gateway', NATS_PASSWORD_FILE: `${file}.missing` })).toThrow(/ENOENT/);
  });

  it('tightens a password file another process left readable to others before using it', async () => {
    const file = `${server.credentials!.passwordFile('operator')}.copy`;
    await writeFile(file, 'a-password-that-is-long-enough\n');
    await chmod(file, 0o644);
    expect(natsAuthFromConfig({ NATS_USER: 'operator', NATS_PASSWORD_FILE: file }).pass).toBe('a-password-that-is-long-enough');
    expect((await stat(file)).mode & 0o777).toBe(0o600);
  });
});
