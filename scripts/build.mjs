#!/usr/bin/env node
// Compiles every app and lib once (`tsc -b tsconfig.build.json`) into its dist/, and bundles the web UI (Vite,
// apps/web/dist) when its sources changed: what the CLI, the services,
// the agent, `npm start`, the processes tests spawn and the container image run. Project references make a
// build with nothing changed take well under a second, so `npm start` and `npm test` run it every time.
//
// --keep-going: type errors are printed but do not fail the command. tsc emits every file even then, and the
// type check has its own gate (`npm run typecheck`), so a type error in one app does not stop tests or the
// dev stack of the others. `npm run build` (and the image) fail on any type error.
import { spawnSync } from 'node:child_process';
import { existsSync, readdirSync, statSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const keepGoing = process.argv.includes('--keep-going');
const result = spawnSync(process.execPath, [path.join(root, 'node_modules/typescript/bin/tsc'), '-b', path.join(root, 'tsconfig.build.json')], {
  cwd: root,
  stdio: ['ignore', 'inherit', 'inherit'],
});
if (result.status === 0) process.exit(buildWebUi());
// 1 and 2 are tsc's "diagnostics present" (in build mode emit happens either way); 3 and 4 (invalid project,
// reference cycle) mean nothing was built.
if ((result.status === 1 || result.status === 2) && keepGoing) {
  process.stderr.write('build: type errors above (npm run typecheck lists them); continuing with the JavaScript tsc emitted\n');
  process.exit(buildWebUi());
}
process.stderr.write(`build: tsc -b failed${result.error ? `: ${result.error.message}` : ''}\n`);
process.exit(result.status ?? 1);

/** Newest modification time under `entry` (a file or a directory tree), 0 when absent. */
function newestMtime(entry) {
  if (!existsSync(entry)) return 0;
  const stat = statSync(entry);
  if (!stat.isDirectory()) return stat.mtimeMs;
  return readdirSync(entry).reduce((newest, name) => Math.max(newest, newestMtime(path.join(entry, name))), stat.mtimeMs);
}

/**
 * The web UI (apps/web) bundled by Vite into apps/web/dist, which the gateway serves under /app. Skipped when
 * the bundle is newer than everything it is built from, so a build with nothing changed stays instant.
 */
function buildWebUi() {
  const web = path.join(root, 'apps/web');
  const built = newestMtime(path.join(web, 'dist/index.html'));
  const sources = Math.max(
    ...['src', 'index.html', 'vite.config.ts', 'tsconfig.json'].map((p) => newestMtime(path.join(web, p))),
    newestMtime(path.join(root, 'libs/contracts/src')),
    newestMtime(path.join(root, 'package-lock.json')),
  );
  if (built > sources) return 0;
  const vite = spawnSync(process.execPath, [path.join(root, 'node_modules/vite/bin/vite.js'), 'build', '--config', path.join(web, 'vite.config.ts')], {
    cwd: root,
    stdio: ['ignore', 'inherit', 'inherit'],
  });
  if (vite.status === 0) return 0;
  process.stderr.write(`build: the web UI bundle (vite build) failed${vite.error ? `: ${vite.error.message}` : ''}\n`);
  return keepGoing ? 0 : (vite.status ?? 1);
}
