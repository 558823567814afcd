import { execFileSync } from 'node:child_process';
import { chmodSync, copyFileSync, existsSync, mkdirSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { waitUntil } from '@powernode/testing';
import type { HypervisorDriver } from '../../src/drivers/hypervisor-driver.js';
import { QemuDriver } from '../../src/drivers/qemu-driver.js';
import { collectedExec, type DriverContractFixture } from './driver-contract.js';

export const QEMU_STAND_IN_KEEPER = fileURLToPath(new URL('./fixtures/qemu-stand-in-keeper.mjs', import.meta.url));
/** Kept across runs: the guest kernel (downloaded), the initramfs and the fixture root's image are built once. */
const SHARED_CACHE = path.join(os.tmpdir(), 'powernode-qemu-contract-cache');

/** PID 1 of the fixture root: mounts what systemd would, the link, and starts the exec channel. */
const STAND_IN_SYSTEMD = `#!/bin/busybox sh
/bin/busybox --install -s /bin
export PATH=/bin
mount -t proc proc /proc
mount -t sysfs sysfs /sys
mount -t tmpfs tmpfs /run
mount -t tmpfs tmpfs /tmp
mkdir -p /run/powernode
mount -t 9p -o trans=virtio,version=9p2000.L,msize=262144 pnlink /run/powernode
/opt/powernode/node /opt/powernode/app/apps/agent/dist/guest-exec-server.js &
while true; do wait; sleep 1; done
`;
const STAND_IN_SYSTEMCTL = `#!/bin/busybox sh
case "$1" in
  is-system-running) echo running ;;
  poweroff) sync; poweroff -f ;;
  *) echo "stand-in systemctl: $*" >&2; exit 1 ;;
esac
`;

/**
 * The fixture root: busybox, the C and C++ runtime Node.js needs (from the host, as nspawn machines share it),
 * the stand-in systemd and systemctl. Built once into the shared cache.
 */
function fixtureTree(): string {
  const tree = path.join(SHARED_CACHE, 'trees', 'contract-fixture', 'root');
  if (existsSync(tree)) return tree;
  const staging = `${tree}.staging`;
  rmSync(staging, { recursive: true, force: true });
  for (const dir of ['bin', 'dev', 'proc', 'sys', 'run', 'tmp', 'opt', 'etc', 'lib/systemd', 'usr/bin', 'lib64', 'lib/x86_64-linux-gnu'])
    mkdirSync(path.join(staging, dir), { recursive: true });
  copyFileSync('/bin/busybox', path.join(staging, 'bin', 'busybox'));
  chmodSync(path.join(staging, 'bin', 'busybox'), 0o755);
  for (const line of execFileSync('ldd', [process.execPath], { encoding: 'utf8' }).split('\n')) {
    const library = /(\/\S+) \(0x/.exec(line)?.[1];
    if (library === undefined) continue;
    const target = library.startsWith('/lib64/')
      ? path.join(staging, 'lib64', path.basename(library))
      : path.join(staging, 'lib/x86_64-linux-gnu', path.basename(library));
    copyFileSync(library, target);
  }
  writeFileSync(path.join(staging, 'lib/systemd/systemd'), STAND_IN_SYSTEMD, { mode: 0o755 });
  writeFileSync(path.join(staging, 'usr/bin/systemctl'), STAND_IN_SYSTEMCTL, { mode: 0o755 });
  mkdirSync(path.dirname(tree), { recursive: true });
  renameSync(staging, tree);
  return tree;
}

export interface QemuDriverFixture extends DriverContractFixture {
  dataDir: string;
  driver: QemuDriver;
}

/** A QemuDriver over a fresh temp data dir whose keepers are stand-ins booting real VMs on the fixture root. */
export async function qemuDriverFixture(): Promise<QemuDriverFixture> {
  const dataDir = await mkdtemp(path.join(os.tmpdir(), 'powernode-qemu-driver-'));
  const tree = fixtureTree();
  const drivers: QemuDriver[] = [];
  const newDriver = (): QemuDriver => {
    const driver = new QemuDriver({
      dataDir,
      cacheDir: SHARED_CACHE,
      agentCommand: [process.execPath, QEMU_STAND_IN_KEEPER],
      agentEnvironment: { POWERNODE_CONTRACT_TREE: tree },
      inheritEnv: ['PATH', 'HOME', 'LANG'],
      stopGraceMs: 20_000,
      pollIntervalMs: 200,
      restartBackoff: { initialMs: 100, maxMs: 1_000 },
    });
    drivers.push(driver);
    return driver;
  };
  const driver = newDriver();
  return {
    dataDir,
    driver,
    restart: async () => newDriver(),
    async crash(instanceId) {
      // The host side of the instance dies whole: its keeper and its QEMU.
      const keeper = JSON.parse(readFileSync(path.join(driver.instanceDir(instanceId), 'agent.pid'), 'utf8')).pid as number;
      const qemu = await driver.machinePid(instanceId);
      for (const pid of [keeper, qemu]) if (pid !== null) process.kill(pid, 'SIGKILL');
      await waitUntil(
        `the keeper and VM of ${instanceId} to die`,
        async () => (await driver.agentPid(instanceId)) === null && (await driver.machinePid(instanceId)) === null,
      );
    },
    async runtimeToken(d: HypervisorDriver, instanceId) {
      const pid = await (d as QemuDriver).machinePid(instanceId);
      return pid === null ? null : String(pid);
    },
    async waitUntilUp(instanceId) {
      await waitUntil(
        `the VM of ${instanceId} to run commands`,
        async () => {
          if ((await driver.machinePid(instanceId)) === null) return false;
          try {
            return (await collectedExec(driver, instanceId, ['/bin/true'], { timeoutMs: 5_000, maxOutputBytes: 1024 })).exit_code === 0;
          } catch {
            return false;
          }
        },
        300_000,
        1_000,
      );
    },
    async cleanup() {
      for (const d of drivers) await d.close();
      const sweeper = new QemuDriver({ dataDir, cacheDir: SHARED_CACHE, agentCommand: [process.execPath, QEMU_STAND_IN_KEEPER], stopGraceMs: 10_000 });
      for (const id of await sweeper.list()) await sweeper.destroy(id);
      await sweeper.close();
      await rm(dataDir, { recursive: true, force: true });
    },
  };
}
