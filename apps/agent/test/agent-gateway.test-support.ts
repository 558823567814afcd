// The three agent endpoints of the gateway, implemented by a real HTTP server per libs/contracts agent-api.ts,
// so the agent process can be tested before the provisioner serves them. Every request body is checked
// against the contract schemas; what the agent sent is recorded for assertions.
import { randomBytes } from 'node:crypto';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { agentEnrolInput, agentHeartbeat, type AgentDesiredState, type AgentHeartbeat } from '@powernode/contracts';

export interface AgentGatewayOptions {
  instanceId: string;
  enrolmentToken: string;
  heartbeatIntervalMs?: number;
  desired?: AgentDesiredState;
}

export interface AgentGateway {
  url: string;
  /** Every enrol call: whether it was accepted. */
  enrolments: Array<{ accepted: boolean; reason?: string }>;
  /** Valid heartbeats in arrival order. */
  heartbeats: AgentHeartbeat[];
  /** Heartbeats that broke the contract (their zod issues). */
  invalidHeartbeats: string[];
  /** Requests refused for a missing or wrong credential. */
  unauthorised: number;
  desiredRequests: number;
  setDesired(state: AgentDesiredState): void;
  /** Resolves with the first heartbeat (already received or future) that satisfies `predicate`. */
  waitForHeartbeat(predicate: (heartbeat: AgentHeartbeat) => boolean, timeoutMs?: number): Promise<AgentHeartbeat>;
  /** Resolves once `count` more heartbeats arrived after this call. */
  waitForMoreHeartbeats(count: number, timeoutMs?: number): Promise<AgentHeartbeat[]>;
  stop(): Promise<void>;
}

function problem(res: ServerResponse, status: number, code: string, detail: string): void {
  res.writeHead(status, { 'content-type': 'application/problem+json' });
  res.end(JSON.stringify({ type: `https://powernode.dev/problems/${code}`, title: code.replace(/_/g, ' '), status, detail, code }));
}

function json(res: ServerResponse, body: unknown): void {
  res.writeHead(200, { 'content-type': 'application/json' });
  res.end(JSON.stringify(body));
}

async function readBody(req: IncomingMessage): Promise<unknown> {
  const chunks: Buffer[] = [];
  for await (const chunk of req) chunks.push(chunk as Buffer);
  const text = Buffer.concat(chunks).toString('utf8');
  return text === '' ? undefined : JSON.parse(text);
}

/** Starts the endpoints on a free loopback port. */
export async function startAgentGateway(options: AgentGatewayOptions): Promise<AgentGateway> {
  let desired: AgentDesiredState = options.desired ?? { instance_id: options.instanceId, generation: '0', modules: [], unresolved: [] };
  let tokenUsed = false;
  let credential: string | undefined;
  const enrolments: AgentGateway['enrolments'] = [];
  const heartbeats: AgentHeartbeat[] = [];
  const invalidHeartbeats: string[] = [];
  const listeners = new Set<() => void>();
  const state = { unauthorised: 0, desiredRequests: 0 };

  const authorised = (req: IncomingMessage): boolean => credential !== undefined && req.headers.authorization === `Bearer ${credential}`;

  const server = createServer((req, res) => {
    void (async () => {
      try {
        const route = `${req.method} ${req.url}`;
        if (route === 'POST /api/v1/agent/enrol') {
          const parsed = agentEnrolInput.safeParse(await readBody(req));
          if (!parsed.success) return problem(res, 400, 'validation_failed', 'enrol body does not follow the contract');
          if (parsed.data.instance_id !== options.instanceId || parsed.data.enrolment_token !== options.enrolmentToken) {
            enrolments.push({ accepted: false, reason: 'unknown token' });
            return problem(res, 401, 'unauthenticated', 'unknown instance or enrolment token');
          }
          if (tokenUsed) {
            enrolments.push({ accepted: false, reason: 'token reused' });
            return problem(res, 401, 'unauthenticated', 'the enrolment token was already used');
          }
          tokenUsed = true;
          credential = `cred-${randomBytes(24).toString('hex')}`;
          enrolments.push({ accepted: true });
          return json(res, { credential, heartbeat_interval_ms: options.heartbeatIntervalMs ?? 30_000 });
        }
        if (route === 'GET /api/v1/agent/desired') {
          if (!authorised(req)) {
            state.unauthorised += 1;
            return problem(res, 401, 'unauthenticated', 'missing or unknown instance credential');
          }
          state.desiredRequests += 1;
          return json(res, desired);
        }
        if (route === 'POST /api/v1/agent/heartbeat') {
          if (!authorised(req)) {
            state.unauthorised += 1;
            return problem(res, 401, 'unauthenticated', 'missing or unknown instance credential');
          }
          const parsed = agentHeartbeat.safeParse(await readBody(req));
          if (!parsed.success) {
            invalidHeartbeats.push(JSON.stringify(parsed.error.issues));
            return problem(res, 400, 'validation_failed', 'heartbeat does not follow the contract');
          }
          heartbeats.push(parsed.data);
          for (const listener of listeners) listener();
          return json(res, { ok: true, desired_generation: desired.generation });
        }
        return problem(res, 404, 'not_found', `no route ${route}`);
      } catch (error) {
        return problem(res, 400, 'validation_failed', (error as Error).message);
      }
    })();
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;

  const waitFor = <T>(check: () => T | undefined, timeoutMs: number, what: () => string): Promise<T> =>
    new Promise((resolve, reject) => {
      const initial = check();
      if (initial !== undefined) return resolve(initial);
      const timer = setTimeout(() => {
        listeners.delete(listener);
        reject(new Error(`${what()} within ${timeoutMs} ms; last heartbeat: ${JSON.stringify(heartbeats[heartbeats.length - 1] ?? null)}`));
      }, timeoutMs);
      const listener = (): void => {
        const found = check();
        if (found === undefined) return;
        clearTimeout(timer);
        listeners.delete(listener);
        resolve(found);
      };
      listeners.add(listener);
    });

  return {
    url: `http://127.0.0.1:${port}`,
    enrolments,
    heartbeats,
    invalidHeartbeats,
    get unauthorised() {
      return state.unauthorised;
    },
    get desiredRequests() {
      return state.desiredRequests;
    },
    setDesired(next) {
      desired = next;
    },
    waitForHeartbeat(predicate, timeoutMs = 60_000) {
      let checked = 0;
      return waitFor(
        () => {
          for (; checked < heartbeats.length; checked++) if (predicate(heartbeats[checked]!)) return heartbeats[checked]!;
          return undefined;
        },
        timeoutMs,
        () => 'no matching heartbeat',
      );
    },
    waitForMoreHeartbeats(count, timeoutMs = 60_000) {
      const from = heartbeats.length;
      return waitFor(
        () => (heartbeats.length >= from + count ? heartbeats.slice(from, from + count) : undefined),
        timeoutMs,
        () => `fewer than ${count} more heartbeats`,
      );
    },
    async stop() {
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
