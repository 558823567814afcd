import { spawn } from 'node:child_process';
import { timingSafeEqual } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import { constants as osConstants } from 'node:os';

/*
 * The exec channel of a QEMU machine, inside it: `powernode-exec.service` (written by the initramfs) runs this
 * file with the host's Node.js. The host reaches it through QEMU's user-mode network (a hostfwd from a port
 * on the host's loopback to GUEST_EXEC_PORT), so only the VM's own keeper and provisioner get here; every
 * request must carry the token the keeper left in the link (exec.token), which other users of the host's
 * loopback cannot read.
 *
 * POST /exec {argv, timeout_ms} → 200, newline-delimited JSON frames as the command writes:
 *   {"stream":"stdout"|"stderr","data":"<base64>"} … then {"exit_code":n,"timed_out":bool}
 * The command runs as argv (no shell) under root with a minimal environment; it is killed at its timeout and
 * when the host goes away (the connection closes before the command ended).
 *
 * Kept free of imports from the rest of the agent: it starts in the VM on every boot, under TCG, where every
 * module loaded costs time.
 */

const PORT = Number(process.env['POWERNODE_EXEC_PORT'] ?? 7070);
const TOKEN_FILE = process.env['POWERNODE_EXEC_TOKEN_FILE'] ?? '/run/powernode/exec.token';
const EXEC_PATH = '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin';
const MAX_BODY = 256 * 1024;
const TIMEOUT_EXIT_CODE = 124;

async function authorised(request: IncomingMessage): Promise<boolean> {
  const expected = (await readFile(TOKEN_FILE, 'utf8').catch(() => '')).trim();
  const given = (request.headers.authorization ?? '').replace(/^Bearer /, '');
  if (expected === '' || given.length !== expected.length) return false;
  return timingSafeEqual(Buffer.from(given), Buffer.from(expected));
}

async function body(request: IncomingMessage): Promise<{ argv: string[]; timeout_ms: number } | null> {
  let size = 0;
  const chunks: Buffer[] = [];
  for await (const chunk of request) {
    size += (chunk as Buffer).length;
    if (size > MAX_BODY) return null;
    chunks.push(chunk as Buffer);
  }
  try {
    const parsed = JSON.parse(Buffer.concat(chunks).toString('utf8')) as { argv?: unknown; timeout_ms?: unknown };
    if (!Array.isArray(parsed.argv) || parsed.argv.length === 0 || !parsed.argv.every((a) => typeof a === 'string')) return null;
    const timeout = typeof parsed.timeout_ms === 'number' && parsed.timeout_ms > 0 ? parsed.timeout_ms : 30_000;
    return { argv: parsed.argv as string[], timeout_ms: timeout };
  } catch {
    return null;
  }
}

function run(request: { argv: string[]; timeout_ms: number }, response: ServerResponse): void {
  const [program, ...args] = request.argv as [string, ...string[]];
  const frame = (value: unknown): void => void response.write(`${JSON.stringify(value)}\n`);
  response.writeHead(200, { 'content-type': 'application/x-ndjson' });
  const child = spawn(program, args, {
    cwd: '/',
    stdio: ['ignore', 'pipe', 'pipe'],
    env: { PATH: EXEC_PATH, HOME: '/root', LANG: 'C.UTF-8' },
    detached: true,
  });
  let timedOut = false;
  let ended = false;
  const killAll = (): void => {
    try {
      process.kill(-child.pid!, 'SIGKILL');
    } catch {
      child.kill('SIGKILL');
    }
  };
  const timer = setTimeout(() => {
    timedOut = true;
    killAll();
  }, request.timeout_ms);
  response.once('close', () => {
    if (!ended) killAll();
  });
  child.stdout.on('data', (chunk: Buffer) => frame({ stream: 'stdout', data: chunk.toString('base64') }));
  child.stderr.on('data', (chunk: Buffer) => frame({ stream: 'stderr', data: chunk.toString('base64') }));
  child.once('error', (error) => {
    ended = true;
    clearTimeout(timer);
    frame({ stream: 'stderr', data: Buffer.from(`${program}: ${error.message}\n`).toString('base64') });
    frame({ exit_code: (error as NodeJS.ErrnoException).code === 'ENOENT' ? 127 : 126, timed_out: false });
    response.end();
  });
  child.once('close', (code, signal) => {
    ended = true;
    clearTimeout(timer);
    const exitCode = timedOut ? TIMEOUT_EXIT_CODE : (code ?? 128 + (signal === null ? 0 : (osConstants.signals[signal] ?? 0)));
    frame({ exit_code: exitCode, timed_out: timedOut });
    response.end();
  });
}

const server = createServer((request, response) => {
  void (async () => {
    if (request.method === 'GET' && request.url === '/health') {
      response.writeHead(200).end('ok\n');
      return;
    }
    if (request.method !== 'POST' || request.url !== '/exec') {
      response.writeHead(404).end();
      return;
    }
    if (!(await authorised(request))) {
      response.writeHead(401).end();
      return;
    }
    const parsed = await body(request);
    if (parsed === null) {
      response.writeHead(400).end();
      return;
    }
    run(parsed, response);
  })().catch(() => {
    if (!response.headersSent) response.writeHead(500);
    response.end();
  });
});
server.listen(PORT, '0.0.0.0');
