import { spawn } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { chmod, copyFile, mkdir, open, readFile, rename, rm, stat, writeFile } from 'node:fs/promises';
import { request } from 'node:http';
import { createServer } from 'node:net';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { setTimeout as sleep } from 'node:timers/promises';
import { PowernodeError } from '@powernode/contracts';
import {
  kvmUsable,
  machineRecordPath,
  machineRuns,
  processStartTicks,
  readMachineRecord,
  writeFileAtomically,
  writeMachineRecord,
  type MachineRecord,
} from '@powernode/host-machine';
import { pathExists, runHostCommand } from './host-commands.js';
import { stackImages } from './layer-images.js';
import { linkDirOf } from './machine-link.js';
import type { MachineNetwork } from './machine-network.js';
import type { BootOptions } from './nspawn-machine.js';
import { ensureGuestBootAssets, type GuestBootAssets } from './qemu-boot-assets.js';
import { GUEST_EXEC_PORT } from './qemu-guest-init.js';
import { ensureVerifiedRootImages, markVerityEnabled, verityEnabled } from './verified-root.js';
import { readStack, stackLowers } from './stacked-root.js';

/*
 * The instance as a QEMU virtual machine: the same composed roots, keeper and in-machine agent as on nspawn,
 * with a Debian kernel instead of the host's. The keeper (POWERNODE_AGENT_MACHINE=qemu) boots it; layout
 * under the sandbox:
 *
 *   machine/disk.img       the instance's writable ext4 (overlay upper and work dir), kept across boots
 *   machine/console.log    the serial console, appended across boots (`powernode instances console`)
 *   machine/exec.json      the host port of the exec channel (hostfwd to the guest's GUEST_EXEC_PORT)
 *   machine.json           the QEMU process (pid and start time) and the root it booted
 *   link/                  shared with the guest over 9p, mounted at /run/powernode; exec.token and
 *                          keeper.token in it authorise the host's exec channel and the guest's keeper calls
 *
 * The root's lower layers are erofs images (layer-images.ts) attached read-only as virtio disks; with
 * verity=require (the default) the root is instead a composefs-style overlay of an erofs metadata image over
 * an fs-verity object store (verified-root.ts). Node.js and the compiled agent reach the guest as read-only
 * 9p shares. Networking is QEMU's user mode: nothing is configured on the host, the guest reaches the host's
 * loopback at 10.0.2.2, and the host reaches the guest only through the one hostfwd of the exec channel.
 *
 * `-accel kvm` where /dev/kvm opens, else TCG with a bounded translation cache (`tb-size`), which is most of
 * a TCG guest's resident size beyond its touched RAM.
 */

export interface QemuMachineOptions {
  sandboxDir: string;
  cacheDir: string;
  instanceId: string;
  hostname: string;
  memoryMb: number;
  vcpus: number;
  accel: 'auto' | 'kvm' | 'tcg';
  tbSizeMb: number;
  kernelPackage: string | undefined;
  verity: 'require' | 'off';
  /** Where the agent's runtime comes from (the checkout or installation) and the Node.js binary; defaults: this one. */
  runtimeRoot?: string;
  nodeBinary?: string;
}

/** What the host needs to use a machine's exec channel. */
export interface QemuExecChannel {
  port: number;
  token: string;
}

const RUNTIME_ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../..');
/** TCG on two shared cores boots a Debian systemd in 20–60 s; a KVM guest in a few. */
const BOOT_TIMEOUT_MS = 600_000;
const POWEROFF_GRACE_MS = 20_000;
const DISK_SIZE = '4G';
/** Enabling fs-verity reads every object once: a minute or two for a Debian base under TCG. */
const VERITY_TIMEOUT_MS = 20 * 60 * 1000;
const STORE_LOCK_STALE_MS = VERITY_TIMEOUT_MS + 60_000;
/** Compiling a Debian profile set takes a minute or two under TCG on a busy host. */
const APPARMOR_TIMEOUT_MS = 10 * 60 * 1000;
/** Part of a compiled policy's key: changed when the init compiles it differently. */
const APPARMOR_POLICY_FORMAT = 'apparmor-policy-1';
const LDCONFIG_AUX_CACHE = '/var/cache/ldconfig/aux-cache';

