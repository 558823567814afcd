import 'reflect-metadata';
import { Controller, Inject, Module, type INestMicroservice } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import {
  ClientProxyFactory,
  Ctx,
  MessagePattern,
  NatsContext,
  NatsRecordBuilder,
  Payload,
  Transport,
  type ClientProxy,
  type MicroserviceOptions,
} from '@nestjs/microservices';
import { connect, headers as natsHeaders, type NatsConnection } from '@nats-io/transport-node';
import { firstValueFrom } from 'rxjs';
import { PowernodeError } from '@powernode/contracts';
import { z } from 'zod';
import { RpcClient } from '../../src/bus/rpc-client.js';
import { BUS_HEADERS } from '../../src/bus/event-message.js';
import { rpcHandler, unwrapRpcReply } from '../../src/bus/rpc-handler.js';
import { serveRpc } from '../../src/bus/rpc-responder.js';
import { rpcMicroserviceOptions } from '../../src/rpc-microservice.js';
import { NATS_URL, recordingLogger, uniqueId } from './bus-fixture.js';

const MODULES = Symbol('modules');
const CLOCK = Symbol('clock');

interface ModuleRecord {
  name: string;
  category: string;
  created_at?: string;
}

const getModuleQuery = z.object({ module_name: z.string().min(1) });
const createModuleCommand = z.object({
  name: z.string().regex(/^[a-z][a-z0-9-]*$/, 'lowercase letters, digits and dashes, starting with a letter'),
  category: z.enum(['system-base', 'userland']),
  limits: z.object({ max_versions: z.number().int().positive() }).optional(),
});

/** A small catalog service the way apps write one: a Nest controller whose patterns are rpcHandler-wrapped. */
function catalogModule(prefix: string) {
  const logger = recordingLogger();

  @Controller()
  class ModulesController {
    constructor(
      @Inject(MODULES) private readonly modules: Map<string, ModuleRecord>,
      @Inject(CLOCK) private readonly clock: () => string,
    ) {}

    private readonly getModule = rpcHandler(getModuleQuery, ({ module_name }) => {
      const found = this.modules.get(module_name);
      if (!found) throw new PowernodeError('not_found', `module ${module_name} does not exist: create it first`, { details: { module_name } });
      return { module: found };
    });

    private readonly createModule = rpcHandler(createModuleCommand, ({ name, category }) => {
      if (this.modules.has(name)) throw new PowernodeError('already_exists', `module ${name} already exists`);
      const record = { name, category, created_at: this.clock() };
      this.modules.set(name, record);
      return { module: record };
    });

    private readonly crash = rpcHandler(
      z.object({}),
      () => {
        throw new Error('database file is locked');
      },
      { logger },
    );

    private readonly whoami = rpcHandler(z.object({}), (_input, context) => ({ correlation_id: context.correlation_id, subject: context.subject }));

    private readonly slow = rpcHandler(z.object({ ms: z.number() }), async ({ ms }) => {
      await new Promise((r) => setTimeout(r, ms));
      return { slept: ms };
    });

    @MessagePattern(`${prefix}.modules.get`)
    get(@Payload() payload: unknown, @Ctx() ctx: NatsContext) {
      return this.getModule(payload, ctx);
    }

    @MessagePattern(`${prefix}.modules.create`)
    create(@Payload() payload: unknown, @Ctx() ctx: NatsContext) {
      return this.createModule(payload, ctx);
    }

    @MessagePattern(`${prefix}.modules.crash`)
    crashes(@Payload() payload: unknown, @Ctx() ctx: NatsContext) {
      return this.crash(payload, ctx);
    }

    @MessagePattern(`${prefix}.whoami`)
    who(@Payload() payload: unknown, @Ctx() ctx: NatsContext) {
      return this.whoami(payload, ctx);
    }

    @MessagePattern(`${prefix}.slow`)
    sleeps(@Payload() payload: unknown, @Ctx() ctx: NatsContext) {
      return this.slow(payload, ctx);
    }

    @MessagePattern(`${prefix}.unwrapped`)
    unwrapped(): never {
      throw new Error('thrown outside rpcHandler');
    }
  }

  @Module({
    controllers: [ModulesController],
    providers: [
      { provide: MODULES, useValue: new Map<string, ModuleRecord>([['my-redis', { name: 'my-redis', category: 'userland' }]]) },
      { provide: CLOCK, useValue: () => '2025-01-01T00:00:00.000Z' },
    ],
  })
  class CatalogModule {}
  return { CatalogModule, logger };
}

