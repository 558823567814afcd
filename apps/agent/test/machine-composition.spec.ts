import { PowernodeError } from '@powernode/contracts';
import { parseSystemctlShow, serviceStateOf } from '../src/machine-services.js';
import { quoteUnitWord, serviceUnitText, unitsOfModule } from '../src/service-units.js';
import { mergeSharedDatabase } from '../src/shared-databases.js';

const base = 'root:x:0:0:root:/root:/bin/bash\n_apt:x:42:65534::/nonexistent:/usr/sbin/nologin\n';

describe('shared databases merged at compose time', () => {
  it("keeps every module's users: the union of each layer's /etc/passwd", () => {
    const redis = `${base}redis:x:100:101::/var/lib/redis:/usr/sbin/nologin\n`;
    const audit = `${base}auditor:x:101:102::/nonexistent:/usr/sbin/nologin\n`;
    const merged = mergeSharedDatabase('/etc/passwd', [
      { module_name: 'system-base', content: base },
      { module_name: 'my-redis', content: redis },
      { module_name: 'security-hardening', content: audit },
    ]);
    expect(
      merged
        .split('\n')
        .filter(Boolean)
        .map((line) => line.split(':')[0]),
    ).toEqual(['root', '_apt', 'redis', 'auditor']);
  });

  it('refuses the same user name with another uid, naming both modules', () => {
    const run = (): string =>
      mergeSharedDatabase('/etc/passwd', [
        { module_name: 'my-redis', content: `${base}redis:x:100:101::/:/bin/false\n` },
        { module_name: 'other-redis', content: `${base}redis:x:105:101::/:/bin/false\n` },
      ]);
    expect(run).toThrow(PowernodeError);
    expect(run).toThrow(/my-redis and other-redis/);
  });

  it('refuses one uid under two names: files on disk are owned by that uid', () => {
    expect(() =>
      mergeSharedDatabase('/etc/passwd', [
        { module_name: 'a', content: `${base}redis:x:100:101::/:/bin/false\n` },
        { module_name: 'b', content: `${base}nginx:x:100:102::/:/bin/false\n` },
      ]),
    ).toThrow(/id 100/);
  });

  it("merges dpkg status stanzas by package, the higher layer replacing a lower one's stanza", () => {
    const stanza = (name: string, version: string): string => `Package: ${name}\nStatus: install ok installed\nArchitecture: amd64\nVersion: ${version}\n`;
    const merged = mergeSharedDatabase('/var/lib/dpkg/status', [
      { module_name: 'system-base', content: `${stanza('libc6', '2.36-9')}\n${stanza('systemd', '252.38')}` },
      { module_name: 'my-redis', content: `${stanza('libc6', '2.36-9')}\n${stanza('systemd', '252.38')}\n${stanza('redis-server', '5:7.0.15-1')}` },
      { module_name: 'ruby', content: `${stanza('libc6', '2.36-9+deb12u1')}\n${stanza('systemd', '252.38')}\n${stanza('ruby3.1', '3.1.2-7')}` },
    ]);
    expect(merged.match(/^Package: /gm)).toHaveLength(4);
    expect(merged).toContain('Version: 2.36-9+deb12u1');
    expect(merged).toContain('Package: redis-server');
    expect(merged).toContain('Package: ruby3.1');
  });
});

describe('manifest services become systemd units', () => {
  it('writes ExecStart from the argv, User, and Restart from restart_policy', () => {
    const text = serviceUnitText('my-app', { name: 'my-app', start_command: '/usr/bin/my-app --port 8080 "two words"', user: 'app', restart_policy: 'always' });
    expect(text).toContain('ExecStart="/usr/bin/my-app" "--port" "8080" "two words"');
    expect(text).toContain('User=app');
    expect(text).toContain('Restart=always');
    expect(text).toContain('WantedBy=multi-user.target');
  });

  it('quotes words so systemd expands no variable or specifier', () => {
    expect(quoteUnitWord('$HOME%i"\\')).toBe('"$$HOME%%i\\"\\\\"');
  });

  it("reads the units a module's state comes from out of its services and its systemctl init.start", () => {
    expect(unitsOfModule([], 'systemctl start redis-server')).toEqual(['redis-server.service']);
    expect(unitsOfModule([{ name: 'worker' }], 'systemctl --no-block start auditd apparmor.service')).toEqual([
      'apparmor.service',
      'auditd.service',
      'worker.service',
    ]);
    expect(unitsOfModule([], '/usr/local/bin/start-it')).toEqual([]);
    expect(unitsOfModule([], null)).toEqual([]);
  });
});

describe('service states read inside the machine', () => {
  it('parses systemctl show blocks in order, with unix timestamps', () => {
    const output =
      'Id=redis-server.service\nActiveState=active\nStateChangeTimestamp=@1796650314\n\nId=broken.service\nActiveState=failed\nStateChangeTimestamp=\n';
    expect(parseSystemctlShow(output)).toEqual([
      { unit: 'redis-server.service', state: 'active', since: new Date(1796650314000).toISOString() },
      { unit: 'broken.service', state: 'failed', since: null },
    ]);
  });

  it("folds systemd's active states into active, activating, failed and inactive", () => {
    expect(['active', 'reloading', 'activating', 'maintenance', 'failed', 'deactivating', 'inactive'].map(serviceStateOf)).toEqual([
      'active',
      'active',
      'activating',
      'activating',
      'failed',
      'inactive',
      'inactive',
    ]);
  });
});
