import { adduserConfWithBlock, loginDefsWithBlock, systemIdBlockFor } from './system-id-block.js';

describe('system id blocks of module package layers', () => {
  it("gives a module the same block every time, between the base system's first ids and the sysusers range", () => {
    const block = systemIdBlockFor('my-redis');
    expect(systemIdBlockFor('my-redis')).toEqual(block);
    expect(block.last - block.first).toBe(9);
    expect(block.first).toBeGreaterThanOrEqual(200);
    expect(block.last).toBeLessThan(950);
  });

  it("spreads the tutorial's modules over different blocks", () => {
    const firsts = ['my-redis', 'powernode-base-ruby', 'security-hardening', 'nginx', 'apache', 'chrony'].map((name) => systemIdBlockFor(name).first);
    expect(new Set(firsts).size).toBe(firsts.length);
  });

  it("sets adduser.conf's system ranges, replacing commented or present settings", () => {
    const text = 'DSHELL=/bin/bash\n#FIRST_SYSTEM_UID=100\nLAST_SYSTEM_UID=999\n';
    const out = adduserConfWithBlock(text, { first: 300, last: 309 });
    expect(out).toContain('FIRST_SYSTEM_UID=300\n');
    expect(out).toContain('LAST_SYSTEM_UID=309\n');
    expect(out).toContain('FIRST_SYSTEM_GID=300\n');
    expect(out).toContain('LAST_SYSTEM_GID=309\n');
    expect(out).not.toContain('#FIRST_SYSTEM_UID');
    expect(out).toContain('DSHELL=/bin/bash');
  });

  it("sets login.defs's SYS_UID/GID ranges, whitespace-separated", () => {
    const out = loginDefsWithBlock('UID_MIN\t\t\t 1000\n#SYS_UID_MIN\t\t  101\n', { first: 300, last: 309 });
    expect(out).toContain('SYS_UID_MIN 300\n');
    expect(out).toContain('SYS_UID_MAX 309\n');
    expect(out).toContain('SYS_GID_MIN 300\n');
    expect(out).toContain('UID_MIN\t\t\t 1000');
  });
});