describe('RPC over NATS with a Nest microservice', () => {
  const prefix = `pntest.${uniqueId()}.catalog`;
  const { CatalogModule, logger } = catalogModule(prefix);
  let app: INestMicroservice;
  let nc: NatsConnection;
  let client: RpcClient;

  beforeAll(async () => {
    app = await NestFactory.createMicroservice<MicroserviceOptions>(CatalogModule, {
      transport: Transport.NATS,
      options: { servers: [NATS_URL] },
      logger: false,
    });
    await app.listen();
    nc = await connect({ servers: NATS_URL });
    client = new RpcClient(nc, { default_timeout_ms: 5000 });
  });

  afterAll(async () => {
    await client?.close();
    await nc?.close();
    await app?.close();
  });

  it('returns the data of a successful query', async () => {
    await expect(client.request(`${prefix}.modules.get`, { module_name: 'my-redis' })).resolves.toEqual({ module: { name: 'my-redis', category: 'userland' } });
  });

  it('carries a command through and its effect is visible to the next query', async () => {
    await expect(client.request(`${prefix}.modules.create`, { name: 'net-tools', category: 'system-base' })).resolves.toEqual({
      module: { name: 'net-tools', category: 'system-base', created_at: '2025-01-01T00:00:00.000Z' },
    });
    await expect(client.request(`${prefix}.modules.get`, { module_name: 'net-tools' })).resolves.toMatchObject({ module: { name: 'net-tools' } });
  });

  it('throws the domain error with the code, message and details from the reply', async () => {
    const error = await client.request(`${prefix}.modules.get`, { module_name: 'nope' }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(PowernodeError);
    expect(error).toMatchObject({
      code: 'not_found',
      message: 'module nope does not exist: create it first',
      details: { module_name: 'nope' },
      retryable: false,
    });
    await expect(client.request(`${prefix}.modules.create`, { name: 'my-redis', category: 'userland' })).rejects.toMatchObject({ code: 'already_exists' });
  });

  it('refuses an invalid payload with validation_failed and the field paths', async () => {
    const error = (await client
      .request(`${prefix}.modules.create`, { name: 'Bad Name', category: 'games', limits: { max_versions: 0 } })
      .catch((e: unknown) => e)) as PowernodeError;
    expect(error.code).toBe('validation_failed');
    const issues = (error.details as { issues: { path: string; message: string }[] }).issues;
    expect(issues.map((i) => i.path).sort()).toEqual(['category', 'limits.max_versions', 'name']);
    expect(error.message).toContain('name: lowercase letters, digits and dashes');
    await expect(client.request(`${prefix}.modules.get`, undefined)).rejects.toMatchObject({ code: 'validation_failed' });
  });

  it('answers an unexpected exception as internal with the correlation id, and logs it', async () => {
    const error = (await client.request(`${prefix}.modules.crash`, {}, { correlation_id: 'corr-crash-1' }).catch((e: unknown) => e)) as PowernodeError;
    expect(error.code).toBe('internal');
    expect(error.message).toContain('corr-crash-1');
    expect(error.message).not.toContain('database file is locked');
    const logged = logger.lines.find((l) => l.level === 'error' && (l.obj as { correlation_id?: string }).correlation_id === 'corr-crash-1');
    expect((logged?.obj as { err: Error }).err.message).toBe('database file is locked');
  });

  it('passes the correlation id to the handler in a header, or mints one', async () => {
    await expect(client.request(`${prefix}.whoami`, {}, { correlation_id: 'corr-42' })).resolves.toEqual({
      correlation_id: 'corr-42',
      subject: `${prefix}.whoami`,
    });
    const minted = await client.request<{ correlation_id: string }>(`${prefix}.whoami`, {});
    expect(minted.correlation_id).toMatch(/^[0-9a-f-]{36}$/);
  });

  it('throws rpc_timeout when the handler does not answer in time', async () => {
    await expect(client.request(`${prefix}.slow`, { ms: 1000 }, { timeout_ms: 200 })).rejects.toMatchObject({
      code: 'rpc_timeout',
      retryable: true,
      details: { timeout_ms: 200 },
    });
  });

  it('throws rpc_no_responder when no service listens, without waiting for the timeout', async () => {
    const error = (await client.request(`${prefix}.nobody.home`, {}, { timeout_ms: 60_000 }).catch((e: unknown) => e)) as PowernodeError;
    expect(error).toBeInstanceOf(PowernodeError);
    expect(error.code).toBe('rpc_no_responder');
    expect(error.message).toContain(`${prefix}.nobody.home`);
  });

  it('reports a handler that throws outside rpcHandler as internal', async () => {
    await expect(client.request(`${prefix}.unwrapped`, {})).rejects.toMatchObject({ code: 'internal', message: expect.stringContaining('rpcHandler') });
  });

  it('reports a request larger than the server takes in one message as payload_too_large, not bus_unavailable', async () => {
    const maxPayload = nc.info!.max_payload;
    const error = await client.request(`${prefix}.modules.get`, { module_name: 'x'.repeat(maxPayload) }).catch((e: unknown) => e);
    expect(error).toMatchObject({ code: 'payload_too_large', details: { max_payload: maxPayload } });
  });

  it('reports a closed connection as bus_unavailable', async () => {
    const own = await RpcClient.connect(NATS_URL);
    await own.close();
    await expect(own.request(`${prefix}.modules.get`, { module_name: 'my-redis' })).rejects.toMatchObject({ code: 'bus_unavailable' });
  });

  it('reports an unreachable NATS as bus_unavailable', async () => {
    await expect(RpcClient.connect('nats://127.0.0.1:1')).rejects.toMatchObject({ code: 'bus_unavailable' });
  });
});

describe('unwrapRpcReply', () => {
  it('returns data of an ok reply and throws the coded error of a failed one', () => {
    expect(unwrapRpcReply({ ok: true, data: 7 })).toBe(7);
    expect(() => unwrapRpcReply({ ok: false, error: { code: 'forbidden', message: 'approver role required' } })).toThrow(
      expect.objectContaining({ code: 'forbidden', message: 'approver role required' }),
    );
  });
});

describe('serveRpc (a plain NATS process answering like a Nest microservice)', () => {
  let nc: NatsConnection;
  let client: RpcClient;
  const prefix = `plain-${uniqueId()}`;
  const served: { stop(): Promise<void> }[] = [];

  beforeAll(async () => {
    nc = await connect({ servers: NATS_URL });
    client = await RpcClient.connect(NATS_URL, { default_timeout_ms: 2000 });
    const echo = rpcHandler(z.object({ n: z.number().int() }), ({ n }, context) => {
      if (n < 0) throw new PowernodeError('validation_failed', 'n must not be negative', { details: { n } });
      return { doubled: n * 2, correlation_id: context.correlation_id, subject: context.subject };
    });
    served.push(serveRpc(nc, `${prefix}.double`, echo));
    await nc.flush();
  });

  afterAll(async () => {
    for (const s of served) await s.stop();
    await client.close();
    await nc.close();
  });

  it('answers RpcClient requests with the handler data, the correlation id and the subject', async () => {
    await expect(client.request(`${prefix}.double`, { n: 21 }, { correlation_id: 'corr-plain-1' })).resolves.toEqual({
      doubled: 42,
      correlation_id: 'corr-plain-1',
      subject: `${prefix}.double`,
    });
  });

  it('carries refusals and payload validation back as coded errors', async () => {
    await expect(client.request(`${prefix}.double`, { n: -1 })).rejects.toMatchObject({
      code: 'validation_failed',
      message: 'n must not be negative',
      details: { n: -1 },
    });
    await expect(client.request(`${prefix}.double`, { n: 'x' })).rejects.toMatchObject({ code: 'validation_failed', details: { issues: [{ path: 'n' }] } });
  });

  it('stops answering once stopped: callers get rpc_no_responder', async () => {
    const stopped = serveRpc(
      nc,
      `${prefix}.gone`,
      rpcHandler(z.unknown(), () => ({ ok: true })),
    );
    await nc.flush();
    await expect(client.request(`${prefix}.gone`, {})).resolves.toEqual({ ok: true });
    await stopped.stop();
    await nc.flush();
    await expect(client.request(`${prefix}.gone`, {})).rejects.toMatchObject({ code: 'rpc_no_responder' });
  });
});

describe("Nest's own ClientNats calling serveRpc (the gateway's responder)", () => {
  let nc: NatsConnection;
  let nest: ClientProxy;
  const prefix = `nestclient-${uniqueId()}`;
  const served: { stop(): Promise<void> }[] = [];

  beforeAll(async () => {
    nc = await connect({ servers: NATS_URL });
    const echo = rpcHandler(z.object({ n: z.number().int() }), ({ n }, context) => {
      if (n < 0) throw new PowernodeError('validation_failed', 'n must not be negative', { details: { n } });
      return { doubled: n * 2, correlation_id: context.correlation_id };
    });
    served.push(serveRpc(nc, `${prefix}.double`, echo));
    await nc.flush();
    nest = ClientProxyFactory.create({ transport: Transport.NATS, options: { servers: [NATS_URL] } });
    await nest.connect();
  });

  afterAll(async () => {
    for (const s of served) await s.stop();
    await nest?.close();
    await nc?.close();
  });

  it('answers with the reply envelope, and reads the headers Nest sends', async () => {
    const h = natsHeaders();
    h.set(BUS_HEADERS.correlation_id, 'corr-nest-1');
    const record = new NatsRecordBuilder({ n: 21 }).setHeaders(h).build();
    await expect(firstValueFrom(nest.send(`${prefix}.double`, record))).resolves.toEqual({ ok: true, data: { doubled: 42, correlation_id: 'corr-nest-1' } });
  });

  it('carries refusals back in the envelope, not as a transport error', async () => {
    await expect(firstValueFrom(nest.send(`${prefix}.double`, { n: -1 }))).resolves.toMatchObject({
      ok: false,
      error: { code: 'validation_failed', details: { n: -1 } },
    });
    await expect(firstValueFrom(nest.send(`${prefix}.double`, { n: 'x' }))).resolves.toMatchObject({ ok: false, error: { code: 'validation_failed' } });
  });
});

describe('RPC in a bus namespace', () => {
  // Two services with the same patterns on one NATS server, as two platforms sharing it would run them.
  const prefix = `pntest.${uniqueId()}.catalog`;
  const namespaces = [`pt${uniqueId()}`, `pt${uniqueId()}`];
  const apps: INestMicroservice[] = [];
  let nc: NatsConnection;

  beforeAll(async () => {
    for (const [i, namespace] of namespaces.entries()) {
      @Controller()
      class OwnerController {
        private readonly owner = rpcHandler(z.object({}), () => ({ platform: i }));

        @MessagePattern(`${prefix}.owner`)
        answer(@Payload() payload: unknown, @Ctx() ctx: NatsContext) {
          return this.owner(payload, ctx);
        }
      }
      @Module({ controllers: [OwnerController] })
      class OwnerModule {}
      const app = await NestFactory.createMicroservice<MicroserviceOptions>(OwnerModule, {
        ...rpcMicroserviceOptions({ servers: [NATS_URL], queue: 'owner', namespace }),
        logger: false,
      });
      await app.listen();
      apps.push(app);
    }
    nc = await connect({ servers: NATS_URL });
  });

  afterAll(async () => {
    await nc?.close();
    for (const app of apps) await app.close();
  });

  it('reaches only the service of its own namespace, though both register the same pattern', async () => {
    for (const [i, namespace] of namespaces.entries()) {
      const client = new RpcClient(nc, { namespace });
      for (let n = 0; n < 5; n++) await expect(client.request(`${prefix}.owner`, {})).resolves.toEqual({ platform: i });
    }
  });

  it('hears nothing on the plain pattern: a client without the namespace gets rpc_no_responder', async () => {
    await expect(new RpcClient(nc).request(`${prefix}.owner`, {})).rejects.toMatchObject({ code: 'rpc_no_responder' });
    await expect(new RpcClient(nc, { namespace: `pt${uniqueId()}` }).request(`${prefix}.owner`, {})).rejects.toMatchObject({
      code: 'rpc_no_responder',
      details: { namespace: expect.any(String) },
    });
  });
});
