import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import type { NatsPermissionSettings } from '@powernode/events';
import type { NatsCredentialFiles } from '@powernode/runtime';
import { freeLoopbackPort, reportedPort } from './loopback-port.js';
import { natsBinary, writeNatsServerConfig } from './nats-server.js';

/** One server of a test cluster, which a test may kill and start again on the same ports and store. */
export interface ClusterNode {
  name: string;
  url: string;
  running(): boolean;
  /** SIGKILL: what losing a machine looks like to the others. */
  kill(): Promise<void>;
  /** Starts it again with its store as it was. */
  restart(): Promise<void>;
}

export interface TestNatsCluster {
  /** Every server's URL, comma-separated: what `NATS_URL` takes for a cluster. */
  url: string;
  nodes: ClusterNode[];
  /** With `auth`: the users' password files and the configuration every server runs with. */
  credentials?: NatsCredentialFiles;
  stop(): Promise<void>;
}

/**
 * `size` nats-servers with JetStream, clustered over routes on loopback, each with its own store in a temp dir,
 * with the platform's settings (max_payload, and with `auth` its users and permissions). Resolves once every
 * server listens; JetStream elects its meta leader soon after, which callers wait for by retrying their first
 * stream creation.
 */
export async function startNatsCluster(size = 3, options: { auth?: NatsPermissionSettings } = {}): Promise<TestNatsCluster> {
  const dir = await mkdtemp(path.join(tmpdir(), 'pn-nats-cluster-'));
  const { config, credentials } = await writeNatsServerConfig(dir, options.auth);
  // Routes name each other's cluster ports, so those are picked beforehand; client ports are taken again on restart.
  const clusterPorts = await Promise.all(Array.from({ length: size }, () => freeLoopbackPort()));
  const clientPorts = await Promise.all(Array.from({ length: size }, () => freeLoopbackPort()));
  const nodes = clusterPorts.map((clusterPort, i) => {
    const name = `pn-test-${i}`;
    const args = [
      '-c',
      config,
      '-a',
      '127.0.0.1',
      '-p',
      String(clientPorts[i]),
      '-js',
      '-sd',
      path.join(dir, name),
      '-n',
      name,
      '--cluster_name',
      'pn-test',
      '--cluster',
      `nats://127.0.0.1:${clusterPort}`,
      '--routes',
      clusterPorts
        .filter((_, j) => j !== i)
        .map((p) => `nats://127.0.0.1:${p}`)
        .join(','),
    ];
    let child: ChildProcess | undefined;
    const start = async () => {
      child = spawn(natsBinary(), args, { stdio: ['ignore', 'ignore', 'pipe'] });
      await reportedPort(child, /Listening for client connections on [^\s]+:(\d+)/, { name, timeoutMs: 15_000 });
    };
    const node: ClusterNode & { start(): Promise<void> } = {
      name,
      url: `nats://127.0.0.1:${clientPorts[i]}`,
      running: () => child !== undefined && child.exitCode === null && child.signalCode === null,
      start,
      async kill() {
        if (!node.running()) return;
        const gone = new Promise((r) => child!.once('exit', r));
        child!.kill('SIGKILL');
        await gone;
      },
      restart: start,
    };
    return node;
  });
  try {
    await Promise.all(nodes.map((n) => n.start()));
  } catch (error) {
    await Promise.all(nodes.map((n) => n.kill()));
    await rm(dir, { recursive: true, force: true });
    throw error;
  }
  return {
    url: nodes.map((n) => n.url).join(','),
    nodes,
    ...(credentials ? { credentials } : {}),
    async stop() {
      await Promise.all(nodes.map((n) => n.kill()));
      await rm(dir, { recursive: true, force: true });
    },
  };
}
