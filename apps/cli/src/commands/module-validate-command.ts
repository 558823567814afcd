import path from 'node:path';
import type { Command } from 'commander';
import type { ManifestValidationResult } from '@powernode/contracts';
import { formatValidationReport, validateModuleDir } from '@powernode/manifest';
import { commandAction, ReportedFailure, writeJson } from './module-command-action.js';

interface ValidateOptions {
  json?: boolean;
}

/** The validation object of `system_validate_module_manifest` (`{valid, errors, warnings}`), nothing more. */
export function validationJson(result: ManifestValidationResult): ManifestValidationResult {
  return { valid: result.valid, errors: result.errors, warnings: result.warnings };
}

/**
 * Validates a module directory and prints the report (to `stream`); throws `ReportedFailure` (exit 1)
 * when it has errors. Shared by validate, build, push and publish so that nothing invalid gets built.
 */
export async function requireValidModuleDir(dir: string, stream: NodeJS.WritableStream): Promise<ManifestValidationResult> {
  const result = await validateModuleDir(dir);
  if (!result.valid || result.warnings.length > 0) stream.write(formatValidationReport(result, { file: path.join(dir, 'manifest.yaml') }));
  if (!result.valid) throw new ReportedFailure({ validation: validationJson(result) });
  return result;
}

/** `powernode module validate <dir>`: the dry run of a module repository. */
export function registerModuleValidateCommand(module: Command): void {
  module
    .command('validate')
    .description('check a module repository without building it: manifest schema, glob conflicts, rootfs files not covered by file_spec')
    .argument('<dir>', 'the module repository (manifest.yaml, rootfs/)')
    .option('--json', 'print the system_validate_module_manifest object {valid, errors, warnings}')
    .addHelpText(
      'after',
      '\nEach issue is printed as <file>:<line>:<col> <severity> <field path>: <message>.\nExit status: 0 valid (warnings allowed), 1 errors found, 2 usage.',
    )
    .action(
      commandAction(async (dir: string, options: ValidateOptions) => {
        const result = await validateModuleDir(dir);
        if (options.json === true) writeJson(validationJson(result));
        else process.stdout.write(formatValidationReport(result, { file: path.join(dir, 'manifest.yaml') }));
        return result.valid ? 0 : 1;
      }),
    );
}
