import { mkdtempSync, readFileSync, statSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { SecretBox, mintWebhookSecret } from './secret-box.js';

describe('SecretBox', () => {
  it('round-trips a secret and never stores the plain text in the ciphertext', () => {
    const box = SecretBox.loadOrCreate(mkdtempSync(path.join(os.tmpdir(), 'pn-secret-')));
    const secret = mintWebhookSecret();
    expect(secret).toMatch(/^[0-9a-f]{64}$/);
    const sealed = box.encrypt(secret);
    expect(sealed.ciphertext).not.toContain(secret);
    expect(Buffer.from(sealed.ciphertext, 'base64').toString('latin1')).not.toContain(secret);
    expect(box.decrypt(sealed)).toBe(secret);
  });

  it('creates the key file once with mode 0600 and reuses it', () => {
    const dir = mkdtempSync(path.join(os.tmpdir(), 'pn-secret-'));
    const a = SecretBox.loadOrCreate(dir);
    const key = readFileSync(path.join(dir, 'secret.key'), 'utf8');
    expect(statSync(path.join(dir, 'secret.key')).mode & 0o777).toBe(0o600);
    const b = SecretBox.loadOrCreate(dir);
    expect(readFileSync(path.join(dir, 'secret.key'), 'utf8')).toBe(key);
    expect(b.decrypt(a.encrypt('x'))).toBe('x');
  });

  it('refuses a tampered ciphertext and a secret sealed under another key', () => {
    const box = new SecretBox(Buffer.alloc(32, 1));
    const sealed = box.encrypt('hello');
    const raw = Buffer.from(sealed.ciphertext, 'base64');
    raw[raw.length - 1] ^= 1;
    expect(() => box.decrypt({ ...sealed, ciphertext: raw.toString('base64') })).toThrow(/failed authentication/);
    expect(() => new SecretBox(Buffer.alloc(32, 2)).decrypt(sealed)).toThrow(/rotate the module's webhook secret/);
  });

  it('refuses a malformed configured key', () => {
    expect(() => SecretBox.loadOrCreate('/nonexistent', 'abc')).toThrow(/64 hex characters/);
  });
});
