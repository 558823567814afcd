import { Module, type DynamicModule } from '@nestjs/common';
import type { NestExpressApplication } from '@nestjs/platform-express';
import express, { type NextFunction, type Request, type Response } from 'express';
import { GATEWAY_RPCS, PowernodeError } from '@powernode/contracts';
import { RpcClient, rpcHandlerTable, serveRpcTable } from '@powernode/events';
import type { ServiceHost } from '@powernode/runtime';
import { Authenticator } from './auth/authenticator.js';
import { busLeadershipMetrics, readBusLeadership } from './health/bus-leadership.js';
import { HealthController, READINESS_AUTHENTICATOR, READINESS_BUS, READINESS_CHECKS } from './health/health.controller.js';
import type { ReadinessCheck } from './health/readiness.js';
import { HttpMetrics } from './http/metrics.js';
import { API_PREFIX, openApiDocument } from './http/openapi.js';
import { toProblem } from './http/problem.js';
import { RateLimiter } from './http/rate-limiter.js';
import { restRouter } from './http/rest-router.js';
import { WEBHOOK_BODY_LIMIT, webhookBody, webhookBodyLimit, webhookHandler } from './http/webhook-endpoint.js';
import { AGENT_API_PREFIX, agentRouter } from './http/agent-endpoints.js';
import { mcpHandler } from './mcp/mcp-endpoint.js';
import { catalogOperations } from './operations/catalog-operations.js';
import { gatewayOperations } from './operations/gateway-operations.js';
import { provisionerOperations } from './operations/provisioner-operations.js';
import type { Operation } from './operations/operation.js';
import { GatewayReadModels } from './read-models/gateway-read-models.js';
import { eventStreamHandler } from './live/event-stream-endpoint.js';
import { LogTail } from './live/log-tail.js';
import { WEB_APP_PREFIX, webAppHandler } from './web/web-app.js';

export interface GatewayDeps {
  host: ServiceHost<{ POWERNODE_DATA_DIR: string }>;
  bootstrapAdminToken: string;
  /** Extra operations served by other services (e.g. the provisioner's), forwarded over NATS. */
  extraOperations?: (rpc: RpcClient) => Operation[];
}

/** Everything the gateway serves, started before the HTTP server so the first request finds it ready. */
export interface GatewayRuntime {
  deps: GatewayDeps;
  rpc: RpcClient;
  readModels: GatewayReadModels;
  authenticator: Authenticator;
  operations: Operation[];
  metrics: HttpMetrics;
  /** Wakes the live event streams when the log grows. */
  tail: LogTail;
}

/**
 * Starts the gateway's read models (tokens, and its copies of the catalog's), answers `powernode replay` for
 * them, and assembles its operations.
 */
export async function prepareGateway(deps: GatewayDeps): Promise<GatewayRuntime> {
  const { host } = deps;
  const readModels = new GatewayReadModels(host.store, host.logger);
  await readModels.start();
  host.onShutdown({ name: 'read models', close: () => readModels.stop() });
  const replay = serveRpcTable(
    host.nats,
    rpcHandlerTable(GATEWAY_RPCS, { replay: ({ projection }) => readModels.rebuild(projection) }, { logger: host.logger }),
    host.bus.namespace,
  );
  host.onShutdown({ name: 'replay', close: () => replay.stop() });
  const tail = new LogTail(host.store);
  host.onShutdown({ name: 'event stream tail', close: () => tail.stop() });
  const rpc = new RpcClient(host.nats, { default_timeout_ms: 10_000, namespace: host.bus.namespace });
  const operations = [
    ...catalogOperations(rpc, readModels),
    ...provisionerOperations(rpc),
    ...gatewayOperations(host.store, readModels.tokens),
    ...(deps.extraOperations?.(rpc) ?? []),
  ];
  return {
    deps,
    rpc,
    readModels,
    authenticator: new Authenticator(
      deps.bootstrapAdminToken,
      () => readModels.tokens.current,
      async () => readModels.tokens.waitFor(await host.store.headPosition()),
    ),
    operations,
    metrics: new HttpMetrics(),
    tail,
  };
}

/** The HTTP edge: health probes as a Nest controller; REST, MCP, webhooks, docs and metrics as express routes. */
@Module({})
export class GatewayModule {
  static register(runtime: GatewayRuntime): DynamicModule {
    const { host } = runtime.deps;
    const checks: ReadinessCheck[] = [
      { name: 'store', check: () => host.store.ping() },
      {
        name: 'bus',
        check: async () => {
          if (host.nats.isClosed()) throw new Error('NATS connection closed');
          await host.nats.flush();
          await host.jsm.getAccountInfo();
        },
      },
      // Reads are answered from the gateway's own read models: a gateway far behind the log is not ready.
      { name: 'read_models', check: () => runtime.readModels.caughtUpWithStore() },
      { name: 'catalog', check: async () => void (await runtime.rpc.request('catalog.ping', {}, { timeout_ms: 1500 })) },
      { name: 'provisioner', check: async () => void (await runtime.rpc.request('provisioner.ping', {}, { timeout_ms: 1500 })) },
    ];
    return {
      module: GatewayModule,
      controllers: [HealthController],
      providers: [
        { provide: READINESS_CHECKS, useValue: checks },
        { provide: READINESS_AUTHENTICATOR, useValue: runtime.authenticator },
        { provide: READINESS_BUS, useValue: () => readBusLeadership(host.jsm, host.bus, () => host.store.headPosition()) },
      ],
    };
  }

