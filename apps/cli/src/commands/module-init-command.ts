import { mkdir, readdir, writeFile } from 'node:fs/promises';
import path from 'node:path';
import type { Command } from 'commander';
import { PowernodeError } from '@powernode/contracts';
import { commandAction, UsageError, writeJson, writeLine } from './module-command-action.js';
import { isModuleName, renderModuleTemplate } from './module-template-files.js';

interface InitOptions {
  name?: string;
  displayName?: string;
  force?: boolean;
  json?: boolean;
}

/** What is in `dir`: absent, empty, or the names it holds. */
async function directoryEntries(dir: string): Promise<string[] | undefined> {
  try {
    return await readdir(dir);
  } catch (cause) {
    const code = (cause as NodeJS.ErrnoException).code;
    if (code === 'ENOENT') return undefined;
    throw new PowernodeError(
      'validation_failed',
      `cannot use ${dir} for a new module: ${code === 'ENOTDIR' ? 'it is a file' : (cause as Error).message}; pass a new or empty directory`,
      {
        cause,
        details: { dir },
      },
    );
  }
}

/** `powernode module init <dir>`: a new module repository from the canonical template. */
export function registerModuleInitCommand(module: Command): void {
  module
    .command('init')
    .description('create a module repository from the canonical template: manifest.yaml, rootfs/, Containerfile, CI workflows that publish on tag push')
    .argument('<dir>', 'directory to create (must be empty or absent unless --force)')
    .option('--name <name>', 'module name written in manifest.yaml (default: the directory name)')
    .option('--display-name <text>', 'display name written in manifest.yaml (default: derived from the name)')
    .option('--force', 'write into a non-empty directory, overwriting the template files it already has')
    .option('--json', 'print {dir, name, files:[…]}')
    .addHelpText(
      'after',
      [
        '',
        'Files written:',
        '  manifest.yaml                 the module manifest (edit package_spec, file_spec, init)',
        '  rootfs/.gitkeep               files under rootfs/ are copied verbatim into the module',
        '  Containerfile                 the package build stage',
        '  .gitea/workflows/build.yaml   Gitea Actions: on a v*.*.* tag, `powernode module publish` (keyless signing)',
        '  .github/workflows/build.yaml  the same for GitHub Actions',
        '',
        'Exit status: 0 created, 1 refused (directory not empty, invalid name), 2 usage.',
      ].join('\n'),
    )
    .action(
      commandAction(async (dir: string, options: InitOptions) => {
        const name = options.name ?? path.basename(path.resolve(dir));
        if (!isModuleName(name)) {
          const message = `module name "${name}" is invalid: use 1-64 lowercase letters, digits or hyphens, starting with a letter and not ending with a hyphen`;
          if (options.name === undefined) throw new UsageError(`${message}; the directory name is not usable, pass --name`);
          throw new PowernodeError('validation_failed', message, { details: { field: 'name', value: name } });
        }
        const existing = await directoryEntries(dir);
        if (existing !== undefined && existing.length > 0 && options.force !== true) {
          throw new PowernodeError(
            'conflict',
            `${dir} is not empty (${existing.slice(0, 5).join(', ')}${existing.length > 5 ? ', …' : ''}); choose a new directory or pass --force to write the template files into it`,
            {
              details: { dir },
            },
          );
        }
        const files = await renderModuleTemplate({ name, ...(options.displayName === undefined ? {} : { displayName: options.displayName }) });
        for (const file of files) {
          const target = path.join(dir, file.path);
          await mkdir(path.dirname(target), { recursive: true });
          await writeFile(target, file.content);
        }
        if (options.json === true) {
          writeJson({ dir, name, files: files.map((file) => file.path) });
          return 0;
        }
        writeLine(`created module ${name} in ${dir}`);
        for (const file of files) writeLine(`  ${file.path}`);
        writeLine('');
        writeLine('next: edit manifest.yaml, add files under rootfs/, then check with');
        writeLine(`  npx powernode module validate ${dir}`);
        return 0;
      }),
    );
}
