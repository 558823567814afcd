import { createHash } from 'node:crypto';

/*
 * Each module layer is captured on the same base, independently of every other module, so package scripts in
 * two layers would hand out the same first free system uid (redis in one, sshd in another) and the composed
 * instance could not hold both. A module's package scripts therefore allocate system users and groups from a
 * block of ids of its own, chosen from its name: the same module always gets the same ids (reproducible),
 * two modules rarely share a block, and when they do the compose step refuses with both names.
 */

/** An inclusive range of system uids and gids. */
export interface SystemIdBlock {
  first: number;
  last: number;
}

const BLOCK_SIZE = 10;
/** Blocks start above the ids the base system hands out first (100…) and stay below the sysusers range (…999). */
const FIRST_BLOCK_START = 200;
const BLOCKS = 75;

/** The block of system ids a module's package scripts allocate from (derived from its name). */
export function systemIdBlockFor(moduleName: string): SystemIdBlock {
  const index = createHash('sha256').update(moduleName).digest().readUInt32BE(0) % BLOCKS;
  const first = FIRST_BLOCK_START + index * BLOCK_SIZE;
  return { first, last: first + BLOCK_SIZE - 1 };
}

function setting(text: string, key: string, value: string, separator: '=' | ' '): string {
  const line = `${key}${separator}${value}`;
  const pattern = new RegExp(`^#?\\s*${key}(\\s*=|\\s+).*$`, 'm');
  return pattern.test(text) ? text.replace(pattern, line) : `${text.replace(/\n?$/, '\n')}${line}\n`;
}

/** adduser.conf with its system uid/gid range set to the block. */
export function adduserConfWithBlock(text: string, block: SystemIdBlock): string {
  let out = text;
  for (const kind of ['UID', 'GID']) {
    out = setting(out, `FIRST_SYSTEM_${kind}`, String(block.first), '=');
    out = setting(out, `LAST_SYSTEM_${kind}`, String(block.last), '=');
  }
  return out;
}

/** login.defs with its system uid/gid range (useradd -r, groupadd -r, systemd-sysusers) set to the block. */
export function loginDefsWithBlock(text: string, block: SystemIdBlock): string {
  let out = text;
  for (const kind of ['UID', 'GID']) {
    out = setting(out, `SYS_${kind}_MIN`, String(block.first), ' ');
    out = setting(out, `SYS_${kind}_MAX`, String(block.last), ' ');
  }
  return out;
}
