import { PowernodeError } from '@powernode/contracts';

// Module commands (`init.start`, `services[].start_command`, …) are argv lists written as one string. They are
// split here with POSIX shell quoting rules and then executed directly, never by a shell: nothing is expanded,
// so anything that only means something to a shell (pipes, `;`, `&&`, redirections, `$VAR`, `$(…)`, back-ticks,
// comments, `~`, leading `VAR=value`) is refused instead of being passed on as a literal argument.

/** A command string that cannot be turned into an argv list; `offset` is the index of the offending character. */
export class CommandSyntaxError extends PowernodeError {
  readonly command: string;
  readonly reason: string;
  readonly offset: number;

  constructor(command: string, reason: string, offset: number) {
    super('validation_failed', `cannot split command "${command}" into arguments: ${reason} (at character ${offset + 1})`, {
      details: { command, reason, offset },
    });
    this.name = 'CommandSyntaxError';
    this.command = command;
    this.reason = reason;
    this.offset = offset;
  }
}

const OPERATORS: Readonly<Record<string, string>> = {
  '|': 'a pipe "|"',
  '&': 'a background or "&&" operator',
  ';': 'a command separator ";"',
  '<': 'a redirection "<"',
  '>': 'a redirection ">"',
  '(': 'a subshell "("',
  ')': 'a subshell ")"',
};

const NOT_A_SHELL = 'commands are executed directly, never by a shell; wrap shell logic in a script shipped in rootfs/ and run that';

function expansionAt(command: string, index: number): boolean {
  const next = command[index + 1];
  return next !== undefined && /[A-Za-z0-9_{(@*#?$!-]/.test(next);
}

/** Splits a command into argv with POSIX quoting (`'…'`, `"…"`, `\`), without any expansion; throws CommandSyntaxError. */
export function splitArgv(command: string): string[] {
  const argv: string[] = [];
  let word: string | undefined;
  let i = 0;
  const fail = (reason: string, at: number): never => {
    throw new CommandSyntaxError(command, reason, at);
  };
  while (i < command.length) {
    const ch = command[i] as string;
    if (ch === ' ' || ch === '\t') {
      if (word !== undefined) argv.push(word);
      word = undefined;
      i++;
    } else if (ch === '\n' || ch === '\r') {
      fail(`a line break outside quotes; a command is a single line (${NOT_A_SHELL})`, i);
    } else if (ch === "'") {
      const close = command.indexOf("'", i + 1);
      if (close === -1) fail('a single quote that is never closed', i);
      word = (word ?? '') + command.slice(i + 1, close);
      i = close + 1;
    } else if (ch === '"') {
      const open = i;
      let text = '';
      i++;
      for (;;) {
        const c = command[i];
        if (c === undefined) fail('a double quote that is never closed', open);
        if (c === '"') break;
        if (c === '\\' && command[i + 1] !== undefined && '$`"\\\n'.includes(command[i + 1] as string)) {
          if (command[i + 1] !== '\n') text += command[i + 1];
          i += 2;
          continue;
        }
        if (c === '`') fail(`command substitution "\`" (${NOT_A_SHELL})`, i);
        if (c === '$' && expansionAt(command, i))
          fail(`a "$" expansion, which a shell would replace inside double quotes (${NOT_A_SHELL}); write "\\$" for a literal dollar sign`, i);
        text += c;
        i++;
      }
      word = (word ?? '') + text;
      i++;
    } else if (ch === '\\') {
      const next = command[i + 1];
      if (next === undefined) fail('a trailing backslash that escapes nothing', i);
      if (next === '\n') fail(`a line continuation; a command is a single line (${NOT_A_SHELL})`, i);
      word = (word ?? '') + next;
      i += 2;
    } else if (OPERATORS[ch] !== undefined) {
      fail(`${OPERATORS[ch]} (${NOT_A_SHELL}); quote it if it is meant literally`, i);
    } else if (ch === '`') {
      fail(`command substitution "\`" (${NOT_A_SHELL})`, i);
    } else if (ch === '$' && expansionAt(command, i)) {
      fail(`a "$" expansion (${NOT_A_SHELL}); set variables in services[].env, or quote it with '…' if it is meant literally`, i);
    } else if (word === undefined && ch === '#') {
      fail(`a "#" comment (${NOT_A_SHELL}); quote it if it is meant literally`, i);
    } else if (word === undefined && ch === '~') {
      fail(`a "~" home-directory expansion (${NOT_A_SHELL}); write the absolute path`, i);
    } else {
      if (word === undefined && argv.length === 0) {
        const assignment = /^[A-Za-z_][A-Za-z0-9_]*=/.exec(command.slice(i));
        if (assignment !== null) fail(`a leading environment assignment "${assignment[0]}…" (${NOT_A_SHELL}); set variables in services[].env`, i);
      }
      word = (word ?? '') + ch;
      i++;
    }
  }
  if (word !== undefined) argv.push(word);
  return argv;
}
