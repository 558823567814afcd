import { createHash } from 'node:crypto';
import { mkdir, readdir, readFile, rm, stat } from 'node:fs/promises';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { ipv4ToNumber, numberToIpv4, PowernodeError, type MachineSubnet } from '@powernode/contracts';
import { writeFileAtomically, type MachineLink } from '@powernode/host-machine';
import { runHostCommand } from './host-commands.js';

/*
 * Each machine gets its own network namespace joined to the host by a veth pair, and a /30 of the machines'
 * subnet (default 10.213.0.0/16): the host end is the block's first address, the machine's `eth0` the
 * second, with the host end as its default route. The host reaches the machine at its address; the machine
 * reaches the host (the gateway, the registry) at the host end. No bridge, no NAT, no DHCP: nothing on the
 * host changes beyond the interface nspawn creates and removes with the machine.
 *
 * Blocks are claimed in a directory shared by the host's agents (`<claims dir>/<block>`, holding the instance
 * id and its sandbox), under a lock, starting at a block derived from the instance id; an instance keeps its
 * block across reboots and agent restarts. A destroyed instance's sandbox is gone, which frees its block:
 * nothing else has to remember to release it. Blocks whose addresses the host already uses are skipped.
 */

/** One machine's link: what nspawn is told and what is configured on both ends (kept in machine.json too). */
export type MachineNetwork = MachineLink;

const BLOCK_PREFIX = 30;
/** The interface name inside the machine. */
export const MACHINE_INTERFACE = 'eth0';

/** The host-side interface of an instance's machine: `pn-` and 12 hex digits of its id (15 characters, the kernel's limit). */
export function hostInterfaceOf(instanceId: string): string {
  return `pn-${createHash('sha256').update(instanceId).digest('hex').slice(0, 12)}`;
}

/** The link of block `index` of the subnet. */
export function machineNetworkOf(instanceId: string, subnet: MachineSubnet, index: number): MachineNetwork {
  const first = subnet.base + index * 2 ** (32 - BLOCK_PREFIX);
  return { host_interface: hostInterfaceOf(instanceId), host_address: numberToIpv4(first + 1), address: numberToIpv4(first + 2), prefix_length: BLOCK_PREFIX };
}