/** Takes `<store>.lock` (waiting while another keeper holds it, taking over one left by a dead keeper). */
async function lockStore(store: string): Promise<string> {
  const lock = `${store}.lock`;
  for (;;) {
    try {
      await writeFile(lock, `${process.pid}\n`, { flag: 'wx' });
      return lock;
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
      const held = await stat(lock).catch(() => null);
      const owner = Number((await readFile(lock, 'utf8').catch(() => '')).trim());
      const ownerAlive = Number.isInteger(owner) && owner > 0 && (await processStartTicks(owner)) !== null;
      if (held === null || !ownerAlive || Date.now() - held.mtimeMs > STORE_LOCK_STALE_MS) await rm(lock, { force: true });
      else await sleep(1_000);
    }
  }
}
export const EXEC_CHANNEL_FILE = 'exec.json';
export const EXEC_TOKEN_FILE = 'exec.token';
/** In the link: which files each object backs, for the agent inside to name what the kernel refused. */
export const INTEGRITY_INDEX_FILE = 'integrity-index.json';

function machineDir(sandboxDir: string): string {
  return path.join(sandboxDir, 'machine');
}

/** The serial console log of an instance's VM. */
export function consoleLogPath(sandboxDir: string): string {
  return path.join(machineDir(sandboxDir), 'console.log');
}

/** The exec channel of a running machine, or null when it has none. */
export async function readExecChannel(sandboxDir: string): Promise<QemuExecChannel | null> {
  try {
    const { port } = JSON.parse(await readFile(path.join(machineDir(sandboxDir), EXEC_CHANNEL_FILE), 'utf8')) as { port: number };
    const token = (await readFile(path.join(linkDirOf(sandboxDir), EXEC_TOKEN_FILE), 'utf8')).trim();
    return Number.isInteger(port) && token !== '' ? { port, token } : null;
  } catch {
    return null;
  }
}

async function freeLoopbackPort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject).listen(0, '127.0.0.1', () => {
      const { port } = server.address() as { port: number };
      server.close(() => resolve(port));
    });
  });
}

/** Runs argv in the guest through its exec channel; collects the output (for the keeper's own short commands). */
export function execInGuest(
  channel: QemuExecChannel,
  argv: readonly string[],
  timeoutMs: number,
): Promise<{ code: number | null; stdout: string; stderr: string; timedOut: boolean }> {
  return new Promise((resolve) => {
    const data = Buffer.from(JSON.stringify({ argv, timeout_ms: timeoutMs }));
    let stdout = '';
    let stderr = '';
    let code: number | null = null;
    let timedOut = false;
    let buffered = '';
    const req = request(
      {
        host: '127.0.0.1',
        port: channel.port,
        path: '/exec',
        method: 'POST',
        headers: { authorization: `Bearer ${channel.token}`, 'content-type': 'application/json', 'content-length': String(data.length) },
        timeout: timeoutMs + 5_000,
      },
      (res) => {
        if (res.statusCode !== 200) {
          res.resume();
          resolve({ code: null, stdout, stderr: `exec channel answered HTTP ${res.statusCode}`, timedOut });
          return;
        }
        res.setEncoding('utf8').on('data', (text: string) => {
          buffered += text;
          let newline: number;
          while ((newline = buffered.indexOf('\n')) >= 0) {
            const frame = JSON.parse(buffered.slice(0, newline)) as { stream?: string; data?: string; exit_code?: number; timed_out?: boolean };
            buffered = buffered.slice(newline + 1);
            if (frame.stream === 'stdout') stdout += Buffer.from(frame.data ?? '', 'base64').toString('utf8');
            else if (frame.stream === 'stderr') stderr += Buffer.from(frame.data ?? '', 'base64').toString('utf8');
            else if (frame.exit_code !== undefined) {
              code = frame.exit_code;
              timedOut = frame.timed_out === true;
            }
          }
        });
        res.once('end', () => resolve({ code, stdout, stderr, timedOut }));
        res.once('error', () => resolve({ code: null, stdout, stderr, timedOut }));
      },
    );
    req.once('timeout', () => req.destroy(new Error('timeout')));
    req.once('error', (error) => resolve({ code: null, stdout, stderr: error.message, timedOut }));
    req.end(data);
  });
}

/** Controls one instance's VM. Not safe for concurrent use: the keeper serialises calls. */
export class QemuMachine {
  private readonly runtimeRoot: string;
  private readonly nodeBinary: string;

  constructor(private readonly options: QemuMachineOptions) {
    this.runtimeRoot = options.runtimeRoot ?? RUNTIME_ROOT;
    this.nodeBinary = options.nodeBinary ?? process.execPath;
  }

