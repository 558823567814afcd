#!/usr/bin/env node
// Compiles every app and lib once (`tsc -b tsconfig.build.json`) into its dist/: what the CLI, the services,
// the agent, `npm start`, the processes tests spawn and the container image run. Project references make a
// build with nothing changed take well under a second, so `npm start` and `npm test` run it every time.
//
// --keep-going: type errors are printed but do not fail the command. tsc emits every file even then, and the
// type check has its own gate (`npm run typecheck`), so a type error in one app does not stop tests or the
// dev stack of the others. `npm run build` (and the image) fail on any type error.
import { spawnSync } from 'node:child_process';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const keepGoing = process.argv.includes('--keep-going');
const result = spawnSync(process.execPath, [path.join(root, 'node_modules/typescript/bin/tsc'), '-b', path.join(root, 'tsconfig.build.json')], {
  cwd: root,
  stdio: ['ignore', 'inherit', 'inherit'],
});
if (result.status === 0) process.exit(0);
// 1 and 2 are tsc's "diagnostics present" (in build mode emit happens either way); 3 and 4 (invalid project,
// reference cycle) mean nothing was built.
if ((result.status === 1 || result.status === 2) && keepGoing) {
  process.stderr.write('build: type errors above (npm run typecheck lists them); continuing with the JavaScript tsc emitted\n');
  process.exit(0);
}
process.stderr.write(`build: tsc -b failed${result.error ? `: ${result.error.message}` : ''}\n`);
process.exit(result.status ?? 1);
