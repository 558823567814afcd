import { z } from 'zod';

/** The IPv4 subnet machine instances take their /30 from (`POWERNODE_MACHINE_SUBNET`), parsed. */
export interface MachineSubnet {
  /** First address of the subnet, as a 32-bit number. */
  base: number;
  prefixLength: number;
}

/** Default of `POWERNODE_MACHINE_SUBNET`: a private range unlikely to be routed on a host already. */
export const DEFAULT_MACHINE_SUBNET = '10.213.0.0/16';

const SUBNET_RULE = 'must be an IPv4 subnet from /8 to /29 with the host bits zero, e.g. 10.213.0.0/16';

/** `a.b.c.d` as a 32-bit number, or null. */
export function ipv4ToNumber(text: string): number | null {
  const parts = text.split('.');
  if (parts.length !== 4 || !parts.every((part) => /^\d{1,3}$/.test(part) && Number(part) <= 255)) return null;
  return parts.reduce((value, part) => value * 256 + Number(part), 0);
}

/** A 32-bit number as `a.b.c.d`. */
export function numberToIpv4(value: number): string {
  return [24, 16, 8, 0].map((shift) => Math.floor(value / 2 ** shift) % 256).join('.');
}

function subnetOf(cidr: string): MachineSubnet | null {
  const match = /^([0-9.]+)\/(\d{1,2})$/.exec(cidr.trim());
  if (match === null) return null;
  const base = ipv4ToNumber(match[1]!);
  const prefixLength = Number(match[2]);
  if (base === null || prefixLength < 8 || prefixLength > 29 || base % 2 ** (32 - prefixLength) !== 0) return null;
  return { base, prefixLength };
}

/** `POWERNODE_MACHINE_SUBNET` as configuration schemas read it: a CIDR string, parsed into a MachineSubnet. */
export const machineSubnetSchema = z.string().transform((cidr, context) => {
  const subnet = subnetOf(cidr);
  if (subnet === null) {
    context.addIssue({ code: 'custom', message: SUBNET_RULE });
    return z.NEVER;
  }
  return subnet;
});
