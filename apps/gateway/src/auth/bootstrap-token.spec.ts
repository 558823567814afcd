import { chmodSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { ensureBootstrapAdminToken } from './bootstrap-token.js';

let dataDir: string;
beforeEach(() => {
  dataDir = mkdtempSync(path.join(os.tmpdir(), 'powernode-admin-token-'));
});
afterEach(() => rmSync(dataDir, { recursive: true, force: true }));

const modeOf = (file: string) => statSync(file).mode & 0o777;

describe('the bootstrap admin token file', () => {
  test('is created with mode 0600 and kept across starts', () => {
    const first = ensureBootstrapAdminToken(dataDir, undefined);
    expect(modeOf(first.file!)).toBe(0o600);
    expect(ensureBootstrapAdminToken(dataDir, undefined).token).toBe(first.token);
  });

  test('an existing token readable by others keeps its value and is set back to 0600', () => {
    const file = path.join(dataDir, 'admin-token');
    writeFileSync(file, 'pn_admin_existing-token-value\n');
    chmodSync(file, 0o644);
    expect(ensureBootstrapAdminToken(dataDir, undefined)).toEqual({ token: 'pn_admin_existing-token-value', file });
    expect(modeOf(file)).toBe(0o600);
    expect(readFileSync(file, 'utf8')).toBe('pn_admin_existing-token-value\n');
  });

  test('POWERNODE_ADMIN_TOKEN leaves the data dir alone', () => {
    expect(ensureBootstrapAdminToken(dataDir, 'pn_admin_from-the-environment')).toEqual({ token: 'pn_admin_from-the-environment', file: undefined });
  });
});
