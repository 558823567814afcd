import { PowernodeError } from '@powernode/contracts';

/** A glob that rsync would not read the way its author meant: unclosed `[`, empty pattern, trailing `\`, … */
export class GlobSyntaxError extends PowernodeError {
  /** The pattern as written. */
  readonly pattern: string;
  /** Why it is refused, without the pattern (for messages that already name the field). */
  readonly reason: string;
  /** Offset (in UTF-16 code units) of the offending character, when one character is to blame. */
  readonly offset: number | undefined;

  constructor(pattern: string, reason: string, offset?: number) {
    super('validation_failed', `invalid glob "${pattern}": ${reason}`, { details: offset === undefined ? { pattern, reason } : { pattern, reason, offset } });
    this.name = 'GlobSyntaxError';
    this.pattern = pattern;
    this.reason = reason;
    this.offset = offset;
  }
}
