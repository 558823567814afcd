import { spawn } from 'node:child_process';
import { access, constants as fsConstants } from 'node:fs/promises';

/*
 * Whether this host can run KVM guests. /dev/kvm opening is not enough: nested under another hypervisor it may
 * open while QEMU aborts setting up the vCPU (`kvm_buf_set_msrs: Assertion … failed`), so a stopped QEMU is
 * started with `-accel kvm` and must still be running after a moment. The answer is kept for the process.
 */

const PROBE_MS = 1_500;
let probed: Promise<{ usable: boolean; reason: string }> | undefined;

async function probe(): Promise<{ usable: boolean; reason: string }> {
  const opens = await access('/dev/kvm', fsConstants.R_OK | fsConstants.W_OK).then(
    () => true,
    () => false,
  );
  if (!opens) return { usable: false, reason: '/dev/kvm does not exist or cannot be opened' };
  return new Promise((resolve) => {
    let stderr = '';
    const child = spawn(
      'qemu-system-x86_64',
      ['-accel', 'kvm', '-cpu', 'host', '-nodefaults', '-display', 'none', '-m', '32', '-S', '-monitor', 'none', '-serial', 'none'],
      { stdio: ['ignore', 'ignore', 'pipe'] },
    );
    child.stderr.setEncoding('utf8').on('data', (text: string) => (stderr = (stderr + text).slice(-2_000)));
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      resolve({ usable: true, reason: 'a KVM guest starts' });
    }, PROBE_MS);
    child.once('error', (error) => {
      clearTimeout(timer);
      resolve({ usable: false, reason: `qemu-system-x86_64 cannot start: ${error.message}` });
    });
    child.once('exit', () => {
      clearTimeout(timer);
      resolve({ usable: false, reason: `/dev/kvm opens but a KVM guest cannot start: ${stderr.trim().split('\n').pop() ?? 'qemu exited'}` });
    });
  });
}

/** True (with why) when QEMU can run guests with `-accel kvm` here. */
export function kvmUsable(): Promise<{ usable: boolean; reason: string }> {
  probed ??= probe();
  return probed;
}