  /** Mounts the express routes that Nest's controllers do not serve. */
  static configure(app: NestExpressApplication, runtime: GatewayRuntime): void {
    const { host } = runtime.deps;
    const logger = host.logger;
    const server = app.getHttpAdapter().getInstance() as express.Express;
    server.set('trust proxy', 'loopback');
    // Answers are the current state of the caller's query, never revalidated with If-None-Match: hashing every
    // body for an ETag would only cost CPU on the read path.
    server.set('etag', false);
    server.use((req: Request, res: Response, next: NextFunction) => {
      const started = performance.now();
      res.on('finish', () =>
        runtime.metrics.observe(
          req.route?.path ? `${req.baseUrl}${req.route.path}` : req.baseUrl || req.path,
          req.method,
          res.statusCode,
          performance.now() - started,
        ),
      );
      next();
    });
    // A body is forwarded to the catalog in one NATS message: accept only what the connected server can carry.
    const maxPayload = host.nats.info?.max_payload;
    const bodyLimit = webhookBodyLimit(maxPayload);
    if (bodyLimit < WEBHOOK_BODY_LIMIT) {
      logger.warn(
        { max_payload: maxPayload, webhook_body_limit: bodyLimit },
        `NATS max_payload limits webhook bodies to ${bodyLimit} bytes; give nats-server max_payload: 4MB (docker/nats-server.conf) to accept 1 MiB`,
      );
    }
    server.post(`${API_PREFIX}/webhooks/gitea/module`, webhookBody(bodyLimit), webhookHandler(runtime.rpc, new RateLimiter(120, 60), logger));
    server.post(`${API_PREFIX}/webhooks/github/module`, webhookBody(bodyLimit), webhookHandler(runtime.rpc, new RateLimiter(120, 60), logger));
    server.get(`${API_PREFIX}/events/stream`, eventStreamHandler(host.store, runtime.tail, runtime.authenticator, logger));
    const json = express.json({ limit: '1mb', type: ['application/json', 'application/*+json'] });
    server.use(API_PREFIX, json, restRouter(runtime.operations, runtime.authenticator, logger));
    server.use(AGENT_API_PREFIX, agentRouter(runtime.rpc, logger));
    server.post('/mcp', json, mcpHandler(runtime.operations, runtime.authenticator, logger));
    server.get('/mcp', mcpHandler(runtime.operations, runtime.authenticator, logger));
    const doc = openApiDocument(runtime.operations);
    server.get('/api/docs', (_req: Request, res: Response) => void res.json(doc));
    // `/app` alone gets the trailing slash the page's relative paths need (the route also matches `/app/`).
    server.get(WEB_APP_PREFIX, (req: Request, res: Response, next: NextFunction) =>
      req.originalUrl.split('?')[0] === WEB_APP_PREFIX ? res.redirect(308, `${WEB_APP_PREFIX}/`) : next(),
    );
    server.use(WEB_APP_PREFIX, webAppHandler());
    server.get('/metrics', async (_req: Request, res: Response) => {
      const gauges = runtime.metrics.render({ ...readModelPositions(runtime.readModels), powernode_event_store_open: 1 });
      let bus: string[];
      try {
        bus = [...busLeadershipMetrics(await readBusLeadership(host.jsm, host.bus, () => host.store.headPosition())), 'powernode_bus_leadership_up 1'];
      } catch (error) {
        logger.warn({ err: error }, 'cannot read the relay holder and consumer lag for /metrics');
        bus = ['powernode_bus_leadership_up 0'];
      }
      res.type('text/plain; version=0.0.4').send(`${gauges}${bus.join('\n')}\n`);
    });
    server.use(API_PREFIX, (req: Request, res: Response) => {
      const problem = toProblem(new PowernodeError('not_found', `no route ${req.method} ${req.originalUrl}: see /api/docs`), req.originalUrl);
      res.status(404).type('application/problem+json').send(JSON.stringify(problem));
    });
    // Body parser failures (malformed JSON, over the limit) as problem+json.
    server.use((error: Error & { status?: number; type?: string }, req: Request, res: Response, next: NextFunction) => {
      if (res.headersSent) return next(error);
      const status = error.status ?? 500;
      const mapped =
        status === 413
          ? new PowernodeError('payload_too_large', 'request body is larger than 1 MiB')
          : status === 400
            ? new PowernodeError('validation_failed', `request body is not valid JSON: ${error.message}`)
            : error;
      const problem = toProblem(mapped, req.originalUrl);
      if (problem.status >= 500) logger.error({ err: error }, 'unhandled error');
      res.status(problem.status).type('application/problem+json').send(JSON.stringify(problem));
    });
  }
}

/** One gauge per read model: how far into the log it has folded (compare with the store's head to see lag). */
function readModelPositions(readModels: GatewayReadModels): Record<string, number> {
  return Object.fromEntries(readModels.all().map((r) => [`powernode_read_model_position_${r.name.replace(/[^a-zA-Z0-9_]/g, '_')}`, r.checkpoint]));
}
