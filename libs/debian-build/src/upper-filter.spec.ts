import { execFileSync } from 'node:child_process';
import { chmod, chown, link, mkdir, mkdtemp, rm, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { filterCapturedUpper } from './upper-filter.js';

let work: string;
let lower: string;
let upper: string;

async function put(root: string, relative: string, content: string, mode = 0o644): Promise<void> {
  await mkdir(path.dirname(path.join(root, relative)), { recursive: true });
  await writeFile(path.join(root, relative), content);
  await chmod(path.join(root, relative), mode);
}

beforeAll(async () => {
  work = await mkdtemp(path.join(tmpdir(), 'pn-upper-'));
  lower = path.join(work, 'lower');
  upper = path.join(work, 'upper');
  await put(lower, 'etc/passwd', 'root:x:0:0\n');
  await put(lower, 'var/lib/dpkg/status', 'base\n');
  await put(lower, 'var/cache/debconf/config.dat', 'same\n');
  await put(lower, 'etc/old.conf', 'to delete\n');
  await put(lower, 'usr/share/doc/base/README', 'kept\n');
  for (const dir of ['var/cache/apt', 'var/log/apt']) await mkdir(path.join(lower, dir), { recursive: true });
  // The upper as an install leaves it: changed databases, new files, noise, untouched copies.
  await put(upper, 'etc/passwd', 'root:x:0:0\nredis:x:101:102\n');
  await put(upper, 'etc/passwd-', 'root:x:0:0\n');
  await put(upper, 'etc/.pwd.lock', '', 0o600);
  await put(upper, 'var/lib/dpkg/status', 'base\nredis\n');
  await put(upper, 'var/lib/dpkg/lock-frontend', '', 0o640);
  await put(upper, 'var/lib/dpkg/status-old', 'base\n');
  await put(upper, 'var/cache/debconf/config.dat', 'same\n');
  await put(upper, 'var/cache/apt/pkgcache.bin', 'cache');
  await put(upper, 'var/log/apt/history.log', 'log');
  await mkdir(path.join(upper, 'var/log/redis'), { recursive: true });
  await chown(path.join(upper, 'var/log/redis'), 101, 4);
  await chmod(path.join(upper, 'var/log/redis'), 0o2750);
  await put(upper, 'usr/bin/redis-check-rdb', 'ELF', 0o755);
  await link(path.join(upper, 'usr/bin/redis-check-rdb'), path.join(upper, 'usr/bin/redis-hardlink'));
  await symlink('redis-check-rdb', path.join(upper, 'usr/bin/redis-server'));
  await put(upper, 'usr/bin/su-tool', 'x', 0o4755);
  await mkdir(path.join(upper, 'var/lib/redis'), { recursive: true });
  await chown(path.join(upper, 'var/lib/redis'), 101, 102);
  await chmod(path.join(upper, 'var/lib/redis'), 0o750);
  execFileSync('mknod', [path.join(upper, 'etc/old.conf'), 'c', '0', '0']);
  execFileSync('mkfifo', [path.join(upper, 'usr/bin/a-fifo')]);
});

afterAll(async () => {
  await rm(work, { recursive: true, force: true });
});

describe('filterCapturedUpper', () => {
  it('keeps what the install added or changed, with real owners and modes, and nothing else', async () => {
    const layer = await filterCapturedUpper(upper, lower, ['/usr/share/doc/base']);
    expect(layer.entries.map((entry) => `${entry.type} ${entry.path} ${entry.mode.toString(8)} ${entry.uid}:${entry.gid}`)).toEqual([
      'directory /etc 755 0:0',
      'file /etc/passwd 644 0:0',
      'directory /usr 755 0:0',
      'directory /usr/bin 755 0:0',
      'file /usr/bin/redis-check-rdb 755 0:0',
      'file /usr/bin/redis-hardlink 755 0:0',
      'symlink /usr/bin/redis-server 777 0:0',
      'file /usr/bin/su-tool 4755 0:0',
      'directory /var 755 0:0',
      'directory /var/lib 755 0:0',
      'directory /var/lib/dpkg 755 0:0',
      'file /var/lib/dpkg/status 644 0:0',
      'directory /var/lib/redis 750 101:102',
      'directory /var/log 755 0:0',
      'directory /var/log/redis 2750 101:4',
    ]);
    expect(layer.deleted).toEqual(['/etc/old.conf', '/usr/share/doc/base']);
    expect(layer.warnings).toEqual([expect.stringContaining('/usr/bin/a-fifo: a socket, FIFO or device node')]);
  });
});
