import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { platformNatsServerConfig, type NatsPermissionSettings } from '@powernode/events';
import { ensureNatsCredentials, type NatsCredentialFiles } from '@powernode/runtime';
import { reportedPort } from './loopback-port.js';

/** A private nats-server with JetStream, so a test's subjects, streams and RPC patterns meet nobody else's. */
export interface TestNatsServer {
  url: string;
  port: number;
  /** With `auth`: the users' password files and the server configuration, as `npm start` makes them. */
  credentials?: NatsCredentialFiles;
  stop(): Promise<void>;
}

/** The nats-server program: NATS_SERVER_BIN, else Debian's, else the one on PATH. */
export function natsBinary(): string {
  for (const candidate of [process.env['NATS_SERVER_BIN'], '/usr/sbin/nats-server', '/usr/bin/nats-server', '/usr/local/bin/nats-server']) {
    if (candidate && existsSync(candidate)) return candidate;
  }
  return 'nats-server';
}

/**
 * Writes the configuration of a test nats-server into `dir`: the platform's settings (max_payload) as
 * `npm start` runs them, and with `auth` the users and permissions of that bus and relay host.
 */
export async function writeNatsServerConfig(
  dir: string,
  auth: NatsPermissionSettings | undefined,
): Promise<{ config: string; credentials: NatsCredentialFiles | undefined }> {
  if (auth) {
    const credentials = ensureNatsCredentials(path.join(dir, 'auth'), auth);
    return { config: credentials.config_file, credentials };
  }
  const config = path.join(dir, 'nats.conf');
  await writeFile(config, platformNatsServerConfig());
  return { config, credentials: undefined };
}

/**
 * Starts nats-server -js on a loopback port of its own choosing, with its store in a temp dir. With `auth`, it
 * has the platform's users and permissions for that bus and relay host, and refuses anonymous connections.
 */
export async function startNatsServer(options: { auth?: NatsPermissionSettings } = {}): Promise<TestNatsServer> {
  const dir = await mkdtemp(path.join(tmpdir(), 'pn-nats-'));
  const { config, credentials } = await writeNatsServerConfig(dir, options.auth);
  // `-p -1` lets the server bind any free port and log which: a port picked here first could be taken by
  // another test's socket before the server binds it.
  const child: ChildProcess = spawn(natsBinary(), ['-c', config, '-a', '127.0.0.1', '-p', '-1', '-js', '-sd', dir], { stdio: ['ignore', 'ignore', 'pipe'] });
  let exited = false;
  child.once('exit', () => (exited = true));
  let port: number;
  try {
    port = await reportedPort(child, /Listening for client connections on [^\s]+:(\d+)/, { name: 'nats-server', timeoutMs: 15_000 });
  } catch (error) {
    child.kill('SIGKILL');
    await rm(dir, { recursive: true, force: true });
    throw new Error(`nats-server did not start (is the Debian package nats-server installed?): ${(error as Error).message}`, { cause: error });
  }
  return {
    url: `nats://127.0.0.1:${port}`,
    port,
    ...(credentials ? { credentials } : {}),
    async stop() {
      if (!exited) {
        const gone = new Promise((r) => child.once('exit', r));
        child.kill('SIGTERM');
        let timer: NodeJS.Timeout | undefined;
        await Promise.race([gone, new Promise((r) => (timer = setTimeout(r, 5000)))]);
        clearTimeout(timer);
        if (!exited) child.kill('SIGKILL');
      }
      await rm(dir, { recursive: true, force: true });
    },
  };
}
