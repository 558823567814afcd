import { mkdtemp, readFile, rm, stat, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { processStartTicks } from './process-identity.js';
import { machineRecordPath, machineRuns, parseMachineRecord, readMachineRecord, writeMachineRecord, type MachineRecord } from './machine-record.js';

const record: MachineRecord = {
  pid: 4242,
  start_ticks: '987654',
  root_dir: 'roots/gen-3',
  booted_at: '2026-12-07T20:00:00.000Z',
  network: { host_interface: 'pn-abc', host_address: '10.213.0.1', address: '10.213.0.2', prefix_length: 30 },
  leader: { pid: 4250, start_ticks: '987700' },
};

describe('parseMachineRecord', () => {
  it('reads what the keeper writes, network and leader included', () => {
    expect(parseMachineRecord(JSON.stringify(record, null, 2))).toEqual(record);
  });

  it('reads a record from before machines had a network or a known leader', () => {
    const { network: _network, leader: _leader, ...bare } = record;
    expect(parseMachineRecord(JSON.stringify(bare))).toEqual(bare);
  });

  it.each([
    ['torn JSON', JSON.stringify(record).slice(0, 30)],
    ['not an object', '42'],
    ['null', 'null'],
    ['a pid that is a string', JSON.stringify({ ...record, pid: '4242' })],
    ['pid 0 (a signal to it would reach the whole process group)', JSON.stringify({ ...record, pid: 0 })],
    ['a negative pid', JSON.stringify({ ...record, pid: -4242 })],
    ['no start time', JSON.stringify({ ...record, start_ticks: undefined })],
    ['no root', JSON.stringify({ ...record, root_dir: undefined })],
    ['a leader without a start time', JSON.stringify({ ...record, leader: { pid: 4250 } })],
    ['a fractional leader pid', JSON.stringify({ ...record, leader: { pid: 4250.5, start_ticks: '1' } })],
    ['a network without its host interface', JSON.stringify({ ...record, network: { ...record.network, host_interface: 7 } })],
  ])('is null for %s: it names no machine that can be vouched for', (_what, text) => {
    expect(parseMachineRecord(text)).toBeNull();
  });
});

describe('machine.json on disk', () => {
  let sandboxDir: string;
  beforeEach(async () => {
    sandboxDir = await mkdtemp(path.join(os.tmpdir(), 'powernode-machine-record-'));
  });
  afterEach(async () => {
    await rm(sandboxDir, { recursive: true, force: true });
  });

  it('is written owner-only and read back; a missing or unreadable file is no record', async () => {
    expect(await readMachineRecord(sandboxDir)).toBeNull();
    await writeMachineRecord(sandboxDir, record);
    expect((await stat(machineRecordPath(sandboxDir))).mode & 0o777).toBe(0o600);
    expect(await readMachineRecord(sandboxDir)).toEqual(record);
    expect(JSON.parse(await readFile(path.join(sandboxDir, 'machine.json'), 'utf8'))).toEqual(record);
    await writeFile(machineRecordPath(sandboxDir), '{"pid": 42');
    expect(await readMachineRecord(sandboxDir)).toBeNull();
  });

  it('a machine runs only while its pid is still the process with the recorded start time', async () => {
    const ticks = (await processStartTicks(process.pid))!;
    expect(await machineRuns({ ...record, pid: process.pid, start_ticks: ticks })).toBe(true);
    // The pid reused by another process (this one): a different start time, so not the machine.
    expect(await machineRuns({ ...record, pid: process.pid, start_ticks: `${BigInt(ticks) + 1n}` })).toBe(false);
    expect(await machineRuns(null)).toBe(false);
  });
});
