// Writes docs/cli.md from the CLI's own help texts.
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { renderCliReference } from '../src/program.js';

const target = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../../docs/cli.md');
process.stdout.columns = 100;
writeFileSync(target, await renderCliReference());
process.stdout.write(`wrote ${target}\n`);
