import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

/** The repository root, where `node bin/powernode.mjs` runs from. */
export const REPO_ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../..');
/** Fixtures of the CLI tests. */
export const FIXTURES = path.join(path.dirname(fileURLToPath(import.meta.url)), 'fixtures');

/** What a CLI run left behind. */
export interface CliResult {
  code: number | null;
  stdout: string;
  stderr: string;
}

// Variables of this machine or a CI job that would change what the CLI does: every test starts clean and
// sets exactly what it means to test.
const SCRUBBED = /^(POWERNODE_|ACTIONS_ID_TOKEN_|SIGSTORE_|GITEA_|GITHUB_|SOURCE_DATE_EPOCH$|NODE_OPTIONS$)/;

/**
 * Runs `node bin/powernode.mjs <args>` from the repository root (or `cwd`) as a child process, without a
 * shell, and collects its output. Asynchronous, so servers in the test process keep answering meanwhile.
 */
export async function runCli(args: readonly string[], options: { cwd?: string; env?: Record<string, string | undefined> } = {}): Promise<CliResult> {
  const env: Record<string, string> = {};
  for (const [key, value] of Object.entries(process.env)) if (value !== undefined && !SCRUBBED.test(key)) env[key] = value;
  for (const [key, value] of Object.entries(options.env ?? {})) {
    if (value === undefined) delete env[key];
    else env[key] = value;
  }
  const child = spawn(process.execPath, [path.join(REPO_ROOT, 'bin/powernode.mjs'), ...args], {
    cwd: options.cwd ?? REPO_ROOT,
    env,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stdout = '';
  let stderr = '';
  child.stdout.setEncoding('utf8').on('data', (chunk: string) => (stdout += chunk));
  child.stderr.setEncoding('utf8').on('data', (chunk: string) => (stderr += chunk));
  const code = await new Promise<number | null>((resolve, reject) => {
    child.once('error', reject);
    child.once('close', (exitCode) => resolve(exitCode));
  });
  return { code, stdout, stderr };
}

/** A fresh directory under the system temp dir, and its removal. */
export async function temporaryDirectory(label: string): Promise<{ dir: string; remove: () => Promise<void> }> {
  const dir = await mkdtemp(path.join(tmpdir(), `powernode-cli-${label}-`));
  return { dir, remove: () => rm(dir, { recursive: true, force: true }) };
}

/** A repository path no other test uses. */
export function uniqueRepository(what: string): string {
  return `cli-test/${what}-${randomBytes(4).toString('hex')}`;
}
