import type { Command } from 'commander';
import { isPowernodeError } from '@powernode/contracts/errors';
import { formatFsverityDigestLine, fsverityDigestOfFileParallel } from '@powernode/fsverity';
import { commandAction, writeJson, writeLine } from './module-command-action.js';

interface DigestOptions {
  compact?: boolean;
  json?: boolean;
}

/**
 * `powernode digest <file>…`: the fs-verity digest of each file (SHA-256, 4 KiB blocks, no salt), printed
 * exactly as `fsverity digest` prints it. Like that tool it stops at the first file it cannot read, after
 * printing the ones before it, and exits 1.
 */
export function registerDigestCommand(program: Command): void {
  program
    .command('digest')
    .description('print the fs-verity digest of files, exactly as `fsverity digest` does: sha256:<hex> <file>')
    .argument('<file...>', 'files to digest')
    .option('--compact', 'print only the hex digest, as `fsverity digest --compact`')
    .option('--json', 'print {digests:[{file, digest}]} instead')
    .addHelpText(
      'after',
      '\nThe digest is what the kernel reports once fs-verity is enabled on the file, computed in user space on any filesystem.\nExit status: 0 all digested, 1 a file could not be read (earlier lines are still printed), 2 usage.',
    )
    .action(
      commandAction(async (files: string[], options: DigestOptions) => {
        const digests: Array<{ file: string; digest: string }> = [];
        for (const file of files) {
          let digest: string;
          try {
            digest = await fsverityDigestOfFileParallel(file);
          } catch (error) {
            const message = (error as Error).message;
            // The JSON document still lists what was digested before the failure.
            if (options.json === true) writeJson({ digests, error: { code: isPowernodeError(error) ? error.code : 'internal', message } });
            process.stderr.write(`powernode: ${message}\n`);
            return 1;
          }
          digests.push({ file, digest });
          if (options.json !== true) writeLine(options.compact === true ? digest.replace(/^sha256:/, '') : formatFsverityDigestLine(digest, file));
        }
        if (options.json === true) writeJson({ digests });
        return 0;
      }),
    );
}
