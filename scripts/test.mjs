#!/usr/bin/env node
// Runs every project's jest suite (or one: --project NAME) in native ESM mode and ends with the plain
// summary line `N passed, N failed` that CI reads. Exit code is non-zero on any failure.
// Jest runs the sources through swc, but the services, agents and CLI that tests spawn run the compiled
// output, so the build (a no-op when nothing changed) comes first.
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, rmSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const build = spawnSync(process.execPath, [path.join(root, 'scripts/build.mjs'), '--keep-going'], { cwd: root, stdio: 'inherit' });
if (build.status !== 0) {
  console.log('0 passed, 1 failed');
  process.exit(1);
}
const args = process.argv.slice(2);
const jestArgs = [];
for (let i = 0; i < args.length; i++) {
  if (args[i] === '--project') jestArgs.push('--selectProjects', args[++i]);
  else jestArgs.push(args[i]);
}
const results = path.join(root, 'tmp', `jest-results-${process.pid}.json`);
mkdirSync(path.dirname(results), { recursive: true });
rmSync(results, { force: true });
const run = spawnSync(
  process.execPath,
  [path.join(root, 'node_modules/jest/bin/jest.js'), '--config', path.join(root, 'jest.config.cjs'), '--json', '--outputFile', results, '--forceExit', ...jestArgs],
  {
    cwd: root,
    stdio: 'inherit',
    env: { ...process.env, NODE_OPTIONS: `${process.env.NODE_OPTIONS ?? ''} --experimental-vm-modules --no-warnings=ExperimentalWarning`.trim() },
  },
);
let passed = 0;
let failed = 0;
let skipped = 0;
if (existsSync(results)) {
  const r = JSON.parse(readFileSync(results, 'utf8'));
  passed = r.numPassedTests;
  failed = r.numFailedTests + (r.numRuntimeErrorTestSuites ?? 0);
  skipped = r.numPendingTests + r.numTodoTests;
} else {
  failed = 1;
}
console.log(`${passed} passed, ${failed} failed${skipped ? `, ${skipped} skipped` : ''}`);
rmSync(results, { force: true });
process.exit(run.status === 0 && failed === 0 ? 0 : 1);
