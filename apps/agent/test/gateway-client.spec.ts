import { execFile } from 'node:child_process';
import { readFile, rm } from 'node:fs/promises';
import { createServer } from 'node:https';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import { promisify } from 'node:util';
import { fetchTrusting } from '../src/ca-trusting-fetch.js';
import { GatewayClient } from '../src/gateway-client.js';
import { startAgentGateway, type AgentGateway } from './agent-gateway.test-support.js';
import { freshDir } from './module-artifacts.test-support.js';

const execFileAsync = promisify(execFile);
const TOKEN = 'enrol-token-0123456789abcdef';

let gateway: AgentGateway;
let workDir: string;

beforeAll(async () => {
  gateway = await startAgentGateway({ instanceId: 'inst-client', enrolmentToken: TOKEN, heartbeatIntervalMs: 1234 });
  workDir = await freshDir('gateway-client');
});

afterAll(async () => {
  await gateway?.stop();
  await rm(workDir, { recursive: true, force: true });
});

const client = (baseUrl: string, fetchImplementation?: typeof fetch): GatewayClient =>
  new GatewayClient({ baseUrl, timeoutMs: 5_000, userAgent: 'test', ...(fetchImplementation === undefined ? {} : { fetch: fetchImplementation }) });

describe('the gateway client speaks the agent protocol', () => {
  it('enrols once, then uses the credential; problem+json answers become errors with the gateway code', async () => {
    const api = client(gateway.url);
    const enrolled = await api.enrol({ instance_id: 'inst-client', enrolment_token: TOKEN });
    expect(enrolled.heartbeat_interval_ms).toBe(1234);
    await expect(api.enrol({ instance_id: 'inst-client', enrolment_token: TOKEN })).rejects.toMatchObject({
      code: 'unauthenticated',
      retryable: false,
      message: 'cannot enrol: the gateway answered 401: the enrolment token was already used',
    });
    await expect(api.desired(enrolled.credential)).resolves.toEqual({ instance_id: 'inst-client', generation: '0', modules: [], unresolved: [] });
    await expect(api.desired('not-the-credential-at-all')).rejects.toMatchObject({ code: 'unauthenticated' });
    const answer = await api.heartbeat(enrolled.credential, {
      running_module_digests: {},
      composed_root_hash: null,
      generation: null,
      errors: [],
      module_states: {},
      services: [],
      address: null,
      integrity: [],
      agent_version: '0.1.0',
      boot_id: 'b',
    });
    expect(answer).toEqual({ ok: true, desired_generation: '0' });
  });

  it('a gateway that does not answer is gateway_unreachable (retryable); an answer off the contract is refused', async () => {
    await expect(client('http://127.0.0.1:9').desired('x'.repeat(20))).rejects.toMatchObject({ code: 'gateway_unreachable', retryable: true });
    const api = client(gateway.url);
    // The route answers problem+json 404 with its own code.
    await expect(new GatewayClient({ baseUrl: `${gateway.url}/nowhere`, timeoutMs: 5_000, userAgent: 't' }).desired('x')).rejects.toMatchObject({
      code: 'not_found',
    });
    await expect(api.enrol({ instance_id: 'inst-client', enrolment_token: 'x' })).rejects.toMatchObject({ code: 'validation_failed' });
  });
});

describe('https with the platform CA', () => {
  it('trusts a gateway certificate signed by POWERNODE_CA_PEM, and refuses it without', async () => {
    const key = path.join(workDir, 'key.pem');
    const cert = path.join(workDir, 'cert.pem');
    await execFileAsync('openssl', [
      'req',
      '-x509',
      '-newkey',
      'ec',
      '-pkeyopt',
      'ec_paramgen_curve:P-256',
      '-nodes',
      '-keyout',
      key,
      '-out',
      cert,
      '-days',
      '1',
      '-subj',
      '/CN=127.0.0.1',
      '-addext',
      'subjectAltName=IP:127.0.0.1',
    ]);
    const pem = await readFile(cert, 'utf8');
    const server = createServer({ key: await readFile(key), cert: pem }, (req, res) => {
      if (req.url === '/moved') {
        res.writeHead(307, { location: '/api/v1/agent/desired' });
        res.end();
        return;
      }
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(
        JSON.stringify({
          instance_id: 'tls',
          generation: req.headers.authorization === 'Bearer secret-credential-1234' ? 'authorised' : 'anonymous',
          modules: [],
          unresolved: [],
        }),
      );
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    try {
      const url = `https://127.0.0.1:${(server.address() as AddressInfo).port}`;
      await expect(client(url, fetchTrusting(pem)).desired('secret-credential-1234')).resolves.toMatchObject({ instance_id: 'tls', generation: 'authorised' });
      await expect(client(url).desired('secret-credential-1234')).rejects.toMatchObject({ code: 'gateway_unreachable' });
      // A same-origin redirect keeps the credential.
      const redirected = await fetchTrusting(pem)(`${url}/moved`, { headers: { authorization: 'Bearer secret-credential-1234' } });
      expect(await redirected.json()).toMatchObject({ generation: 'authorised' });
    } finally {
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    }
  });
});
