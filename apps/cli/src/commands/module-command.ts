import type { Command } from 'commander';
import { registerModuleBuildCommand } from './module-build-command.js';
import { registerModuleInitCommand } from './module-init-command.js';
import { registerModulePublishCommand } from './module-publish-command.js';
import { registerModulePushCommand } from './module-push-command.js';
import { registerModuleSignCommand } from './module-sign-command.js';
import { registerModuleValidateCommand } from './module-validate-command.js';

/** `powernode module …`: the module supply chain, from a new repository to a signed, reported artifact. */
export function registerModuleCommands(program: Command): void {
  const module = program
    .command('module')
    .description('author, validate, build, push, sign and publish NodeModules')
    .addHelpText('after', '\nA typical CI run is `powernode module publish <dir> --ref … --repo-full-name … --webhook-url … --webhook-secret …`.');
  registerModuleInitCommand(module);
  registerModuleValidateCommand(module);
  registerModuleBuildCommand(module);
  registerModulePushCommand(module);
  registerModuleSignCommand(module);
  registerModulePublishCommand(module);
}
