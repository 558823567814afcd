import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { compileFilter, compileGlob, type FilterRule } from './index.js';

// Every pattern below is run through the real rsync binary and through compileGlob/compileFilter over the
// same tree; the sets of files selected must be identical.

const FILES = [
  'conf',
  'd.txt',
  'etc/a.conf',
  'etc/passwd',
  'etc/shadow',
  'etc/conf/inner.conf',
  'etc/redis/redis.conf',
  'etc/redis/sentinel.conf',
  'etc/redis/tls/server.crt',
  'etc/ssh/ssh_host_rsa_key',
  'etc/ssh/ssh_host_rsa_key.pub',
  'etc/ssh/ssh_host_ed25519_key',
  'etc/ssh/sshd_config',
  'etc/ssh/sshd_config.d/10-powernode.conf',
  'etc/chrony/chrony.conf',
  'etc/systemd/system/multi-user.target.wants/powernode-agent.service',
  'var/cache/apt/archives/x.deb',
  'var/cache/apt/pkgcache.bin',
  'var/lib/redis/.gitkeep',
  'var/log/syslog',
  'usr/share/doc/redis/README',
  'usr/sbin/sshd',
  'boot/firmware/start4.elf',
  'boot/firmware/start4x.elf',
  'boot/firmware/fixup4.dat',
  'boot/firmware/bcm2711-rpi-4-b.dtb',
  'boot/firmware/overlays/foo.dtbo',
  'a/d.txt',
  'a/b/d.txt',
  'a/b/c/d.txt',
  'x/a/b',
  'dd/dir/f',
  'dd/dir2',
  'weird/file?name',
  'weird/star*name',
  'weird/[brackets]',
  'weird/with space.txt',
  'weird/Upper.TXT',
  'weird/-dash',
  'weird/back\\slash',
];

const PATTERNS = [
  '/etc/**',
  '/etc/*',
  '/etc/redis/**',
  '/etc/redis/*',
  '/etc/redis/redis.conf',
  'redis.conf',
  '*.conf',
  '/etc/*.conf',
  'etc/*.conf',
  'conf',
  'conf/',
  '/conf',
  '/etc/ssh/ssh_host_*_key',
  '/etc/ssh/ssh_host_*_key.pub',
  'ssh_host_*',
  '/boot/firmware/start*.elf',
  '/boot/firmware/bcm*-rpi-*.dtb',
  '/boot/firmware/fixup?.dat',
  '/boot/firmware/[sf]*',
  '/boot/firmware/[!s]*',
  '/boot/firmware/[^s]*',
  '/boot/firmware/start[0-9].elf',
  '/boot/firmware/start[[:digit:]]*',
  '*[[:upper:]]*',
  '[a-c]/*',
  '*/b/*',
  'b/d.txt',
  'a/b',
  '/a/b',
  '/x/a/b',
  'b/**',
  '**/d.txt',
  'a/**/d.txt',
  '/a/**/d.txt',
  '/a/**',
  'a/**',
  '**',
  '*',
  '/*',
  '?',
  '/var/cache/apt/**',
  '/var/cache/',
  'cache/',
  '/var/*/redis/',
  'redis/',
  '/etc/redis/***',
  'redis/***',
  '/usr/share/doc/**',
  '/usr/share/doc/***',
  'weird/file\\?name',
  'weird/star\\*name',
  'weird/\\[brackets]',
  'weird/[[]brackets]',
  '/weird/*space*',
  'weird/back\\\\slash',
  'weird/back\\slash',
  'weird/[-a]*',
  'weird/[a-]*',
  '/etc/ssh/sshd_config.d/**',
  '.gitkeep',
  '/var/lib/redis/.gitkeep',
  '/etc',
  'etc',
  '/etc/',
  '**/redis/*.conf',
  '/**/redis/*',
  'd.txt',
  '/etc/**/*.conf',
  'etc/**.conf',
  '*/*/*',
  '/etc/systemd/system/*.wants/*',
  '**.service',
  '**d.txt',
  '/**/d.txt',
  '/x/a/b/***',
  'a/b/***',
  'dir/***',
  'dir2/***',
  '**/dir',
  '**/dir/',
  '**/dir/***',
  '/dd/*/',
  '/dd/dir*',
];

let root: string;
let source: string;

