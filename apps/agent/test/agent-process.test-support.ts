// The real agent (`node apps/agent/dist/main.js`) started with the environment the local driver
// gives it, for one test instance.
import { randomBytes } from 'node:crypto';
import { once } from 'node:events';
import path from 'node:path';
import { startServiceProcess, type ServiceProcess } from '@powernode/testing';

export interface TestInstance {
  instanceId: string;
  enrolmentToken: string;
  sandboxDir: string;
  dataDir: string;
  cacheDir: string;
}

/** Names and directories of a fresh instance under `workDir`. */
export function testInstance(workDir: string, label: string, cacheDir = path.join(workDir, 'cache')): TestInstance {
  const sandboxDir = path.join(workDir, `${label}-sandbox`);
  return {
    instanceId: `inst-${label}-${randomBytes(4).toString('hex')}`,
    enrolmentToken: `enrol-${randomBytes(16).toString('hex')}`,
    sandboxDir,
    dataDir: path.join(sandboxDir, 'data'),
    cacheDir,
  };
}

/** The environment of the agent of `instance`, talking to `gatewayUrl` and `registryHost`. */
export function agentEnvironment(instance: TestInstance, gatewayUrl: string, registryHost: string, extra: Record<string, string> = {}): Record<string, string> {
  return {
    POWERNODE_INSTANCE_ID: instance.instanceId,
    POWERNODE_HOSTNAME: 'agent-test',
    POWERNODE_ENROLMENT_TOKEN: instance.enrolmentToken,
    POWERNODE_SANDBOX_DIR: instance.sandboxDir,
    POWERNODE_AGENT_DATA_DIR: instance.dataDir,
    POWERNODE_AGENT_CACHE_DIR: instance.cacheDir,
    POWERNODE_GATEWAY_URL: gatewayUrl,
    POWERNODE_OCI_REGISTRY: registryHost,
    POWERNODE_HEARTBEAT_INTERVAL_MS: '150',
    POWERNODE_AGENT_RETRY_INITIAL_MS: '100',
    POWERNODE_AGENT_RETRY_MAX_MS: '400',
    POWERNODE_AGENT_OCI_RETRIES: '0',
    POWERNODE_AGENT_INIT_TIMEOUT_MS: '20000',
    ...extra,
  };
}

/** Starts the agent process. */
export function startAgent(env: Record<string, string>): ServiceProcess {
  return startServiceProcess('agent', env);
}

/** Parsed pino lines of an agent that satisfy `predicate`. */
export function logEntries(agent: ServiceProcess, predicate: (entry: Record<string, unknown>) => boolean = () => true): Array<Record<string, unknown>> {
  const out: Array<Record<string, unknown>> = [];
  for (const line of agent.lines) {
    try {
      const entry = JSON.parse(line) as Record<string, unknown>;
      if (predicate(entry)) out.push(entry);
    } catch {
      // not a log line
    }
  }
  return out;
}

/** Waits for a log entry of `agent` whose msg is `msg` and that satisfies `predicate`. */
export async function waitForLogEntry(
  agent: ServiceProcess,
  msg: string,
  predicate: (entry: Record<string, unknown>) => boolean = () => true,
  timeoutMs = 60_000,
): Promise<Record<string, unknown>> {
  const line = await agent.waitForLog((text) => {
    try {
      const entry = JSON.parse(text) as Record<string, unknown>;
      return entry['msg'] === msg && predicate(entry);
    } catch {
      return false;
    }
  }, timeoutMs);
  return JSON.parse(line) as Record<string, unknown>;
}

/** Resolves once everything the (exited) agent wrote has been read: `exit` may come before the pipes drain. */
export async function outputClosed(agent: ServiceProcess): Promise<void> {
  for (const stream of [agent.child.stdout, agent.child.stderr]) {
    if (stream !== null && !stream.closed) await once(stream, 'close');
  }
}
