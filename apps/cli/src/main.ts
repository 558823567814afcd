#!/usr/bin/env node
import { Command, CommanderError } from 'commander';
import { registerDevCommand } from './commands/dev-command.js';
import { registerDigestCommand } from './commands/digest-command.js';
import { registerModuleCommands } from './commands/module-command.js';
import { registerVerifyBlobCommand } from './commands/verify-blob-command.js';
import { registerHealthCommand } from './operator/health-command.js';
import { registerOperatorCommands } from './operator/operator-commands.js';
import { registerReplayCommand } from './operator/replay-command.js';

/** Exit codes of CONTRACT §4: 0 ok, 1 refused/invalid, 2 usage. */
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

try {
  await program.parseAsync(process.argv);
} catch (error) {
  if (error instanceof CommanderError) {
    process.exit(error.exitCode === 0 ? 0 : 2);
  }
  process.stderr.write(`powernode: ${(error as Error).message}\n`);
  process.exit(1);
}
