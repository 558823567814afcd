import { Command } from 'commander';
import { registerDevCommand } from './commands/dev-command.js';
import { registerDigestCommand } from './commands/digest-command.js';
import { registerModuleCommands } from './commands/module-command.js';
import { registerVerifyBlobCommand } from './commands/verify-blob-command.js';
import { registerHealthCommand } from './operator/health-command.js';
import { registerOperatorCommands } from './operator/operator-commands.js';
import { registerReplayCommand } from './operator/replay-command.js';

/** The whole `powernode` command tree (used by the entry point and by the CLI reference generator). */
export function buildProgram(): Command {
  const program = new Command()
    .name('powernode')
    .description('Powernode: module supply chain and fleet reconciler')
    .showHelpAfterError()
    .exitOverride();
  registerDevCommand(program);
  registerModuleCommands(program);
  registerDigestCommand(program);
  registerVerifyBlobCommand(program);
  registerReplayCommand(program);
  registerHealthCommand(program);
  registerOperatorCommands(program);
  return program;
}

/** Every command's help text, depth first: the content of docs/cli.md. */
export function renderCliReference(program: Command = buildProgram()): string {
  const sections: string[] = [
    '# `powernode` command reference',
    '',
    'Generated from the CLI itself (`npx tsx apps/cli/scripts/generate-cli-docs.ts`); a test fails when it is stale.',
    'Exit codes: 0 ok, 1 refused or invalid, 2 usage error. `--json` prints machine-readable output.',
    '',
  ];
  const walk = (command: Command, path: string[]) => {
    const name = [...path, command.name()].join(' ');
    sections.push(`## ${name}`, '', '```text', command.helpInformation({ error: false }).trimEnd(), '```', '');
    for (const sub of command.commands) walk(sub, [...path, command.name()]);
  };
  walk(program, []);
  return `${sections.join('\n').trimEnd()}\n`;
}
