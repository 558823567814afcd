import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { readFile } from 'node:fs/promises';
import { setTimeout as sleep } from 'node:timers/promises';
import { machineRuns, type MachineRecord } from './machine-record.js';
import { parseProcStat, processStartTicks, processStillRuns } from './process-identity.js';

/*
 * Processes that end: an exited process is not the one recorded any more, even while it is a zombie its
 * parent has not collected (an nspawn or a machine PID 1 whose parent does not reap).
 */

function machineOf(pid: number, startTicks: string): MachineRecord {
  return { pid, start_ticks: startTicks, root_dir: 'roots/a', booted_at: '2026-12-07T20:00:00.000Z' };
}

describe('exited processes', () => {
  const children: ChildProcess[] = [];
  afterEach(() => {
    for (const child of children.splice(0)) child.kill('SIGKILL');
  });

  it('a process that exited and was collected is gone', async () => {
    const child = spawn('sleep', ['30'], { stdio: 'ignore' });
    children.push(child);
    await once(child, 'spawn');
    const recorded = { pid: child.pid!, start_ticks: (await processStartTicks(child.pid!))! };
    expect(await processStillRuns(recorded)).toBe(true);
    child.kill('SIGKILL');
    await once(child, 'exit');
    expect(await processStillRuns(recorded)).toBe(false);
  });

  it('a zombie (exited, not collected by its parent) is not the machine that was recorded', async () => {
    // `sleep 30` replaces the shell and never collects the short-lived child the shell started first.
    const parent = spawn('sh', ['-c', 'sleep 0 & exec sleep 30'], { stdio: 'ignore' });
    children.push(parent);
    await once(parent, 'spawn');
    let zombie: number | null = null;
    for (let attempt = 0; attempt < 200 && zombie === null; attempt++) {
      const [first] = (await readFile(`/proc/${parent.pid}/task/${parent.pid}/children`, 'utf8').catch(() => '')).trim().split(/\s+/);
      const stat = first === undefined || first === '' ? null : parseProcStat(await readFile(`/proc/${first}/stat`, 'utf8').catch(() => ''));
      if (stat?.state === 'Z') zombie = Number(first);
      else await sleep(25);
    }
    expect(zombie).not.toBeNull();
    const stat = parseProcStat(await readFile(`/proc/${zombie}/stat`, 'utf8'))!;
    expect(await processStartTicks(zombie!)).toBeNull();
    expect(await machineRuns(machineOf(zombie!, stat.start_ticks))).toBe(false);
  });
});
