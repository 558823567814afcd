import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { openAuditFile, toCloudEvent } from './audit-sink.js';

const event = {
  id: 'e-1',
  stream: 'module-42',
  version: 3,
  position: 17,
  type: 'ModuleRegistered',
  schema_version: 1,
  occurred_at: '2026-12-07T10:00:00.000Z',
  correlation_id: 'c-1',
  causation_id: null,
  actor: 'token:admin',
  data: { name: 'my-redis' },
};

describe('toCloudEvent', () => {
  it('maps an event to CloudEvents 1.0 with lower-case extension attributes', () => {
    const ce = toCloudEvent(event, 17);
    expect(ce).toEqual({
      specversion: '1.0',
      id: 'e-1',
      source: '/powernode/streams/module-42',
      type: 'io.powernode.ModuleRegistered.v1',
      subject: 'module-42',
      time: '2026-12-07T10:00:00.000Z',
      datacontenttype: 'application/json',
      powernodeposition: 17,
      powernodeversion: 3,
      powernodecorrelationid: 'c-1',
      powernodecausationid: null,
      powernodeactor: 'token:admin',
      data: { name: 'my-redis' },
    });
    for (const key of Object.keys(ce)) expect(key).toMatch(/^[a-z0-9]+$/);
    expect(toCloudEvent({ ...event, data: null, data_withheld: true }, 17)).toMatchObject({ powernodedatawithheld: true, data: null });
  });
});

describe('openAuditFile', () => {
  let dir: string;
  beforeEach(() => (dir = mkdtempSync(path.join(tmpdir(), 'pn-audit-file-'))));
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  it('starts an empty file with no position, and resumes after the last complete line, cutting a torn one', () => {
    const file = path.join(dir, 'audit.jsonl');
    const first = openAuditFile(file);
    expect(first.last_position).toBeUndefined();
    first.append([JSON.stringify(toCloudEvent(event, 5)), JSON.stringify(toCloudEvent(event, 9))]);
    first.close();
    writeFileSync(file, `${readFileSync(file, 'utf8')}{"specversion":"1.0","powernodeposition":1`);

    const again = openAuditFile(file);
    expect(again.last_position).toBe(9);
    again.append([JSON.stringify(toCloudEvent(event, 12))]);
    again.close();
    expect(
      readFileSync(file, 'utf8')
        .trimEnd()
        .split('\n')
        .map((l) => JSON.parse(l).powernodeposition),
    ).toEqual([5, 9, 12]);
  });

  it('refuses a file whose last line is not one of its own, and leaves it alone', () => {
    const file = path.join(dir, 'notes.txt');
    writeFileSync(file, '{"note":"mine"}\n');
    expect(() => openAuditFile(file)).toThrow(/no powernodeposition: it is not an audit file/);
    expect(readFileSync(file, 'utf8')).toBe('{"note":"mine"}\n');
  });
});