  async adopt(rootDir: string): Promise<boolean> {
    const record = await readMachineRecord(this.options.sandboxDir);
    return record !== null && record.root_dir === rootDir && (await machineRuns(record));
  }

  async running(): Promise<boolean> {
    return machineRuns(await readMachineRecord(this.options.sandboxDir));
  }

  /** The QEMU process's pid while it runs. */
  async pid(): Promise<number | null> {
    const record = await readMachineRecord(this.options.sandboxDir);
    return (await machineRuns(record)) ? record!.pid : null;
  }

  /**
   * Boots the VM on `rootDir` and waits until its systemd finished booting (`running` or `degraded`, asked
   * through the exec channel). A VM already running is powered off first. `machine_failed` when QEMU exits or
   * the boot does not finish in time (the console's last lines say why).
   */
  async boot(rootDir: string, options: BootOptions = {}): Promise<void> {
    await this.powerOff();
    const dir = machineDir(this.options.sandboxDir);
    await mkdir(dir, { recursive: true, mode: 0o700 });
    const assets = await ensureGuestBootAssets(this.options.cacheDir, this.options.kernelPackage);
    const lower = path.join(this.options.sandboxDir, rootDir);
    const stack = await readStack(lower);
    if (stack === null)
      throw new PowernodeError('machine_failed', `${rootDir} is not a stacked root; a QEMU machine boots stacked roots only`, {
        details: { rule: 'machine_root', root_dir: rootDir },
      });
    const lowers = stackLowers(lower, stack);
    // The generation's own top/ first (no module), then the module trees.
    const verified = this.options.verity === 'require' ? await ensureVerifiedRootImages(lower, lowers, [null, ...(stack.modules ?? [])]) : null;
    if (verified !== null) {
      await this.enableVerity(verified.objectStores, assets);
      await copyFile(verified.objectIndex, path.join(linkDirOf(this.options.sandboxDir), INTEGRITY_INDEX_FILE));
    }
    const layerImages = verified === null ? await stackImages(lowers) : [verified.metadataImage];
    const apparmorPolicy = verified === null ? null : await this.ensureAppArmorPolicy(lowers, verified, assets);
    const disk = path.join(dir, 'disk.img');
    if (!(await pathExists(disk))) {
      const partial = `${disk}.partial`;
      const made = await runHostCommand(['sh', '-c', 'truncate -s "$2" "$1" && mkfs.ext4 -q -F -E root_owner=0:0 "$1"', 'sh', partial, DISK_SIZE], 120_000);
      if (made.code !== 0)
        throw new PowernodeError('machine_failed', `cannot make the instance disk: ${made.stderr.trim()}`, { details: { rule: 'machine_disk' } });
      await rename(partial, disk);
    }
    const runtime = await this.runtimeShare();
    const linkDir = linkDirOf(this.options.sandboxDir);
    const token = randomBytes(32).toString('hex');
    await writeFileAtomically(path.join(linkDir, EXEC_TOKEN_FILE), `${token}\n`, 0o600);
    const port = await freeLoopbackPort();
    await writeFileAtomically(path.join(dir, EXEC_CHANNEL_FILE), `${JSON.stringify({ port })}\n`, 0o600);
    await options.beforeSpawn?.({ address: '10.0.2.15' } as MachineNetwork);
    const drives = [...layerImages.map((image) => ({ file: image, readOnly: true })), { file: disk, readOnly: false }];
    if (verified !== null) for (const store of verified.objectStores) drives.push({ file: store, readOnly: true });
    if (apparmorPolicy !== null) drives.push({ file: apparmorPolicy, readOnly: true });
    const shares: Array<[string, string, boolean]> = [
      ['pnlink', linkDir, false],
      ['pnrt', runtime, true],
      ['pnmods', path.join(this.runtimeRoot, 'node_modules'), true],
      ['pnlibs', path.join(this.runtimeRoot, 'libs'), true],
      ['pnagent', path.join(this.runtimeRoot, 'apps', 'agent'), true],
    ];
    const cmdline = [
      'console=ttyS0',
      'quiet',
      'panic=-1',
      `pn.layers=${layerImages.length}`,
      `pn.objects=${verified === null ? 0 : verified.objectStores.length}`,
      `pn.apparmor=${apparmorPolicy === null ? 0 : 1}`,
      // Nothing reads a console but the serial one (kept in console.log), the root's packages come from its
      // layers (apt in the guest only fills the upper and takes the vCPU), and there is no LVM to scrub.
      ...[
        'serial-getty@ttyS0.service',
        'getty@tty1.service',
        'e2scrub_reap.service',
        'e2scrub_all.timer',
        'apt-daily.timer',
        'apt-daily-upgrade.timer',
        'dpkg-db-backup.timer',
        'man-db.timer',
      ].map((unit) => `systemd.mask=${unit}`),
      `systemd.hostname=${this.options.hostname}`,
    ].join(' ');
    const argv = [
      '-name',
      `pn-${this.options.instanceId}`,
      ...(await this.machineArguments(assets, cmdline, drives)),
      // Pages the guest frees go back to the host: what a VM holds is what it uses, not what it ever touched.
      '-device',
      'virtio-balloon-pci,free-page-reporting=on',
      ...shares.flatMap(([tag, share, readOnly]) => ['-virtfs', `local,path=${share},mount_tag=${tag},security_model=none${readOnly ? ',readonly=on' : ''}`]),
      '-netdev',
      `user,id=n0,hostfwd=tcp:127.0.0.1:${port}-10.0.2.15:${GUEST_EXEC_PORT}`,
      '-device',
      'virtio-net-pci,netdev=n0,romfile=',
      '-chardev',
      `file,id=con0,path=${consoleLogPath(this.options.sandboxDir)},append=on`,
      '-serial',
      'chardev:con0',
      '-monitor',
      'none',
    ];
    const consoleFile = await open(path.join(dir, 'qemu.log'), 'a', 0o600);
    let child;
    try {
      child = spawn('qemu-system-x86_64', argv, {
        detached: true,
        stdio: ['ignore', consoleFile.fd, consoleFile.fd],
        env: { PATH: '/usr/sbin:/usr/bin:/sbin:/bin', LANG: 'C.UTF-8' },
      });
      await new Promise<void>((resolve, reject) => {
        child!.once('spawn', resolve);
        child!.once('error', reject);
      });
    } catch (cause) {
      throw new PowernodeError('machine_failed', `cannot start qemu-system-x86_64 (${(cause as Error).message}); install qemu-system-x86`, {
        cause,
        retryable: true,
        details: { rule: 'machine_spawn' },
      });
    } finally {
      await consoleFile.close();
    }
    child.unref();
    const pid = child.pid!;
    const record: MachineRecord = { pid, start_ticks: (await processStartTicks(pid)) ?? '', root_dir: rootDir, booted_at: new Date().toISOString() };
    await writeMachineRecord(this.options.sandboxDir, record);
    const deadline = Date.now() + BOOT_TIMEOUT_MS;
    const channel = { port, token };
    while (Date.now() < deadline && (await machineRuns(record))) {
      // One waiting command rather than a poll: under TCG every systemctl the guest starts takes its one vCPU
      // from the boot it is asked about.
      const state = await execInGuest(channel, ['systemctl', 'is-system-running', '--wait'], Math.max(1_000, deadline - Date.now()));
      const text = state.stdout.trim();
      if (text === 'running' || text === 'degraded') return;
      await sleep(1_000);
    }
    const log = await readFile(consoleLogPath(this.options.sandboxDir), 'utf8').catch(() => '');
    const qemuLog = await readFile(path.join(dir, 'qemu.log'), 'utf8').catch(() => '');
    await this.powerOff(0);
    throw new PowernodeError(
      'machine_failed',
      `the VM did not finish booting within ${BOOT_TIMEOUT_MS / 1000} s; last console lines: ${log.trim().split('\n').slice(-3).join(' | ')}${qemuLog.trim() === '' ? '' : `; qemu: ${qemuLog.trim().split('\n').slice(-2).join(' | ')}`}`,
      { retryable: true, details: { rule: 'machine_boot', root_dir: rootDir } },
    );
  }

