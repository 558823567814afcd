import { parseKernelIntegrityLine } from './integrity-watch.js';

describe('kernel integrity lines', () => {
  it("reads the inode of an object whose page failed fs-verity's Merkle tree", () => {
    const record = '3,1234,56789012,-;fs-verity (vdc, inode 1042): FILE CORRUPTED! pos=0, level=-1, want_hash=sha256:00, real_hash=sha256:11';
    expect(parseKernelIntegrityLine(record)).toEqual({ kind: 'inode', device: 'vdc', inode: 1042 });
  });

  it('reads the object name overlayfs refused for a wrong or missing fs-verity digest', () => {
    const name = 'c'.repeat(62);
    expect(parseKernelIntegrityLine(`4,99,1,-;overlayfs: lower file '${name}' has the wrong fs-verity digest`)).toEqual({ kind: 'object_name', name });
    expect(parseKernelIntegrityLine(`4,99,1,-;overlayfs: lower file '${name}' has no fs-verity digest`)).toEqual({ kind: 'object_name', name });
  });

  it('ignores every other kernel line', () => {
    expect(parseKernelIntegrityLine('6,1,1,-;EXT4-fs (vdb): mounted filesystem')).toBeNull();
  });
});
