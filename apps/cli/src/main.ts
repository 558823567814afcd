#!/usr/bin/env node
import { CommanderError } from 'commander';
import { buildProgram } from './program.js';

/** Exit codes of CONTRACT §4: 0 ok, 1 refused/invalid, 2 usage. */
try {
  await (await buildProgram(process.argv.slice(2))).parseAsync(process.argv);
} catch (error) {
  if (error instanceof CommanderError) {
    process.exit(error.exitCode === 0 ? 0 : 2);
  }
  process.stderr.write(`powernode: ${(error as Error).message}\n`);
  process.exit(1);
}
