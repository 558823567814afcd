#!/usr/bin/env node
// The lint gate `.ci/run` runs: one eslint process over every project's src/ (what each project's lint target
// runs, in a fifth of the time of `nx run-many -t lint`). The module-boundary rule reads Nx's cached project
// graph and, without one (a fresh clone), skips itself with a warning: so the graph is computed first, and a
// run in which the rule still skipped fails rather than pass without its most important check.
import { spawnSync } from 'node:child_process';
import { readdirSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const bin = (name) => path.join(root, 'node_modules', '.bin', name);

const graph = spawnSync(bin('nx'), ['show', 'projects'], { cwd: root, encoding: 'utf8', env: { ...process.env, NX_DAEMON: 'false' } });
if (graph.status !== 0) {
  process.stderr.write(`lint: cannot compute the Nx project graph the module-boundary rule needs:\n${graph.stderr}`);
  process.exit(1);
}

const sources = ['apps', 'libs'].flatMap((dir) => readdirSync(path.join(root, dir)).map((name) => path.join(dir, name, 'src')));
const lint = spawnSync(bin('eslint'), sources, { cwd: root, encoding: 'utf8' });
process.stdout.write(lint.stdout);
process.stderr.write(lint.stderr);
if (/No cached ProjectGraph/.test(lint.stdout + lint.stderr)) {
  process.stderr.write('lint: @nx/enforce-module-boundaries skipped itself (no project graph): the boundaries were not checked\n');
  process.exit(1);
}
process.exit(lint.status ?? 1);