  /** The accelerator, resources, kernel and disks of a boot. */
  private async machineArguments(assets: GuestBootAssets, cmdline: string, drives: ReadonlyArray<{ file: string; readOnly: boolean }>): Promise<string[]> {
    const kvm = this.options.accel === 'kvm' || (this.options.accel === 'auto' && (await kvmUsable()).usable);
    return [
      ...(kvm ? ['-accel', 'kvm', '-cpu', 'host'] : ['-accel', `tcg,tb-size=${this.options.tbSizeMb}`, '-cpu', 'max']),
      '-m',
      String(this.options.memoryMb),
      '-smp',
      String(this.options.vcpus),
      '-nodefaults',
      '-display',
      'none',
      '-no-reboot',
      '-kernel',
      assets.kernel.vmlinuz,
      '-initrd',
      assets.initramfs,
      '-append',
      cmdline,
      ...drives.flatMap((d) => ['-drive', `file=${d.file},if=virtio,format=raw${d.readOnly ? ',readonly=on' : ''}`]),
    ];
  }

  /**
   * Enables fs-verity on object stores that have not had it yet, in a short-lived guest of their own (the host
   * kernel cannot): each store is written once, here, and attached read-only to every VM afterwards. A lock
   * file beside each store keeps two keepers of the host from writing it at once.
   */
  private async enableVerity(stores: readonly string[], assets: GuestBootAssets): Promise<void> {
    const pending: string[] = [];
    for (const store of stores) if (!(await verityEnabled(store))) pending.push(store);
    if (pending.length === 0) return;
    const locks: string[] = [];
    try {
      for (const store of pending) locks.push(await lockStore(store));
      const still: string[] = [];
      for (const store of pending) if (!(await verityEnabled(store))) still.push(store);
      if (still.length === 0) return;
      const log = path.join(machineDir(this.options.sandboxDir), 'verity.log');
      await rm(log, { force: true });
      const args = await this.machineArguments(
        assets,
        'console=ttyS0 quiet panic=-1 pn.mode=verity',
        still.map((file) => ({ file, readOnly: false })),
      );
      const outcome = await runHostCommand(['qemu-system-x86_64', ...args, '-serial', `file:${log}`, '-monitor', 'none'], VERITY_TIMEOUT_MS);
      const said = await readFile(log, 'utf8').catch(() => '');
      for (const [index, store] of still.entries()) {
        if (said.includes(`powernode-verity: store ${index + 1} enabled`)) await markVerityEnabled(store);
        else
          throw new PowernodeError(
            'machine_failed',
            `cannot enable fs-verity on ${store} (qemu exit ${outcome.code}): ${said.trim().split('\n').slice(-3).join(' | ') || outcome.stderr.trim()}`,
            { retryable: true, details: { rule: 'object_store_verity', store } },
          );
      }
    } finally {
      for (const lock of locks) await rm(lock, { force: true });
    }
  }

