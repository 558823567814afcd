import type { DescribedEntry } from './composefs-description.js';
import { stackDescriptions } from './stacked-description.js';

const dir = (path: string, mode = 0o755, uid = 0): DescribedEntry => ({ path, type: 'directory', mode, uid, gid: 0, size: 0 });
const file = (path: string, digest: string, size = 1): DescribedEntry => ({
  path,
  type: 'file',
  mode: 0o644,
  uid: 0,
  gid: 0,
  size,
  digest: `sha256:${digest.repeat(64).slice(0, 64)}`,
});
const link = (path: string, target: string): DescribedEntry => ({
  path,
  type: 'symlink',
  mode: 0o777,
  uid: 0,
  gid: 0,
  size: target.length,
  linkTarget: target,
});
const byPath = (entries: DescribedEntry[]) =>
  Object.fromEntries(
    entries.map((e) => [
      e.path,
      e.type === 'file' ? e.digest!.slice(7, 8) : e.type === 'symlink' ? `-> ${e.linkTarget}` : `dir ${e.mode.toString(8)} ${e.uid}`,
    ]),
  );

describe('the description of stacked layers', () => {
  it("merges directories (the higher one's owner and mode show) and lets a higher file replace a lower one", () => {
    const low = [dir('/etc'), file('/etc/a', 'a'), file('/etc/b', 'b')];
    const high = [dir('/etc', 0o700, 5), file('/etc/b', 'c'), file('/etc/d', 'd')];
    expect(byPath(stackDescriptions([low, high]))).toEqual({ '/etc': 'dir 700 5', '/etc/a': 'a', '/etc/b': 'c', '/etc/d': 'd' });
  });

  it('hides what a lower directory held when a higher layer puts a file or a symlink in its place', () => {
    const low = [dir('/opt'), dir('/opt/app'), file('/opt/app/run', 'a'), dir('/var'), dir('/var/lib'), file('/var/lib/x', 'b')];
    const high = [dir('/opt'), file('/opt/app', 'c'), dir('/var'), link('/var/lib', '/srv/lib')];
    expect(byPath(stackDescriptions([low, high]))).toEqual({ '/opt': 'dir 755 0', '/opt/app': 'c', '/var': 'dir 755 0', '/var/lib': '-> /srv/lib' });
  });

  it('lets a higher directory replace a lower symlink, and a third layer fill it', () => {
    const low = [link('/data', '/elsewhere')];
    const mid = [dir('/data'), file('/data/one', 'a')];
    const top = [dir('/data'), file('/data/two', 'b')];
    expect(byPath(stackDescriptions([low, mid, top]))).toEqual({ '/data': 'dir 755 0', '/data/one': 'a', '/data/two': 'b' });
  });

  it('does not hide siblings that only share a prefix with a replaced directory', () => {
    const low = [dir('/lib'), file('/lib/x', 'a'), dir('/lib64'), file('/lib64/ld', 'b')];
    const high = [link('/lib', 'usr/lib')];
    expect(byPath(stackDescriptions([low, high]))).toEqual({ '/lib': '-> usr/lib', '/lib64': 'dir 755 0', '/lib64/ld': 'b' });
  });
});
