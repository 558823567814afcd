import { createHash, randomBytes } from 'node:crypto';
import { chmod, copyFile, mkdir, readdir, readFile, rename, rm, stat, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { PowernodeError } from '@powernode/contracts';
import { pathExists, runHostCommand } from './host-commands.js';
import { guestInitScript } from './qemu-guest-init.js';

/*
 * What a QEMU machine boots before its root: a Debian kernel and a small initramfs, both kept in the host's
 * cache and shared by every VM.
 *
 * The kernel is a Debian linux-image package fetched with `apt-get download` (never installed on the host).
 * bookworm's 6.1 has fs-verity but its overlayfs knows neither data-only lower layers nor `verity=require`,
 * so the kernel comes from bookworm-backports (6.12), read through an apt state of its own so the host's apt
 * configuration is left alone. The package is unpacked with `dpkg -x` into `<cache>/qemu/kernel/<package>/`.
 *
 * The initramfs is busybox-static plus the modules the init needs (virtio block and net, 9p, erofs, ext4,
 * overlay), decompressed at build time so busybox's insmod loads them, and the init (qemu-guest-init.ts).
 * It is packed reproducibly (`cpio --reproducible`, fixed mtimes) and named by the hash of what went in.
 */

/** What the init needs, in load order after dependencies (computed with modprobe --show-depends). */
const GUEST_MODULES = ['virtio_blk', 'virtio_net', 'virtio_balloon', 'erofs', 'overlay', 'ext4', '9p', '9pnet_virtio'];
/** Debian's metapackage whose dependency names the kernel image. */
const KERNEL_METAPACKAGE = 'linux-image-amd64';
const KERNEL_SUITE = 'bookworm-backports';
const SOURCES_FILE = '/etc/apt/sources.list.d/debian.sources';
const FALLBACK_MIRROR = 'http://deb.debian.org/debian';
const BUSYBOX = '/bin/busybox';

/** A kernel ready to boot: the image and its unpacked modules. */
export interface GuestKernel {
  /** The linux-image package it came from, e.g. linux-image-6.12.95+deb12-amd64. */
  package: string;
  release: string;
  vmlinuz: string;
  modulesDir: string;
}

/** The kernel and initramfs one boot uses. */
export interface GuestBootAssets {
  kernel: GuestKernel;
  initramfs: string;
}

function qemuCache(cacheDir: string): string {
  return path.join(cacheDir, 'qemu');
}

function assetFailed(message: string, rule: string, details: Record<string, unknown> = {}): PowernodeError {
  return new PowernodeError('machine_failed', message, { retryable: true, details: { rule, ...details } });
}

/** The mirror the host's apt uses (its deb822 source), so guests come from the same archive as the host. */
async function hostMirror(): Promise<string> {
  const text = await readFile(SOURCES_FILE, 'utf8').catch(() => '');
  return /^URIs:\s*(\S+)/m.exec(text)?.[1] ?? FALLBACK_MIRROR;
}

/** apt options that read and write a state of their own under `dir`, pointing at `suite` of the host's mirror. */
async function privateApt(dir: string, suite: string): Promise<string[]> {
  const lists = path.join(dir, 'lists');
  await mkdir(path.join(lists, 'partial'), { recursive: true });
  const sourceList = path.join(dir, 'sources.list');
  await writeFile(sourceList, `deb ${await hostMirror()} ${suite} main\n`);
  return [
    '-o',
    `Dir::State::Lists=${lists}`,
    '-o',
    `Dir::Etc::SourceList=${sourceList}`,
    '-o',
    'Dir::Etc::SourceParts=/dev/null',
    '-o',
    `Dir::Cache=${path.join(dir, 'cache')}`,
    '-o',
    'APT::Sandbox::User=root',
  ];
}

async function onlyEntry(dir: string, pattern: RegExp): Promise<string | null> {
  const entries = await readdir(dir).catch(() => [] as string[]);
  return entries.find((entry) => pattern.test(entry)) ?? null;
}

async function kernelIn(dir: string, packageName: string): Promise<GuestKernel | null> {
  const vmlinuz = await onlyEntry(path.join(dir, 'boot'), /^vmlinuz-/);
  if (vmlinuz === null) return null;
  const release = vmlinuz.slice('vmlinuz-'.length);
  return { package: packageName, release, vmlinuz: path.join(dir, 'boot', vmlinuz), modulesDir: path.join(dir, 'lib', 'modules', release) };
}

/**
 * The guest kernel, downloaded and unpacked on first use. `POWERNODE_QEMU_KERNEL_PACKAGE` names another
 * linux-image package (of the same suite); a kernel already unpacked is used without asking apt.
 */
export async function ensureGuestKernel(cacheDir: string, wantedPackage?: string): Promise<GuestKernel> {
  const kernelsDir = path.join(qemuCache(cacheDir), 'kernel');
  await mkdir(kernelsDir, { recursive: true, mode: 0o755 });
  const cached = wantedPackage ?? (await onlyEntry(kernelsDir, /^linux-image-[^.][^/]*$/));
  if (cached !== null) {
    const found = await kernelIn(path.join(kernelsDir, cached), cached);
    if (found !== null) return found;
  }
  const aptDir = path.join(qemuCache(cacheDir), 'apt');
  const apt = await privateApt(aptDir, KERNEL_SUITE);
  const updated = await runHostCommand(['apt-get', ...apt, 'update'], 300_000);
  if (updated.code !== 0) throw assetFailed(`apt-get update of ${KERNEL_SUITE} failed: ${updated.stderr.trim()}`, 'guest_kernel_download');
  let packageName = wantedPackage;
  if (packageName === undefined) {
    const depends = await runHostCommand(['apt-cache', ...apt, 'depends', KERNEL_METAPACKAGE], 60_000);
    packageName = /Depends:\s*(linux-image-\S+)/.exec(depends.stdout)?.[1];
    if (packageName === undefined)
      throw assetFailed(`${KERNEL_METAPACKAGE} of ${KERNEL_SUITE} names no kernel image: ${depends.stderr.trim()}`, 'guest_kernel_download');
  }
  const downloads = path.join(aptDir, 'downloads');
  await rm(downloads, { recursive: true, force: true });
  await mkdir(downloads, { recursive: true });
  const fetched = await runHostCommand(['sh', '-c', `cd "$1" && shift && exec "$@"`, 'sh', downloads, 'apt-get', ...apt, 'download', packageName], 600_000);
  const deb = await onlyEntry(downloads, /\.deb$/);
  if (fetched.code !== 0 || deb === null) throw assetFailed(`apt-get download ${packageName} failed: ${fetched.stderr.trim()}`, 'guest_kernel_download');
  const staging = path.join(kernelsDir, `.${packageName}.${randomBytes(4).toString('hex')}`);
  const unpacked = await runHostCommand(['dpkg-deb', '-x', path.join(downloads, deb), staging], 300_000);
  if (unpacked.code !== 0) throw assetFailed(`cannot unpack ${deb}: ${unpacked.stderr.trim()}`, 'guest_kernel_unpack');
  await rm(path.join(kernelsDir, packageName), { recursive: true, force: true });
  await rename(staging, path.join(kernelsDir, packageName));
  await rm(downloads, { recursive: true, force: true });
  const kernel = await kernelIn(path.join(kernelsDir, packageName), packageName);
  if (kernel === null) throw assetFailed(`${packageName} holds no /boot/vmlinuz-*`, 'guest_kernel_unpack');
  return kernel;
}

/** The module files to load, dependencies first, as paths relative to the kernel's modules directory. */
async function moduleLoadOrder(kernel: GuestKernel): Promise<string[]> {
  const base = path.dirname(path.dirname(path.dirname(kernel.modulesDir)));
  if (!(await pathExists(path.join(kernel.modulesDir, 'modules.dep.bin')))) {
    const depmod = await runHostCommand(['depmod', '-b', base, kernel.release], 120_000);
    if (depmod.code !== 0) throw assetFailed(`depmod failed: ${depmod.stderr.trim()}; install kmod`, 'guest_initramfs');
  }
  const order: string[] = [];
  for (const name of GUEST_MODULES) {
    const shown = await runHostCommand(['modprobe', '-d', base, '-S', kernel.release, '--show-depends', name], 30_000);
    if (shown.code !== 0) throw assetFailed(`the guest kernel has no module ${name}: ${shown.stderr.trim()}`, 'guest_initramfs', { module: name });
    for (const line of shown.stdout.split('\n')) {
      const file = /^insmod (\S+)/.exec(line.trim())?.[1];
      if (file === undefined) continue;
      const relative = path.relative(kernel.modulesDir, file);
      if (!order.includes(relative)) order.push(relative);
    }
  }
  return order;
}

/** The initramfs for `kernel`, built on first use and cached by the hash of its inputs. */
export async function ensureInitramfs(cacheDir: string, kernel: GuestKernel): Promise<string> {
  const init = guestInitScript();
  const modules = await moduleLoadOrder(kernel);
  const busybox = await readFile(BUSYBOX).catch(() => null);
  if (busybox === null) throw assetFailed(`${BUSYBOX} is missing: install busybox-static`, 'guest_initramfs');
  const key = createHash('sha256')
    .update(JSON.stringify({ kernel: kernel.package, modules, init, verity: VERITY_ENABLE_SOURCE }))
    .update(busybox)
    .digest('hex')
    .slice(0, 32);
  const target = path.join(qemuCache(cacheDir), `initramfs-${key}.img`);
  if (await pathExists(target)) return target;
  const tree = path.join(qemuCache(cacheDir), `.initramfs-${key}.${randomBytes(4).toString('hex')}`);
  try {
    for (const dir of ['bin', 'dev', 'proc', 'sys', 'newroot', 'lib/modules', 'layers', 'upper', 'mnt']) await mkdir(path.join(tree, dir), { recursive: true });
    await copyFile(BUSYBOX, path.join(tree, 'bin', 'busybox'));
    await chmod(path.join(tree, 'bin', 'busybox'), 0o755);
    const names: string[] = [];
    for (const relative of modules) {
      const name = path.basename(relative).replace(/\.(xz|zst|gz)$/, '');
      const source = path.join(kernel.modulesDir, relative);
      const outcome = relative.endsWith('.xz')
        ? await runHostCommand(['sh', '-c', 'xz -dc "$1" > "$2"', 'sh', source, path.join(tree, 'lib/modules', name)], 60_000)
        : await runHostCommand(['cp', source, path.join(tree, 'lib/modules', name)], 60_000);
      if (outcome.code !== 0) throw assetFailed(`cannot unpack module ${relative}: ${outcome.stderr.trim()}`, 'guest_initramfs');
      names.push(name);
    }
    await writeFile(path.join(tree, 'modules.order'), `${names.join('\n')}\n`);
    await writeFile(path.join(tree, 'verity-enable.c'), VERITY_ENABLE_SOURCE);
    const compiled = await runHostCommand(
      ['gcc', '-static', '-O2', '-o', path.join(tree, 'bin', 'pn-verity-enable'), path.join(tree, 'verity-enable.c')],
      120_000,
    );
    await rm(path.join(tree, 'verity-enable.c'), { force: true });
    if (compiled.code !== 0) throw assetFailed(`cannot build the fs-verity enabler: ${compiled.stderr.trim()}; install gcc and libc6-dev`, 'guest_initramfs');
    await writeFile(path.join(tree, 'init'), init, { mode: 0o755 });
    const partial = `${target}.${randomBytes(4).toString('hex')}`;
    const packed = await runHostCommand(
      [
        'sh',
        '-c',
        'cd "$1" && find . -exec touch -h -d @0 {} + && find . | LC_ALL=C sort | cpio -o -H newc --reproducible --quiet | gzip -9n > "$2"',
        'sh',
        tree,
        partial,
      ],
      120_000,
    );
    if (packed.code !== 0) throw assetFailed(`cannot pack the initramfs: ${packed.stderr.trim()}; install cpio`, 'guest_initramfs');
    await rename(partial, target);
  } finally {
    await rm(tree, { recursive: true, force: true });
  }
  return target;
}

/** Kernel and initramfs, each prepared once per host. */
export async function ensureGuestBootAssets(cacheDir: string, kernelPackage?: string): Promise<GuestBootAssets> {
  const kernel = await ensureGuestKernel(cacheDir, kernelPackage);
  return { kernel, initramfs: await ensureInitramfs(cacheDir, kernel) };
}

/**
 * Enables fs-verity (sha256, 4 KiB blocks) on every regular file under a directory, in one process: the
 * object store holds thousands of files, and a process per file costs seconds each under TCG. A file that
 * already has fs-verity (a later boot) is left as it is.
 */
const VERITY_ENABLE_SOURCE = `#define _XOPEN_SOURCE 700
#include <fcntl.h>
#include <ftw.h>
#include <linux/fsverity.h>
#include <stdio.h>
#include <string.h>
#include <errno.h>
#include <sys/ioctl.h>
#include <unistd.h>
static long enabled, failed;
static int visit(const char *path, const struct stat *st, int type, struct FTW *ftw) {
  (void)st; (void)ftw;
  if (type != FTW_F) return 0;
  int fd = open(path, O_RDONLY | O_CLOEXEC);
  if (fd < 0) { failed++; return 0; }
  struct fsverity_enable_arg arg;
  memset(&arg, 0, sizeof arg);
  arg.version = 1;
  arg.hash_algorithm = FS_VERITY_HASH_ALG_SHA256;
  arg.block_size = 4096;
  if (ioctl(fd, FS_IOC_ENABLE_VERITY, &arg) == 0) enabled++;
  else if (errno != EEXIST) { failed++; fprintf(stderr, "pn-verity-enable: %s: %s\\n", path, strerror(errno)); }
  close(fd);
  return 0;
}
int main(int argc, char **argv) {
  if (argc != 2) return 2;
  if (nftw(argv[1], visit, 64, FTW_PHYS) != 0) return 1;
  printf("pn-verity-enable: %ld file(s) enabled, %ld failed\\n", enabled, failed);
  return failed == 0 ? 0 : 1;
}
`;

/** The size of a file, or null. */
export async function fileSize(file: string): Promise<number | null> {
  return stat(file).then(
    (s) => s.size,
    () => null,
  );
}