/** IPv4 addresses configured on the host, as numbers. */
async function hostAddresses(): Promise<Set<number>> {
  const listed = await runHostCommand(['ip', '-4', '-o', 'addr', 'show'], 10_000);
  const used = new Set<number>();
  for (const match of listed.stdout.matchAll(/inet (\d+\.\d+\.\d+\.\d+)\//g)) {
    const value = ipv4ToNumber(match[1]!);
    if (value !== null) used.add(value);
  }
  return used;
}

const LOCK_STALE_MS = 30_000;

/** Runs `work` holding the claims directory's lock (a directory: mkdir is atomic); a lock older than 30 s is taken over. */
async function withClaimsLock<T>(dir: string, work: () => Promise<T>): Promise<T> {
  const lock = path.join(dir, '.lock');
  for (let attempt = 0; ; attempt++) {
    try {
      await mkdir(lock);
      break;
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
      const age = Date.now() - ((await stat(lock).catch(() => undefined))?.mtimeMs ?? Date.now());
      if (age > LOCK_STALE_MS) await rm(lock, { recursive: true, force: true });
      else if (attempt > 600)
        throw new PowernodeError('machine_failed', `the machine network claims in ${dir} stay locked (${lock}); remove it if no agent is starting a machine`, {
          retryable: true,
          details: { rule: 'machine_network' },
        });
      else await sleep(50);
    }
  }
  try {
    return await work();
  } finally {
    await rm(lock, { recursive: true, force: true });
  }
}

interface Claim {
  instance_id: string;
  /** The instance's sandbox: once it is gone (the instance was destroyed), the block is free again. */
  sandbox: string;
}

async function readClaim(file: string): Promise<Claim | null> {
  try {
    const claim = JSON.parse(await readFile(file, 'utf8')) as Claim;
    return typeof claim.instance_id === 'string' && typeof claim.sandbox === 'string' ? claim : null;
  } catch {
    return null;
  }
}

/**
 * The instance's block: the one it already claimed, else the first free one from a start derived from its
 * id. A claim whose sandbox no longer exists is free; blocks whose addresses the host already uses are
 * skipped. Throws `machine_failed` when the subnet is full.
 */
export async function claimMachineNetwork(dir: string, instance: { instanceId: string; sandboxDir: string }, subnet: MachineSubnet): Promise<MachineNetwork> {
  await mkdir(dir, { recursive: true, mode: 0o755 });
  return withClaimsLock(dir, async () => {
    const taken = new Set<number>();
    for (const name of await readdir(dir)) {
      if (!/^\d+$/.test(name)) continue;
      const claim = await readClaim(path.join(dir, name));
      if (claim?.instance_id === instance.instanceId && claim.sandbox === instance.sandboxDir)
        return machineNetworkOf(instance.instanceId, subnet, Number(name));
      if (claim !== null && (await stat(claim.sandbox).catch(() => undefined)) !== undefined) taken.add(Number(name));
    }
    const blocks = 2 ** (BLOCK_PREFIX - subnet.prefixLength);
    const start = createHash('sha256').update(instance.instanceId).digest().readUInt32BE(0) % blocks;
    const used = await hostAddresses();
    for (let step = 0; step < blocks; step++) {
      const index = (start + step) % blocks;
      const first = subnet.base + index * 4;
      if (taken.has(index) || [0, 1, 2, 3].some((offset) => used.has(first + offset))) continue;
      const claim: Claim = { instance_id: instance.instanceId, sandbox: instance.sandboxDir };
      await writeFileAtomically(path.join(dir, String(index)), JSON.stringify(claim), 0o644);
      return machineNetworkOf(instance.instanceId, subnet, index);
    }
    throw new PowernodeError(
      'machine_failed',
      `no free /30 left in the machines' subnet ${numberToIpv4(subnet.base)}/${subnet.prefixLength} (${blocks} blocks claimed under ${dir}); set POWERNODE_MACHINE_SUBNET to a larger one`,
      {
        retryable: true,
        details: { rule: 'machine_network' },
      },
    );
  });
}

/** The nspawn option that creates the veth pair. */
export function nspawnNetworkOption(network: MachineNetwork): string {
  return `--network-veth-extra=${network.host_interface}:${MACHINE_INTERFACE}`;
}

/**
 * Addresses both ends once the machine's namespace exists (`leader` is its PID 1 on the host). Uses the
 * host's `ip` in the machine's network namespace only, so the machine's image needs no network tools.
 */
export async function configureMachineNetwork(leader: number, network: MachineNetwork): Promise<void> {
  const cidr = (address: string) => `${address}/${network.prefix_length}`;
  const inMachine = (argv: string[]) => ['nsenter', '-t', String(leader), '-n', '--', ...argv];
  const steps: Array<{ argv: string[] }> = [
    { argv: ['ip', 'addr', 'replace', cidr(network.host_address), 'dev', network.host_interface] },
    { argv: ['ip', 'link', 'set', network.host_interface, 'up'] },
    { argv: inMachine(['ip', 'link', 'set', 'lo', 'up']) },
    { argv: inMachine(['ip', 'addr', 'replace', cidr(network.address), 'dev', MACHINE_INTERFACE]) },
    { argv: inMachine(['ip', 'link', 'set', MACHINE_INTERFACE, 'up']) },
    { argv: inMachine(['ip', 'route', 'replace', 'default', 'via', network.host_address, 'dev', MACHINE_INTERFACE]) },
  ];
  for (const step of steps) {
    const run = await runHostCommand(step.argv, 10_000);
    if (run.code !== 0) {
      throw new PowernodeError(
        'machine_failed',
        `cannot configure the machine's network (${step.argv.join(' ')}): ${run.stderr.trim() || `exit ${run.code}`}; the host needs iproute2`,
        {
          retryable: true,
          details: { rule: 'machine_network', address: network.address },
        },
      );
    }
  }
}
