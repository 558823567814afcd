import { PowernodeError } from '@powernode/contracts';

/** A glob that rsync would not read the way its author meant: unclosed `[`, empty pattern, trailing `\`, … */
export class GlobSyntaxError extends PowernodeError {
  /** The pattern as written. */
  readonly pattern: string;
  /** Why it is refused, without the pattern (for messages that already name the field). */
  readonly reason: string;
  /** Offset (in UTF-16 code units) of the offending character, when one character is to blame. */
  readonly offset: number | undefined;

  constructor(pattern: string, reason: string, offset?: number, extraDetails: Record<string, unknown> = {}) {
    super('validation_failed', `invalid glob "${abbreviateGlob(pattern)}": ${reason}`, {
      details: { ...(offset === undefined ? { pattern, reason } : { pattern, reason, offset }), ...extraDetails },
    });
    this.name = 'GlobSyntaxError';
    this.pattern = pattern;
    this.reason = reason;
    this.offset = offset;
  }
}

/** At most the start of a pattern, for messages: a pattern refused for its length is too long to quote whole. */
export function abbreviateGlob(pattern: string): string {
  return pattern.length <= 120 ? pattern : `${pattern.slice(0, 117)}...`;
}
