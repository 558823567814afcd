#!/usr/bin/env node
// The `powernode` command: the compiled CLI (apps/cli/dist), run in this process so that a command costs one
// Node start-up. In a checkout where nothing was built yet (`npm start`, `npm test` and `npm run build` build),
// it builds first.
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

const main = new URL('../apps/cli/dist/main.js', import.meta.url);
if (!existsSync(main)) {
  const build = new URL('../scripts/build.mjs', import.meta.url);
  if (!existsSync(build)) {
    process.stderr.write('powernode: apps/cli/dist/main.js is missing and there is no build script to make it\n');
    process.exit(1);
  }
  process.stderr.write('powernode: building (first run in this checkout)…\n');
  const result = spawnSync(process.execPath, [fileURLToPath(build), '--keep-going'], { stdio: ['ignore', 'inherit', 'inherit'] });
  if (result.status !== 0) process.exit(1);
}
await import(main.href);
