#!/usr/bin/env node
// `npm run fuzz [-- --minutes N]`: the property tests (every unit-tier spec that uses fast-check: globs, tar
// extraction and composition, manifest YAML, webhook signatures, Sigstore bundles, trust patterns) run again
// and again for N minutes (default 10). fast-check draws a new seed on every run, so each round explores new
// cases; a failure prints its seed and counterexample path (replay with fc.assert's `seed`/`path`) and stops.
// CI runs each of them once, within `npm test`.
import { spawnSync } from 'node:child_process';
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const args = process.argv.slice(2);
const minutesAt = args.indexOf('--minutes');
const minutes = minutesAt >= 0 ? Number(args[minutesAt + 1]) : 10;
if (!Number.isFinite(minutes) || minutes <= 0) {
  console.error('--minutes: a positive number of minutes to fuzz for');
  process.exit(2);
}

const { integration, e2e } = createRequire(import.meta.url)('../test-tiers.cjs');
const slowTiers = new Set([...integration, ...e2e]);

function specs(dir) {
  const out = [];
  for (const name of readdirSync(dir)) {
    if (name === 'node_modules' || name === 'dist' || name.startsWith('.')) continue;
    const full = path.join(dir, name);
    if (statSync(full).isDirectory()) out.push(...specs(full));
    else if (name.endsWith('.spec.ts') && readFileSync(full, 'utf8').includes("from 'fast-check'")) out.push(path.relative(root, full));
  }
  return out;
}

const files = [...specs(path.join(root, 'apps')), ...specs(path.join(root, 'libs'))].filter((file) => !slowTiers.has(file)).sort();
console.log(`fuzzing for ${minutes} min: ${files.join(', ')}`);
const deadline = Date.now() + minutes * 60_000;
for (let round = 1; Date.now() < deadline; round++) {
  const started = Date.now();
  const run = spawnSync(
    process.execPath,
    [path.join(root, 'node_modules/jest/bin/jest.js'), '--config', path.join(root, 'jest.config.cjs'), '--runTestsByPath', ...files],
    {
      cwd: root,
      stdio: ['ignore', 'inherit', 'inherit'],
      env: { ...process.env, NODE_OPTIONS: `${process.env.NODE_OPTIONS ?? ''} --experimental-vm-modules`.trim() },
    },
  );
  if (run.status !== 0) {
    console.log(`round ${round} failed: the counterexample and its seed are above`);
    process.exit(1);
  }
  console.log(`round ${round} passed in ${((Date.now() - started) / 1000).toFixed(1)} s`);
}
console.log('fuzzing found nothing');
