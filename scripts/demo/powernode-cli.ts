import { spawn } from 'node:child_process';
import path from 'node:path';
import { REPO_ROOT } from './target.js';

const CLI = path.join(REPO_ROOT, 'bin/powernode.mjs');

/** Runs the CLI (no shell) and resolves with its exit code and output. */
export function runPowernode(args: readonly string[], env: NodeJS.ProcessEnv): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [CLI, ...args], { cwd: REPO_ROOT, env, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (c: string) => (stdout += c));
    child.stderr.setEncoding('utf8').on('data', (c: string) => (stderr += c));
    child.once('error', reject);
    child.once('close', (code) => resolve({ code, stdout, stderr }));
  });
}

/** A path under the repository as the tutorial writes it: relative to the repository root. */
export function displayPath(arg: string): string {
  return arg.startsWith(`${REPO_ROOT}/`) ? path.relative(REPO_ROOT, arg) : arg;
}

/** The JSON a command printed, or null when it printed something else. */
export function parseJson(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return null;
  }
}