beforeAll(() => {
  root = mkdtempSync(path.join(os.tmpdir(), 'globs-rsync-'));
  source = path.join(root, 'src');
  for (const file of FILES) {
    mkdirSync(path.dirname(path.join(source, file)), { recursive: true });
    writeFileSync(path.join(source, file), file);
  }
  mkdirSync(path.join(root, 'dst'));
});

afterAll(() => rmSync(root, { recursive: true, force: true }));

/** The files (not directories) rsync would transfer with these filter arguments. */
function rsyncFiles(filterArgs: string[]): string[] {
  const out = execFileSync('rsync', ['-a', '--dry-run', '--out-format=%n', ...filterArgs, `${source}/`, `${path.join(root, 'dst')}/`], { encoding: 'utf8' });
  return out
    .split('\n')
    .filter((line) => line !== '' && !line.endsWith('/'))
    .sort();
}

/** Directories above `file` (relative), outermost first, as absolute module paths. */
function ancestors(file: string): string[] {
  const parts = file.split('/').slice(0, -1);
  return parts.map((_, i) => `/${parts.slice(0, i + 1).join('/')}`);
}

describe('compileGlob agrees with rsync', () => {
  test.each(PATTERNS)('include form (--include=*/ --include=%s --exclude=*)', (pattern) => {
    const glob = compileGlob(pattern);
    const ours = FILES.filter((file) => glob.match(`/${file}`, false)).sort();
    expect(ours).toEqual(rsyncFiles(['--include=*/', `--include=${pattern}`, '--exclude=*']));
  });

  test.each(PATTERNS)('mask form (--exclude=%s)', (pattern) => {
    const glob = compileGlob(pattern);
    const ours = FILES.filter((file) => !glob.match(`/${file}`, false) && !ancestors(file).some((dir) => glob.match(dir, true))).sort();
    expect(ours).toEqual(rsyncFiles([`--exclude=${pattern}`]));
  });
});

describe('compileFilter agrees with rsync on whole filter lists', () => {
  const lists: Record<string, FilterRule[]> = {
    'reference rsync_spec without a directory rule (reaches nothing below the root)': [
      { action: 'exclude', pattern: '/etc/redis/sentinel.conf' },
      { action: 'include', pattern: '/etc/redis/**' },
      { action: 'include', pattern: '/var/lib/redis/.gitkeep' },
      { action: 'exclude', pattern: '*' },
    ],
    'reference rsync_spec with parent directories included': [
      { action: 'exclude', pattern: '/etc/redis/sentinel.conf' },
      { action: 'include', pattern: '/etc/' },
      { action: 'include', pattern: '/etc/redis/' },
      { action: 'include', pattern: '/etc/redis/**' },
      { action: 'exclude', pattern: '*' },
    ],
    'mask, then file_spec, then every directory, then nothing else': [
      { action: 'exclude', pattern: '/var/cache/apt/**' },
      { action: 'exclude', pattern: '/etc/ssh/ssh_host_*_key' },
      { action: 'include', pattern: '/etc/**' },
      { action: 'include', pattern: '/var/**' },
      { action: 'include', pattern: '*/' },
      { action: 'exclude', pattern: '*' },
    ],
    'protected paths of a neighbour excluded before a broad file_spec': [
      { action: 'exclude', pattern: '/etc/shadow' },
      { action: 'exclude', pattern: '/etc/ssh/sshd_config.d/**' },
      { action: 'exclude', pattern: '/etc/ssh/sshd_config' },
      { action: 'include', pattern: '*/' },
      { action: 'include', pattern: '/etc/**' },
      { action: 'exclude', pattern: '*' },
    ],
    'excluding a directory drops everything below it, whatever comes later': [
      { action: 'exclude', pattern: '/boot/firmware/' },
      { action: 'include', pattern: '/boot/firmware/start4.elf' },
    ],
    'first match wins': [
      { action: 'include', pattern: '*.conf' },
      { action: 'exclude', pattern: '/etc/**' },
    ],
  };

  test.each(Object.entries(lists))('%s', (_name, rules) => {
    const filter = compileFilter(rules);
    const ours = FILES.filter((file) => filter.selects(`/${file}`, false)).sort();
    const args = rules.map((rule) => `--filter=${rule.action === 'include' ? '+' : '-'} ${rule.pattern}`);
    expect(ours).toEqual(rsyncFiles(args));
  });
});
