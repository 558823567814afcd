import type { InstanceExecResult } from '@powernode/contracts';
import { fitExecReply } from './exec-reply.js';

const result = (stdout: string, stderr: string): InstanceExecResult => ({ exit_code: 0, stdout, stderr, truncated: false, timed_out: false, duration_ms: 5 });
const jsonBytes = (r: InstanceExecResult): number => Buffer.byteLength(JSON.stringify(r.stdout)) + Buffer.byteLength(JSON.stringify(r.stderr));

describe('fitExecReply', () => {
  it('leaves output that fits untouched', () => {
    const small = result('hello\n', 'warning\n');
    expect(fitExecReply(small, 1000)).toBe(small);
  });

  it('cuts a large stdout to what the reply can carry, keeps a short stderr whole and marks it truncated', () => {
    const fitted = fitExecReply(result('a'.repeat(5000), 'short\n'), 1000);
    expect(fitted.stderr).toBe('short\n');
    expect(fitted.stdout).toBe('a'.repeat(fitted.stdout.length));
    expect(jsonBytes(fitted)).toBeLessThanOrEqual(1000);
    expect(jsonBytes(fitted)).toBeGreaterThan(990);
    expect(fitted.truncated).toBe(true);
  });

  it('shares the budget when both streams are large', () => {
    const fitted = fitExecReply(result('o'.repeat(5000), 'e'.repeat(5000)), 1000);
    expect(fitted.stdout.length).toBeGreaterThan(450);
    expect(fitted.stderr.length).toBeGreaterThan(450);
    expect(jsonBytes(fitted)).toBeLessThanOrEqual(1000);
  });

  it('counts JSON escapes and multi-byte characters, and never splits a surrogate pair', () => {
    const fitted = fitExecReply(result('\u0000'.repeat(300) + '😀'.repeat(300), ''), 1000);
    expect(jsonBytes(fitted)).toBeLessThanOrEqual(1000);
    const emoji = fitExecReply(result('😀'.repeat(1000), ''), 1001);
    expect(emoji.stdout).toBe('😀'.repeat(emoji.stdout.length / 2));
  });
});