  /**
   * The root's AppArmor policy compiled once per host, root content and kernel, in a short-lived guest of its
   * own (`pn.mode=apparmor`): apparmor.service orders itself before sysinit.target, and compiling a Debian
   * profile set under TCG holds every unit of the boot back for a minute, on every instance's first boot.
   * Keyed by every file's fs-verity digest (so the same key is the same profiles, parser and libraries; the
   * guest refuses any other content) and the kernel: the policy is only ever given to guests booting that
   * content. Null for a root without AppArmor profiles, and when compiling failed
   * (a parser failure is marked and not tried again): such guests compile at boot as before.
   */
  private async ensureAppArmorPolicy(
    lowers: readonly string[],
    verified: { metadataImage: string; objectStores: string[]; objectIndex: string },
    assets: GuestBootAssets,
  ): Promise<string | null> {
    let profiles = false;
    let parser = false;
    for (const lower of lowers) {
      profiles ||= await pathExists(path.join(lower, 'etc', 'apparmor.d'));
      parser ||= await pathExists(path.join(lower, 'usr', 'sbin', 'apparmor_parser'));
    }
    if (!profiles || !parser) return null;
    // Every file of the root by digest (the generation's top/ by its index, the module trees by their
    // content-addressed names) but ldconfig's aux cache, which only ldconfig reads and which differs between
    // compositions of the same modules (it records inode numbers).
    const index = JSON.parse(await readFile(verified.objectIndex, 'utf8')) as Record<string, Array<{ path: string }>>;
    const files = Object.entries(index)
      .flatMap(([digest, uses]) => uses.filter((use) => use.path !== LDCONFIG_AUX_CACHE).map((use) => `${use.path} ${digest}`))
      .sort();
    const trees = lowers.filter((lower) => path.basename(lower) === 'root');
    const key = createHash('sha256')
      .update(`${APPARMOR_POLICY_FORMAT}\n${assets.kernel.package}\n${trees.join('\n')}\n${files.join('\n')}\n`)
      .digest('hex')
      .slice(0, 32);
    const dir = path.join(this.options.cacheDir, 'qemu', 'apparmor');
    const image = path.join(dir, `${key}.ext4`);
    const failed = `${image}.failed`;
    if (await pathExists(image)) return image;
    if (await pathExists(failed)) return null;
    await mkdir(dir, { recursive: true, mode: 0o700 });
    const lock = await lockStore(image);
    try {
      if (await pathExists(image)) return image;
      const partial = `${image}.${randomBytes(4).toString('hex')}.partial`;
      const made = await runHostCommand(['sh', '-c', 'truncate -s 16M "$1" && mkfs.ext4 -q -F -E root_owner=0:0 "$1"', 'sh', partial], 60_000);
      if (made.code !== 0)
        throw new PowernodeError('machine_failed', `cannot make the AppArmor policy disk: ${made.stderr.trim()}`, {
          retryable: true,
          details: { rule: 'machine_disk' },
        });
      const log = path.join(machineDir(this.options.sandboxDir), 'apparmor.log');
      await rm(log, { force: true });
      const args = await this.machineArguments(assets, `console=ttyS0 quiet panic=-1 pn.mode=apparmor pn.layers=1 pn.objects=${verified.objectStores.length}`, [
        { file: verified.metadataImage, readOnly: true },
        ...verified.objectStores.map((file) => ({ file, readOnly: true })),
        { file: partial, readOnly: false },
      ]);
      await runHostCommand(['qemu-system-x86_64', ...args, '-serial', `file:${log}`, '-monitor', 'none'], APPARMOR_TIMEOUT_MS);
      const said = await readFile(log, 'utf8').catch(() => '');
      if (said.includes('powernode-apparmor: compiled')) {
        await rename(partial, image);
        return image;
      }
      await rm(partial, { force: true });
      // The parser refused the profiles: that root's guests compile at boot, as they would without this. A guest
      // that did not finish (a timeout on a busy host) is tried again at the next boot.
      if (said.includes('powernode-apparmor: failed')) await writeFile(failed, said.trim().split('\n').slice(-5).join('\n'));
      return null;
    } finally {
      await rm(lock, { force: true });
    }
  }

