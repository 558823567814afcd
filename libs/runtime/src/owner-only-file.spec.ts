import { chmodSync, chownSync, mkdtempSync, rmSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { isPowernodeError } from '@powernode/contracts';
import { ensureOwnerOnlyFile } from './owner-only-file.js';

let dir: string;
beforeEach(() => {
  dir = mkdtempSync(path.join(os.tmpdir(), 'powernode-owner-only-'));
});
afterEach(() => rmSync(dir, { recursive: true, force: true }));

const modeOf = (file: string) => statSync(file).mode & 0o777;
function secretFile(mode: number): string {
  const file = path.join(dir, 'secret');
  writeFileSync(file, 'secret\n');
  chmodSync(file, mode);
  return file;
}
function refusal(run: () => void): { code: string; details: Record<string, unknown> | undefined; message: string } | undefined {
  try {
    run();
  } catch (error) {
    if (isPowernodeError(error)) return { code: error.code, details: error.details, message: error.message };
    throw error;
  }
  return undefined;
}

describe('ensureOwnerOnlyFile', () => {
  test.each([0o644, 0o640, 0o666, 0o604, 0o777])('sets a secret file with mode %o to 0600', (mode) => {
    const file = secretFile(mode);
    ensureOwnerOnlyFile(file);
    expect(modeOf(file)).toBe(0o600);
  });

  test.each([0o600, 0o400])('leaves an owner-only file with mode %o as it is', (mode) => {
    const file = secretFile(mode);
    ensureOwnerOnlyFile(file);
    expect(modeOf(file)).toBe(mode);
  });

  test('tightens the file a symbolic link points to', () => {
    const file = secretFile(0o644);
    const link = path.join(dir, 'link');
    symlinkSync(file, link);
    ensureOwnerOnlyFile(link);
    expect(modeOf(file)).toBe(0o600);
  });

  test('refuses a directory where the secret should be', () => {
    expect(refusal(() => ensureOwnerOnlyFile(dir))).toMatchObject({ code: 'config_invalid', details: { rule: 'secret_file_regular' } });
  });

  // Only root can give a file to another user; as root, the refusal is what this service decides.
  (process.getuid?.() === 0 ? test : test.skip)('refuses a loose secret file that belongs to another user, saying what to run, and changes nothing', () => {
    const file = secretFile(0o644);
    chownSync(file, 65534, 65534);
    expect(refusal(() => ensureOwnerOnlyFile(file))).toMatchObject({
      code: 'config_invalid',
      details: { rule: 'secret_file_owner_only', owner_uid: 65534 },
      message: expect.stringMatching(/mode 0644 .*chmod 600/),
    });
    expect(modeOf(file)).toBe(0o644);
  });
});
