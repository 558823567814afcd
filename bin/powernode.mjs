#!/usr/bin/env node
// Runs the CLI from source through tsx so `npx powernode …` works in a checkout without a build step,
// from any working directory.
import { spawnSync } from 'node:child_process';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const result = spawnSync(process.execPath, ['--import', import.meta.resolve('tsx'), path.join(root, 'apps/cli/src/main.ts'), ...process.argv.slice(2)], {
  stdio: 'inherit',
  env: { ...process.env, TSX_TSCONFIG_PATH: process.env.TSX_TSCONFIG_PATH ?? path.join(root, 'tsconfig.json') },
});
process.exit(result.status ?? 1);
