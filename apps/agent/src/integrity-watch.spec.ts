import { digestOfEvent, parseKernelIntegrityLine, type IntegrityIndex } from './integrity-watch.js';

const DIGEST = `sha256:ab${'c'.repeat(62)}`;
const INDEX: IntegrityIndex = { [DIGEST]: [{ path: '/etc/redis/redis.conf', module: 'my-redis' }] };

describe('kernel integrity lines', () => {
  it("reads the inode of an object whose page failed fs-verity's Merkle tree", () => {
    const record = '3,1234,56789012,-;fs-verity (vdc, inode 1042): FILE CORRUPTED! pos=0, level=-1, want_hash=sha256:00, real_hash=sha256:11';
    expect(parseKernelIntegrityLine(record)).toEqual({ kind: 'inode', device: 'vdc', inode: 1042 });
    expect(digestOfEvent({ kind: 'inode', device: 'vdc', inode: 1042 }, INDEX, new Map([['vdc:1042', DIGEST]]))).toBe(DIGEST);
    // The same inode number in another store is another object.
    expect(digestOfEvent({ kind: 'inode', device: 'vdd', inode: 1042 }, INDEX, new Map([['vdc:1042', DIGEST]]))).toBeNull();
  });

  it('reads the object name overlayfs refused for a wrong or missing fs-verity digest', () => {
    const name = 'c'.repeat(62);
    expect(parseKernelIntegrityLine(`4,99,1,-;overlayfs: lower file '${name}' has the wrong fs-verity digest`)).toEqual({ kind: 'object_name', name });
    expect(parseKernelIntegrityLine(`4,99,1,-;overlayfs: lower file '${name}' has no fs-verity digest`)).toEqual({ kind: 'object_name', name });
    expect(digestOfEvent({ kind: 'object_name', name }, INDEX, new Map())).toBe(DIGEST);
  });

  it('ignores every other kernel line, and inodes that are no object', () => {
    expect(parseKernelIntegrityLine('6,1,1,-;EXT4-fs (vdb): mounted filesystem')).toBeNull();
    expect(digestOfEvent({ kind: 'inode', device: 'vdc', inode: 7 }, INDEX, new Map())).toBeNull();
  });
});
