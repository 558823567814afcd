import { parseProcStat, processStartTicks, processStillRuns, readProcessIdentity } from './process-identity.js';

/** A /proc/<pid>/stat line as Linux writes it, for a command named `comm`. */
function statLine(comm: string, state: string, startTicks: string): string {
  // Fields 4..21 (ppid … itrealvalue), then 22 (starttime) and a few after it.
  const middle = Array.from({ length: 18 }, (_, i) => String(i + 1)).join(' ');
  return `4242 (${comm}) ${state} ${middle} ${startTicks} 123456 789 18446744073709551615\n`;
}

describe('parseProcStat', () => {
  it('reads the state and field 22 (start time in ticks)', () => {
    expect(parseProcStat(statLine('systemd', 'S', '987654'))).toEqual({ state: 'S', start_ticks: '987654' });
  });

  it('counts fields after the last closing parenthesis: a command name with spaces and parentheses does not shift them', () => {
    expect(parseProcStat(statLine('a) b (c) 1 2', 'R', '555'))).toEqual({ state: 'R', start_ticks: '555' });
    expect(parseProcStat(statLine('(sd-pam)', 'Z', '31'))).toEqual({ state: 'Z', start_ticks: '31' });
  });

  it('keeps start times beyond 2^53 exact (a decimal string)', () => {
    expect(parseProcStat(statLine('node', 'S', '90071992547409931'))?.start_ticks).toBe('90071992547409931');
  });

  it('is null for text that is not such a line', () => {
    expect(parseProcStat('')).toBeNull();
    expect(parseProcStat('4242 no parentheses S 1 2 3')).toBeNull();
    expect(parseProcStat('4242 (short) S 1 2 3\n')).toBeNull();
    expect(parseProcStat(statLine('x', 'S', 'soon'))).toBeNull();
  });
});

describe('process start and identity (this host)', () => {
  it('this process is still itself; the same pid with another start time is another process', async () => {
    const ticks = await processStartTicks(process.pid);
    expect(ticks).toMatch(/^\d+$/);
    expect(await processStillRuns({ pid: process.pid, start_ticks: ticks! })).toBe(true);
    expect(await processStillRuns({ pid: process.pid, start_ticks: `${BigInt(ticks!) + 1n}` })).toBe(false);
    expect(await processStillRuns(undefined)).toBe(false);
    expect((await readProcessIdentity(process.pid))?.start_ticks).toBe(ticks);
  });

  it('a pid that names no process is no process', async () => {
    expect(await processStartTicks(0)).toBeNull();
    expect(await processStartTicks(-1)).toBeNull();
    expect(await processStartTicks(1.5)).toBeNull();
    expect(await readProcessIdentity(2 ** 22 + 1)).toBeNull();
  });
});
