import { spawnSync } from 'node:child_process';
import { jest } from '@jest/globals';
import { describeDriverContract } from './driver-contract.js';
import { qemuDriverFixture } from './qemu-driver-fixture.js';

/*
 * The driver contract on the qemu driver: every instance a real QEMU VM (TCG here) booted by a stand-in keeper
 * on a small fixture root, so the contract's starts, stops, adoptions, crashes and execs are the VM's. Needs
 * root, qemu-system-x86, busybox-static and the Debian mirror (the guest kernel, once per host).
 */
const canBootVms = process.getuid?.() === 0 && spawnSync('qemu-system-x86_64', ['--version']).status === 0 && spawnSync('busybox', ['true']).status === 0;

// Every test boots at least one VM under TCG.
jest.setTimeout(900_000);

if (canBootVms) describeDriverContract('qemu', () => qemuDriverFixture());
else describe.skip('hypervisor driver contract: qemu (needs root and qemu-system-x86)', () => it('is skipped', () => undefined));
