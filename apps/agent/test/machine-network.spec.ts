import { mkdir, mkdtemp, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { machineSubnetSchema, type MachineSubnet } from '@powernode/contracts';
import { parseAgentConfig } from '../src/agent-config.js';
import { claimMachineNetwork, hostInterfaceOf, machineNetworkOf } from '../src/machine-network.js';

const parseMachineSubnet = (cidr: string): MachineSubnet => machineSubnetSchema.parse(cidr);
const agentEnv = {
  POWERNODE_INSTANCE_ID: 'i-1',
  POWERNODE_SANDBOX_DIR: '/tmp/pn-sandbox',
  POWERNODE_GATEWAY_URL: 'http://127.0.0.1:8080',
  POWERNODE_OCI_REGISTRY: '127.0.0.1:5000',
};

let workDir: string;

beforeAll(async () => {
  workDir = await mkdtemp(path.join(tmpdir(), 'pn-machine-network-'));
});

afterAll(async () => {
  await rm(workDir, { recursive: true, force: true });
});

/** An instance with a sandbox that exists, as the driver creates it. */
async function instance(name: string): Promise<{ instanceId: string; sandboxDir: string }> {
  const sandboxDir = path.join(workDir, 'instances', name, 'sandbox');
  await mkdir(sandboxDir, { recursive: true });
  return { instanceId: name, sandboxDir };
}

describe("the machines' subnet", () => {
  it('accepts an aligned IPv4 subnet from /8 to /29', () => {
    expect(parseMachineSubnet('10.213.0.0/16')).toEqual({ base: (10 * 256 + 213) * 65536, prefixLength: 16 });
    expect(parseMachineSubnet('192.168.7.8/29').prefixLength).toBe(29);
  });

  it.each([
    ['10.213.0.1/16', 'host bits set'],
    ['10.213.0.0/30', 'too small for two machines'],
    ['10.0.0.0/7', 'too large'],
    ['300.1.1.0/24', 'not an address'],
    ['fd00::/64', 'IPv6'],
    ['10.213.0.0', 'no prefix'],
  ])('refuses %s (%s), naming the variable', (cidr) => {
    expect(() => parseAgentConfig({ ...agentEnv, POWERNODE_MACHINE_SUBNET: cidr })).toThrow(
      expect.objectContaining({
        code: 'config_invalid',
        message: expect.stringContaining(`POWERNODE_MACHINE_SUBNET: must be an IPv4 subnet from /8 to /29 with the host bits zero`),
      }),
    );
  });

  it('defaults to 10.213.0.0/16', () => {
    expect(parseAgentConfig(agentEnv).machineSubnet).toEqual(parseMachineSubnet('10.213.0.0/16'));
  });

  it('gives block n the host end .4n+1 and the machine .4n+2 on a 15-character host interface', () => {
    const network = machineNetworkOf('inst-1', parseMachineSubnet('10.213.0.0/16'), 300);
    expect(network).toEqual({ host_interface: hostInterfaceOf('inst-1'), host_address: '10.213.4.177', address: '10.213.4.178', prefix_length: 30 });
    expect(network.host_interface).toMatch(/^pn-[0-9a-f]{12}$/);
  });
});

describe('claiming a /30', () => {
  it("keeps an instance's block across claims and gives concurrent instances distinct blocks", async () => {
    const dir = path.join(workDir, 'claims-concurrent');
    const subnet = parseMachineSubnet('10.214.0.0/24');
    const instances = await Promise.all(Array.from({ length: 12 }, (_, i) => instance(`concurrent-${i}`)));
    const claimed = await Promise.all(instances.map((one) => claimMachineNetwork(dir, one, subnet)));
    expect(new Set(claimed.map((network) => network.address)).size).toBe(12);
    const again = await claimMachineNetwork(dir, instances[3]!, subnet);
    expect(again.address).toBe(claimed[3]!.address);
    expect((await readdir(dir)).filter((name) => /^\d+$/.test(name))).toHaveLength(12);
  });

  it('frees the block of a destroyed instance (its sandbox is gone) and says so when the subnet is full', async () => {
    const dir = path.join(workDir, 'claims-full');
    const subnet = parseMachineSubnet('10.215.0.0/29'); // two blocks
    const [a, b, c] = [await instance('full-a'), await instance('full-b'), await instance('full-c')];
    await claimMachineNetwork(dir, a, subnet);
    const second = await claimMachineNetwork(dir, b, subnet);
    await expect(claimMachineNetwork(dir, c, subnet)).rejects.toMatchObject({
      code: 'machine_failed',
      message: expect.stringMatching(/no free \/30 left in the machines' subnet 10\.215\.0\.0\/29.*POWERNODE_MACHINE_SUBNET/),
    });
    await rm(path.dirname(b.sandboxDir), { recursive: true });
    expect((await claimMachineNetwork(dir, c, subnet)).address).toBe(second.address);
  });
});
