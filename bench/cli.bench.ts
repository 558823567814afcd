// The `powernode` command as a user runs it, whole process included (Node start-up, loading the compiled CLI):
// `powernode --help` against `node -e 0`, the floor of any Node command, and `powernode digest` of a 512 MiB
// file against `fsverity digest`, the kernel project's C tool. Runs alternate between the two sides of each
// pair so that load from elsewhere on the machine falls on both. Targets: --help median under 200 ms;
// digest at least 0.9x as fast as fsverity, on the best run of each as in the fsverity benchmark (the digest
// uses every core, so a busy machine slows it more than the single-threaded tool; the median shows that).
// Needs the build (`npm run bench` builds first).
// Durability: read-only workload; the file sits in the page cache after the warm-up run.
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { writeRandomFile } from './random-file.js';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const CLI = path.join(ROOT, 'bin/powernode.mjs');
const HELP_ROUNDS = 21;
const HELP_TARGET_MS = 200;
const DIGEST_SIZE = 512 * 1024 * 1024;
const DIGEST_ROUNDS = 7;
const DIGEST_TARGET_RATIO = 0.9;

/** Wall time of one run in ms, and its stdout; a failed run ends the benchmark. */
function timed(program: string, args: string[]): { ms: number; stdout: string } {
  const started = process.hrtime.bigint();
  const run = spawnSync(program, args, { encoding: 'utf8', maxBuffer: 16 * 1024 * 1024 });
  const ms = Number(process.hrtime.bigint() - started) / 1e6;
  if (run.status !== 0) throw new Error(`${program} ${args.join(' ')} exited ${run.status ?? run.signal}: ${run.error?.message ?? run.stderr}`);
  return { ms, stdout: run.stdout };
}

const median = (values: number[]): number => {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = sorted.length >> 1;
  return sorted.length % 2 === 1 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
};

/** Runs `a` and `b` alternately `rounds` times (after one warm-up each); the ms of every run of each. */
function alternate(rounds: number, a: () => number, b: () => number): { a: number[]; b: number[] } {
  a();
  b();
  const as: number[] = [];
  const bs: number[] = [];
  for (let round = 0; round < rounds; round++) {
    as.push(a());
    bs.push(b());
  }
  return { a: as, b: bs };
}

export async function benchCli(report: (line: string) => void): Promise<void> {
  if (!existsSync(path.join(ROOT, 'apps/cli/dist/main.js'))) throw new Error('apps/cli/dist/main.js is missing: run npm run build first');

  const helpRuns = alternate(
    HELP_ROUNDS,
    () => timed(process.execPath, [CLI, '--help']).ms,
    () => timed(process.execPath, ['-e', '0']).ms,
  );
  const help = { a: median(helpRuns.a), b: median(helpRuns.b) };
  report(
    `powernode --help (median of ${HELP_ROUNDS}): ${help.a.toFixed(0)} ms; node -e 0: ${help.b.toFixed(0)} ms; ratio ${(help.a / help.b).toFixed(2)}x the bare start-up`,
  );
  report(`powernode --help target < ${HELP_TARGET_MS} ms: ${help.a < HELP_TARGET_MS ? 'OK' : 'ABOVE TARGET'}`);

  if (spawnSync('fsverity', ['--version']).error !== undefined) {
    report('powernode digest vs fsverity digest: skipped, the fsverity CLI is missing (apt-get install fsverity)');
    return;
  }
  const dir = await mkdtemp(path.join(tmpdir(), 'powernode-cli-bench-'));
  try {
    const file = path.join(dir, 'data.bin');
    await writeRandomFile(file, DIGEST_SIZE);
    let expected = '';
    const runs = alternate(
      DIGEST_ROUNDS,
      () => {
        const run = timed(process.execPath, [CLI, 'digest', file]);
        if (expected !== '' && run.stdout !== expected) throw new Error(`powernode digest printed ${run.stdout}, fsverity ${expected}`);
        return run.ms;
      },
      () => {
        const run = timed('fsverity', ['digest', file]);
        expected = run.stdout;
        return run.ms;
      },
    );
    const best = { ours: Math.min(...runs.a), cli: Math.min(...runs.b) };
    const typical = { ours: median(runs.a), cli: median(runs.b) };
    const ratio = best.cli / best.ours;
    report(
      `powernode digest 512 MiB (page cache, whole process, ${DIGEST_ROUNDS} runs): best ${best.ours.toFixed(0)} ms, median ${typical.ours.toFixed(0)} ms`,
    );
    report(`fsverity digest 512 MiB (page cache, ${DIGEST_ROUNDS} runs): best ${best.cli.toFixed(0)} ms, median ${typical.cli.toFixed(0)} ms`);
    report(
      `powernode digest speed ratio to fsverity digest: best ${ratio.toFixed(2)} (target >= ${DIGEST_TARGET_RATIO}) ${ratio >= DIGEST_TARGET_RATIO ? 'OK' : 'BELOW TARGET'}; median ${(typical.cli / typical.ours).toFixed(2)}`,
    );
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(path.resolve(process.argv[1])).href) {
  await benchCli((line) => console.log(line));
}
