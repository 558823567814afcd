import { chmodSync, mkdirSync, mkdtempSync, rmSync, statSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { EnrolmentKeys } from './agent-secrets.js';

let dataDir: string;
beforeEach(() => {
  dataDir = mkdtempSync(path.join(os.tmpdir(), 'powernode-enrolment-key-'));
});
afterEach(() => rmSync(dataDir, { recursive: true, force: true }));

const keyFile = () => path.join(dataDir, 'provisioner', 'enrolment-key');
const modeOf = (file: string) => statSync(file).mode & 0o777;

describe('the enrolment key file', () => {
  test('is created with mode 0600', () => {
    EnrolmentKeys.loadOrCreate(dataDir);
    expect(modeOf(keyFile())).toBe(0o600);
  });

  test('an existing key readable by others keeps deriving the same tokens and is set back to 0600', () => {
    mkdirSync(path.dirname(keyFile()), { recursive: true });
    writeFileSync(keyFile(), `${'ab'.repeat(32)}\n`);
    chmodSync(keyFile(), 0o644);
    const before = EnrolmentKeys.loadOrCreate(dataDir).enrolmentToken('i-1');
    expect(modeOf(keyFile())).toBe(0o600);
    expect(EnrolmentKeys.loadOrCreate(dataDir).enrolmentToken('i-1')).toBe(before);
  });
});

describe('enrolment keys from a key held in memory', () => {
  test('derive the same tokens as the key file holding that key', () => {
    mkdirSync(path.dirname(keyFile()), { recursive: true });
    writeFileSync(keyFile(), `${'cd'.repeat(32)}\n`, { mode: 0o600 });
    expect(EnrolmentKeys.fromKey(Buffer.alloc(32, 0xcd)).enrolmentToken('i-1')).toBe(EnrolmentKeys.loadOrCreate(dataDir).enrolmentToken('i-1'));
    expect(EnrolmentKeys.fromKey(Buffer.alloc(32, 0xce)).enrolmentToken('i-1')).not.toBe(EnrolmentKeys.fromKey(Buffer.alloc(32, 0xcd)).enrolmentToken('i-1'));
  });

  test('refuse a key that is not 32 bytes (config_invalid, enrolment_key_length)', () => {
    for (const length of [0, 31, 33]) {
      expect(() => EnrolmentKeys.fromKey(Buffer.alloc(length))).toThrow(
        expect.objectContaining({ code: 'config_invalid', details: expect.objectContaining({ rule: 'enrolment_key_length', length }) }),
      );
    }
  });
});
