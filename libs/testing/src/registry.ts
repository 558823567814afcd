import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { findExecutable, installCommand } from '@powernode/runtime';
import { reportedPort } from './loopback-port.js';
import { startRegistryTokenService, type TokenRequestRecord } from './registry-token-service.js';

const execFileAsync = promisify(execFile);
const READY_TIMEOUT_MS = 20_000;

/** How to start the test registry. */
export interface StartRegistryOptions {
  /**
   * `'htpasswd'`: basic auth with a generated bcrypt user. `'token'`: bearer tokens from a Docker token
   * service started alongside (the scheme Gitea, Harbor and GHCR use). Default: no auth.
   */
  auth?: 'htpasswd' | 'token';
  /** Allow `DELETE` of manifests and blobs (default true). */
  deleteEnabled?: boolean;
}

/** A running Debian `docker-registry` (CNCF distribution) on a loopback port with its own storage. */
export interface TestRegistry {
  /** `http://127.0.0.1:<port>` */
  url: string;
  /** `127.0.0.1:<port>`, the form references use. */
  host: string;
  /** Root of the filesystem storage driver (tests may tamper with blobs under it). */
  storageDir: string;
  /** The user to log in as, when started with auth. */
  credentials?: { username: string; password: string };
  /** Calls the token service answered, when started with `auth: 'token'`. */
  tokenRequests?: TokenRequestRecord[];
  /** Where the registry keeps the bytes of a blob, for tests that corrupt or truncate it. */
  blobDataPath(digest: string): string;
  /** Stops the process and removes the storage directory. */
  stop(): Promise<void>;
}

async function bcryptHtpasswdLine(username: string, password: string): Promise<string> {
  try {
    const { stdout } = await execFileAsync(findExecutable('htpasswd') ?? 'htpasswd', ['-Bbn', username, password]);
    return stdout.trim();
  } catch (cause) {
    throw new Error(
      `htpasswd (Debian package apache2-utils) is needed to start a registry with basic auth; install it with: ${installCommand(['apache2-utils'])}`,
      { cause },
    );
  }
}

function registryConfig(storageDir: string, auth: Record<string, unknown> | undefined, deleteEnabled: boolean): string {
  // JSON is YAML, and the registry reads YAML.
  return JSON.stringify(
    {
      version: '0.1',
      // Info level for the one line that says which port it bound (`listening on 127.0.0.1:NNNNN`).
      log: { level: 'info', accesslog: { disabled: true } },
      storage: {
        filesystem: { rootdirectory: storageDir },
        delete: { enabled: deleteEnabled },
        maintenance: { uploadpurging: { enabled: false } },
      },
      // Port 0: the registry binds a free port itself, so no other process can take it first.
      http: { addr: '127.0.0.1:0', secret: randomBytes(16).toString('hex') },
      ...(auth === undefined ? {} : { auth }),
    },
    null,
    2,
  );
}

async function waitUntilAnswering(url: string, child: ChildProcess, stderr: () => string): Promise<void> {
  const deadline = Date.now() + READY_TIMEOUT_MS;
  while (Date.now() < deadline) {
    if (child.exitCode !== null || child.signalCode !== null) {
      throw new Error(`docker-registry exited (${child.exitCode ?? child.signalCode}) before answering: ${stderr().trim()}`);
    }
    try {
      const response = await fetch(`${url}/v2/`, { signal: AbortSignal.timeout(1000) });
      await response.body?.cancel();
      if (response.status === 200 || response.status === 401) return;
    } catch {
      // not listening yet
    }
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  throw new Error(`docker-registry did not answer on ${url} within ${READY_TIMEOUT_MS} ms: ${stderr().trim()}`);
}

async function stopProcess(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  child.kill('SIGTERM');
  const timer = setTimeout(() => child.kill('SIGKILL'), 5000);
  await exited;
  clearTimeout(timer);
}

/**
 * Starts Debian's `docker-registry` on a loopback port of its own choosing with a fresh storage directory, optionally with
 * htpasswd (bcrypt) or token auth, and waits until `/v2/` answers.
 */
export async function startRegistry(options: StartRegistryOptions = {}): Promise<TestRegistry> {
  const workDir = await mkdtemp(path.join(tmpdir(), 'powernode-registry-'));
  const storageDir = path.join(workDir, 'storage');
  const configPath = path.join(workDir, 'config.yml');
  let credentials: TestRegistry['credentials'];
  let authConfig: Record<string, unknown> | undefined;
  let stopTokenService = async (): Promise<void> => undefined;
  let tokenRequests: TokenRequestRecord[] | undefined;
  try {
    if (options.auth === 'htpasswd') {
      credentials = { username: `user-${randomBytes(3).toString('hex')}`, password: randomBytes(12).toString('base64url') };
      const htpasswdPath = path.join(workDir, 'htpasswd');
      await writeFile(htpasswdPath, `${await bcryptHtpasswdLine(credentials.username, credentials.password)}\n`);
      authConfig = { htpasswd: { realm: 'powernode-test', path: htpasswdPath } };
    } else if (options.auth === 'token') {
      const tokenService = await startRegistryTokenService(workDir);
      stopTokenService = tokenService.stop;
      credentials = tokenService.credentials;
      tokenRequests = tokenService.requests;
      const { realm, service, issuer, certificatePath } = tokenService;
      authConfig = { token: { realm, service, issuer, rootcertbundle: certificatePath } };
    }

    await writeFile(configPath, registryConfig(storageDir, authConfig, options.deleteEnabled ?? true));
    const binary = process.env['DOCKER_REGISTRY_BIN'] ?? 'docker-registry';
    const child = spawn(binary, ['serve', configPath], { stdio: ['ignore', 'ignore', 'pipe'] });
    let stderr = '';
    child.stderr?.setEncoding('utf8').on('data', (text: string) => {
      stderr = (stderr + text).slice(-4000);
    });
    let url: string;
    let host: string;
    try {
      const port = await reportedPort(child, /msg="listening on 127\.0\.0\.1:(\d+)"/, { name: binary, timeoutMs: READY_TIMEOUT_MS });
      host = `127.0.0.1:${port}`;
      url = `http://${host}`;
      await waitUntilAnswering(url, child, () => stderr);
    } catch (error) {
      await stopProcess(child);
      if ((error as NodeJS.ErrnoException).code === 'ENOENT') {
        throw new Error(`${binary} not found: install the Debian package docker-registry`, { cause: error });
      }
      throw error;
    }
    return {
      url,
      host,
      storageDir,
      ...(credentials === undefined ? {} : { credentials }),
      ...(tokenRequests === undefined ? {} : { tokenRequests }),
      blobDataPath: (digest) => {
        const [algorithm, hex] = digest.split(':');
        return path.join(storageDir, 'docker/registry/v2/blobs', algorithm!, hex!.slice(0, 2), hex!, 'data');
      },
      stop: async () => {
        await stopProcess(child);
        await stopTokenService();
        await rm(workDir, { recursive: true, force: true });
      },
    };
  } catch (error) {
    await stopTokenService();
    await rm(workDir, { recursive: true, force: true });
    throw error;
  }
}
