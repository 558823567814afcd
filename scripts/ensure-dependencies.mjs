#!/usr/bin/env node
// Runs before `npm start` and `npm test`: installs the locked dependencies when node_modules is missing or
// older than package-lock.json, so both commands work on a fresh clone.
//
// better-sqlite3 has no prebuilt binary this machine can download (its install script asks GitHub), so npm
// compiles SQLite from source, which takes over a minute on two cores. The compiled addon depends only on the
// package's version and Node's ABI, so it is kept in a cache outside the checkout
// (`$POWERNODE_NATIVE_CACHE`, default `~/.cache/powernode/native`) and reused by the next install on this
// machine; a cache entry that does not load is ignored and compiled again.
import { spawnSync } from 'node:child_process';
import { copyFileSync, existsSync, mkdirSync, readFileSync, renameSync, statSync } from 'node:fs';
import { homedir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const lock = path.join(root, 'package-lock.json');
const installed = path.join(root, 'node_modules', '.package-lock.json');
const npm = process.platform === 'win32' ? 'npm.cmd' : 'npm';

function run(args) {
  const result = spawnSync(npm, args, { cwd: root, stdio: 'inherit' });
  if (result.status !== 0) process.exit(result.status ?? 1);
}

/** The packages whose install scripts must run: every one the lock marks, better-sqlite3 handled apart. */
function packagesWithInstallScripts() {
  const packages = JSON.parse(readFileSync(lock, 'utf8')).packages ?? {};
  return Object.entries(packages)
    .filter(([, entry]) => entry.hasInstallScript && !entry.optional)
    .map(([location]) => location)
    .filter((location) => location.startsWith('node_modules/') && existsSync(path.join(root, location)));
}

/** True when the installed better-sqlite3 opens a database with the addon in its build directory. */
function sqliteLoads() {
  const probe = spawnSync(process.execPath, ['-e', "new (require('better-sqlite3'))(':memory:').close()"], { cwd: root, stdio: 'ignore' });
  return probe.status === 0;
}

function installBetterSqlite(locations) {
  const location = locations.find((l) => l === 'node_modules/better-sqlite3');
  if (location === undefined) return;
  const version = JSON.parse(readFileSync(path.join(root, location, 'package.json'), 'utf8')).version;
  const cacheDir = process.env.POWERNODE_NATIVE_CACHE || path.join(process.env.XDG_CACHE_HOME || path.join(homedir(), '.cache'), 'powernode', 'native');
  const cached = path.join(cacheDir, `better-sqlite3-${version}-node-abi${process.versions.modules}-${process.platform}-${process.arch}.node`);
  const addon = path.join(root, location, 'build', 'Release', 'better_sqlite3.node');
  if (existsSync(cached)) {
    mkdirSync(path.dirname(addon), { recursive: true });
    copyFileSync(cached, addon);
    if (sqliteLoads()) {
      process.stderr.write(`better-sqlite3 ${version}: compiled addon reused from ${cached}\n`);
      return;
    }
    process.stderr.write(`better-sqlite3 ${version}: the cached addon ${cached} does not load; compiling it again\n`);
  }
  run(['rebuild', 'better-sqlite3']);
  try {
    mkdirSync(cacheDir, { recursive: true });
    // Written whole or not at all: another install may read the cache at the same time.
    const temp = `${cached}.${process.pid}.tmp`;
    copyFileSync(addon, temp);
    renameSync(temp, cached);
  } catch (error) {
    process.stderr.write(`better-sqlite3: could not keep the compiled addon in ${cacheDir} (${error.message}); the next install compiles it again\n`);
  }
}

if (!existsSync(installed) || statSync(installed).mtimeMs < statSync(lock).mtimeMs) {
  process.stderr.write('installing dependencies (npm ci)…\n');
  run(['ci', '--no-audit', '--no-fund', '--ignore-scripts']);
  const locations = packagesWithInstallScripts();
  const others = locations.filter((l) => l !== 'node_modules/better-sqlite3');
  // `npm rebuild <name>` runs the scripts of every installed copy of that package (a nested one included).
  const names = [...new Set(others.map((l) => l.slice(l.lastIndexOf('node_modules/') + 'node_modules/'.length)))];
  if (names.length > 0) run(['rebuild', ...names]);
  installBetterSqlite(locations);
}
