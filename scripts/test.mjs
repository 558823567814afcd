#!/usr/bin/env node
// Runs every project's jest suite (or one: --project NAME) in native ESM mode, tier by tier (test-tiers.cjs):
// unit and integration side by side, then e2e, machines and browser one after another; `--tier NAME`
// (repeatable) runs only those. Prints each tier's
// wall time and ends with the plain summary line `N passed, N failed` that CI reads; POWERNODE_TEST_TIMES names
// a file that gets one `tier seconds passed|failed` line per tier. Exit code is non-zero on any failure.
// Jest runs the sources through swc, but the services, agents and CLI that tests spawn run the compiled
// output, so the build (a no-op when nothing changed) comes first.
import { spawn, spawnSync } from 'node:child_process';
import { appendFileSync, existsSync, mkdirSync, readFileSync, rmSync } from 'node:fs';
import { createRequire } from 'node:module';
import { createInterface } from 'node:readline';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const build = spawnSync(process.execPath, [path.join(root, 'scripts/build.mjs'), '--keep-going'], { cwd: root, stdio: 'inherit' });
if (build.status !== 0) {
  console.log('0 passed, 1 failed');
  process.exit(1);
}
const {
  TIERS,
  integration: integrationFiles,
  e2e: e2eFiles,
  machines: machineFiles,
  browser: browserFiles,
} = createRequire(import.meta.url)('../test-tiers.cjs');
// A renamed or deleted spec left in the lists would quietly run in the unit tier under its new name.
for (const file of [...integrationFiles, ...e2eFiles, ...machineFiles, ...browserFiles]) {
  if (!file.includes('*') && !existsSync(path.join(root, file))) console.error(`test-tiers.cjs lists ${file}, which does not exist: update the list`);
}

const args = process.argv.slice(2);
const jestArgs = [];
const tiers = [];
for (let i = 0; i < args.length; i++) {
  if (args[i] === '--project') jestArgs.push('--selectProjects', args[++i]);
  else if (args[i] === '--tier') tiers.push(...args[++i].split(','));
  else if (args[i].startsWith('--tier=')) tiers.push(...args[i].slice('--tier='.length).split(','));
  else jestArgs.push(args[i]);
}
for (const tier of tiers) {
  if (!TIERS.includes(tier)) {
    console.error(`unknown test tier "${tier}": ${TIERS.join(', ')}`);
    process.exit(2);
  }
}
const chosen = tiers.length > 0 ? TIERS.filter((t) => tiers.includes(t)) : TIERS;
// Integration tests mostly wait on the processes and servers they start, so several workers share the cores.
// That is safe because no test hands a process a port picked free beforehand, which another worker's socket
// could take first: servers bind port 0 and report the port they got (libs/testing: reportedPort), and where a
// program must be told a fixed port its test starts again on a new one when the bind fails.
const integrationWorkers = process.env.POWERNODE_TEST_WORKERS || '3';
const WORKERS = { unit: process.env.POWERNODE_UNIT_WORKERS || '1', integration: integrationWorkers, e2e: '1', machines: '1', browser: '1' };
const optionArgs = jestArgs.includes('--') ? jestArgs.slice(0, jestArgs.indexOf('--')) : jestArgs;
const userSetsWorkers = optionArgs.some((a) => /^(--maxWorkers|-w|--runInBand|-i)(=|$)/.test(a));
// The tiers that run at the same time: unit needs one core's worth, integration mostly waits; each heavy tier
// (e2e, machines, browser) gets the machine to itself afterwards, so each prints a time of its own.
const SIDE_BY_SIDE = ['unit', 'integration'];
const waves = [chosen.filter((t) => SIDE_BY_SIDE.includes(t)), ...chosen.filter((t) => !SIDE_BY_SIDE.includes(t)).map((t) => [t])].filter((w) => w.length > 0);
const width = Math.max(...chosen.map((t) => t.length));

/** Runs one tier as its own jest process; its output is prefixed with the tier's name when others run beside it. */
function runTier(tier, prefixed) {
  const results = path.join(root, 'tmp', `jest-results-${process.pid}-${tier}.json`);
  mkdirSync(path.dirname(results), { recursive: true });
  rmSync(results, { force: true });
  const started = Date.now();
  const child = spawn(
    process.execPath,
    [
      path.join(root, 'node_modules/jest/bin/jest.js'),
      '--config',
      path.join(root, 'jest.config.cjs'),
      '--json',
      '--outputFile',
      results,
      '--forceExit',
      // A --project or a path filter may leave a tier without a test of its own; that is no failure.
      '--passWithNoTests',
      ...(userSetsWorkers ? [] : [`--maxWorkers=${WORKERS[tier]}`]),
      ...jestArgs,
    ],
    {
      cwd: root,
      stdio: prefixed ? ['ignore', 'pipe', 'pipe'] : 'inherit',
      env: {
        ...process.env,
        POWERNODE_TEST_TIER: tier,
        NODE_OPTIONS: `${process.env.NODE_OPTIONS ?? ''} --experimental-vm-modules --no-warnings=ExperimentalWarning`.trim(),
      },
    },
  );
  if (prefixed) {
    const label = `${tier.padEnd(width)} | `;
    createInterface({ input: child.stdout }).on('line', (line) => process.stdout.write(`${label}${line}\n`));
    createInterface({ input: child.stderr }).on('line', (line) => process.stderr.write(`${label}${line}\n`));
  }
  return new Promise((resolve) => {
    child.once('close', (code) => {
      const outcome = { tier, seconds: (Date.now() - started) / 1000, passed: 0, failed: 0, skipped: 0, code };
      if (existsSync(results)) {
        const r = JSON.parse(readFileSync(results, 'utf8'));
        outcome.passed = r.numPassedTests;
        outcome.failed = r.numFailedTests + (r.numRuntimeErrorTestSuites ?? 0);
        outcome.skipped = r.numPendingTests + r.numTodoTests;
      } else {
        outcome.failed = 1;
      }
      rmSync(results, { force: true });
      const line = `${outcome.passed} passed, ${outcome.failed} failed${outcome.skipped ? `, ${outcome.skipped} skipped` : ''}`;
      console.log(`== tier ${tier}: ${outcome.code === 0 && outcome.failed === 0 ? 'passed' : 'failed'} in ${outcome.seconds.toFixed(1)}s (${line})`);
      resolve(outcome);
    });
  });
}

const outcomes = [];
for (const wave of waves) outcomes.push(...(await Promise.all(wave.map((tier) => runTier(tier, wave.length > 1)))));

const ok = (o) => o.code === 0 && o.failed === 0;
if (outcomes.length > 1) {
  console.log('\n== wall time per test tier');
  for (const o of outcomes)
    console.log(`  ${o.tier.padEnd(12)} ${o.seconds.toFixed(1).padStart(8)}s  ${ok(o) ? 'passed' : 'failed'}  ${o.passed} passed, ${o.failed} failed`);
}
if (process.env.POWERNODE_TEST_TIMES) {
  for (const o of outcomes) appendFileSync(process.env.POWERNODE_TEST_TIMES, `${o.tier} ${o.seconds.toFixed(1)} ${ok(o) ? 'passed' : 'failed'}\n`);
}
const sum = (key) => outcomes.reduce((n, o) => n + o[key], 0);
const skipped = sum('skipped');
console.log(`${sum('passed')} passed, ${sum('failed')} failed${skipped ? `, ${skipped} skipped` : ''}`);
process.exit(outcomes.every(ok) ? 0 : 1);