  /** Asks the guest to power off (its agent stops the modules and reports), kills QEMU after the grace period. */
  async powerOff(graceMs: number = POWEROFF_GRACE_MS): Promise<void> {
    const record = await readMachineRecord(this.options.sandboxDir);
    if (record !== null && (await machineRuns(record))) {
      const channel = await readExecChannel(this.options.sandboxDir);
      if (channel !== null && graceMs > 0) await execInGuest(channel, ['systemctl', 'poweroff', '--no-block'], 5_000);
      const deadline = Date.now() + graceMs;
      while (Date.now() < deadline && (await machineRuns(record))) await sleep(100);
      if (await machineRuns(record)) {
        try {
          process.kill(-record.pid, 'SIGKILL');
        } catch {
          process.kill(record.pid, 'SIGKILL');
        }
        for (let i = 0; i < 100 && (await machineRuns(record)); i++) await sleep(50);
      }
    }
    await rm(path.join(machineDir(this.options.sandboxDir), EXEC_CHANNEL_FILE), { force: true });
    await rm(machineRecordPath(this.options.sandboxDir), { force: true });
  }

  /** A read-only directory with Node.js and the runtime's package.json, copied once per host and version. */
  private async runtimeShare(): Promise<string> {
    const node = await stat(this.nodeBinary);
    const pkg = await stat(path.join(this.runtimeRoot, 'package.json'));
    const dir = path.join(this.options.cacheDir, 'qemu', `runtime-${node.size}-${Math.floor(node.mtimeMs)}-${pkg.size}-${Math.floor(pkg.mtimeMs)}`);
    if (await pathExists(dir)) return dir;
    const staging = `${dir}.${randomBytes(4).toString('hex')}`;
    await mkdir(staging, { recursive: true, mode: 0o755 });
    await copyFile(this.nodeBinary, path.join(staging, 'node'));
    await chmod(path.join(staging, 'node'), 0o755);
    await copyFile(path.join(this.runtimeRoot, 'package.json'), path.join(staging, 'package.json'));
    await rename(staging, dir).catch(async (error: unknown) => {
      await rm(staging, { recursive: true, force: true });
      if (!(await pathExists(dir))) throw error;
    });
    return dir;
  }
}
