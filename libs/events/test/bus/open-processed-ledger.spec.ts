import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { openSqliteProcessedLedger } from '../../src/index.js';

describe('openSqliteProcessedLedger', () => {
  it('opens the ledger in a SQLite file that a second opening of the same file sees', async () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'pn-ledger-'));
    try {
      const file = path.join(dir, 'ledger.sqlite');
      const first = await openSqliteProcessedLedger(file);
      await first.add('ingest', 'evt-1');
      const second = await openSqliteProcessedLedger(file);
      expect(await second.has('ingest', 'evt-1')).toBe(true);
      expect(await second.has('ingest', 'evt-2')).toBe(false);
      first.close();
      second.close();
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
