import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import { chmod, cp, mkdir, mkdtemp, readdir, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';

export const execFileAsync = promisify(execFile);

/** The example modules of the reference platform (next to the repository checkout); every one must build. */
export const EXAMPLE_MODULES_DIR =
  process.env['POWERNODE_EXAMPLE_MODULES_DIR'] ?? fileURLToPath(new URL('../../../../shared/reference/powernode-example-modules', import.meta.url));

/** Example modules copied into this project's fixtures, for tests that need only these (see the README there). */
export const VENDORED_MODULES_DIR = fileURLToPath(new URL('../test/fixtures/reference-modules', import.meta.url));

/**
 * Why a test over every example module is skipped, or undefined when it runs: a clone without the shared folder
 * beside it skips with this reason; in CI (the CI variable set) it always runs, so a missing folder fails there.
 */
export function exampleModulesSkipReason(env: NodeJS.ProcessEnv = process.env): string | undefined {
  if (existsSync(EXAMPLE_MODULES_DIR) || (env['CI'] ?? '') !== '') return undefined;
  return `the reference example modules are not checked out at ${EXAMPLE_MODULES_DIR}: clone the shared folder beside the repository (<repo>/../shared) or set POWERNODE_EXAMPLE_MODULES_DIR; CI never skips this`;
}

/** Names of the example module directories (those holding a manifest.yaml). */
export async function exampleModuleNames(): Promise<string[]> {
  if (!existsSync(EXAMPLE_MODULES_DIR)) {
    throw new Error(
      `the reference example modules are missing: ${EXAMPLE_MODULES_DIR} does not exist; check out the shared folder beside the repository (<repo>/../shared) or set POWERNODE_EXAMPLE_MODULES_DIR`,
    );
  }
  const children = await readdir(EXAMPLE_MODULES_DIR, { withFileTypes: true });
  return children
    .filter((child) => child.isDirectory())
    .map((child) => child.name)
    .sort();
}

/** A fresh directory under the OS temp dir, unique to this test. */
export async function freshDir(label: string): Promise<string> {
  return mkdtemp(path.join(tmpdir(), `powernode-artifact-${label}-${randomBytes(3).toString('hex')}-`));
}

/** The tutorial's my-redis manifest (step 2), verbatim. */
export const MY_REDIS_MANIFEST = `schema_version: 1
name: my-redis
display_name: "Redis 7.4"
description: "Redis 7.4 with TLS + persistence"
license: "BSD-3-Clause"
package_spec:
  - redis-server
  - redis-tools
file_spec:
  - "/etc/redis/**"
  - "/var/lib/redis/.gitkeep"
mask:
  - "/etc/redis/sentinel.conf"
protected_spec:
  - "/etc/redis/redis.conf"
dependencies:
  requires:
    - "powernode/powernode-base-ruby@^1.0"
    - "powernode/security-hardening@^1.0"
  provides: []
init:
  start: "systemctl start redis-server"
  stop:  "systemctl stop redis-server"
  restart: "systemctl restart redis-server"
reboot_required: false
build:
  ubuntu_digest: null
  apt_snapshot: null
`;

/** The tutorial's redis.conf (step 3). */
export const REDIS_CONF = `bind 0.0.0.0 ::
port 6379
protected-mode yes
tls-port 6380
tls-cert-file /etc/redis/tls/server.crt
tls-key-file  /etc/redis/tls/server.key
tls-ca-cert-file /etc/redis/tls/ca.crt
appendonly yes
dir /var/lib/redis
`;

/** Writes the tutorial's my-redis module (plus a masked sentinel.conf) into `dir` and returns `dir`. */
export async function writeMyRedisModule(dir: string): Promise<string> {
  await mkdir(path.join(dir, 'rootfs/etc/redis'), { recursive: true });
  await mkdir(path.join(dir, 'rootfs/var/lib/redis'), { recursive: true });
  await writeFile(path.join(dir, 'manifest.yaml'), MY_REDIS_MANIFEST);
  await writeFile(path.join(dir, 'rootfs/etc/redis/redis.conf'), REDIS_CONF);
  await writeFile(path.join(dir, 'rootfs/etc/redis/sentinel.conf'), 'sentinel monitor mymaster 127.0.0.1 6379 2\n');
  await writeFile(path.join(dir, 'rootfs/var/lib/redis/.gitkeep'), '');
  return dir;
}

/** Copies a module directory, making the copy writable (the reference checkout is read-only). */
export async function copyModule(from: string, to: string): Promise<string> {
  await cp(from, to, { recursive: true });
  await chmod(to, 0o755);
  const fix = async (dir: string): Promise<void> => {
    for (const child of await readdir(dir, { withFileTypes: true })) {
      const full = path.join(dir, child.name);
      if (child.isDirectory()) {
        await chmod(full, 0o755);
        await fix(full);
      } else if (child.isFile()) {
        await chmod(full, 0o644);
      }
    }
  };
  await fix(to);
  return to;
}

/** A tree exercising the tar format's corners: long and non-ASCII names, symlinks, empty and executable files, a multi-chunk file. */
export async function writeTrickyTree(root: string): Promise<void> {
  const longDir = path.join(root, 'a'.repeat(60), 'b'.repeat(60));
  await mkdir(longDir, { recursive: true });
  await writeFile(path.join(longDir, `${'c'.repeat(90)}.conf`), 'long name\n');
  const veryLong = path.join(root, 'd'.repeat(200));
  await mkdir(veryLong, { recursive: true });
  await writeFile(path.join(veryLong, 'e'.repeat(200)), 'very long name\n');
  await mkdir(path.join(root, 'usr/bin'), { recursive: true });
  await writeFile(path.join(root, 'usr/bin/tool'), '#!/bin/sh\necho hi\n');
  await chmod(path.join(root, 'usr/bin/tool'), 0o750);
  await writeFile(path.join(root, 'usr/bin/empty'), '');
  await mkdir(path.join(root, 'etc/ünïcødé dir'), { recursive: true });
  await writeFile(path.join(root, 'etc/ünïcødé dir/naïve file.txt'), 'unicode ✓\n');
  await writeFile(path.join(root, 'etc/-'), 'a file named dash\n');
  await writeFile(path.join(root, 'etc/back\\slash'), 'backslash\n');
  await symlink('../usr/bin/tool', path.join(root, 'etc/tool-link'));
  await symlink(`/${'t'.repeat(150)}/target`, path.join(root, 'etc/long-link'));
  await mkdir(path.join(root, 'var/empty'), { recursive: true });
  // 2.5 MiB of varied bytes: several read chunks, a partial last tar block, several fs-verity tree levels' worth of blocks.
  const big = Buffer.alloc(2.5 * 1024 * 1024 + 123);
  for (let i = 0; i < big.length; i++) big[i] = (i * 31 + (i >> 12)) & 0xff;
  await writeFile(path.join(root, 'var/big.bin'), big);
}
