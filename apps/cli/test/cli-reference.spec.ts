import { readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { buildFullProgram, buildProgram, renderCliReference } from '../src/program.js';

const docs = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../../docs/cli.md');

describe('docs/cli.md', () => {
  it('documents every command exactly as the CLI describes it (regenerate with npx tsx apps/cli/scripts/generate-cli-docs.ts)', async () => {
    const columns = process.stdout.columns;
    process.stdout.columns = 100;
    try {
      expect(readFileSync(docs, 'utf8')).toBe(await renderCliReference());
    } finally {
      process.stdout.columns = columns;
    }
  });

  it('covers the commands of CONTRACT §4', async () => {
    const text = await renderCliReference();
    for (const heading of [
      '## powernode module init',
      '## powernode module validate',
      '## powernode module build',
      '## powernode module push',
      '## powernode module sign',
      '## powernode module publish',
      '## powernode digest',
      '## powernode verify-blob',
      '## powernode replay',
      '## powernode token create',
      '## powernode promote',
    ]) {
      expect(text).toContain(heading);
    }
  });

  it('lists every command in root help as its full definition does, whichever command a run loads', async () => {
    const full = (await buildFullProgram()).helpInformation();
    for (const argv of [
      [],
      ['--help'],
      ['digest', 'x'],
      ['--json', 'module', 'validate', '.'],
      ['help', 'instances'],
      ['promote', 'v', '--to', 'live'],
      ['nonsense'],
    ]) {
      expect({ argv, help: (await buildProgram(argv)).helpInformation() }).toEqual({ argv, help: full });
    }
  });

  it('fully defines the group of the command a run names, and only that group', async () => {
    const defined = (program: Awaited<ReturnType<typeof buildProgram>>) =>
      program.commands.filter((c) => c.commands.length > 0 || c.options.length > 0).map((c) => c.name());
    expect(defined(await buildProgram(['--url', 'http://x', 'module', 'init', 'dir']))).toEqual(['module']);
    expect(defined(await buildProgram(['help', 'instances']))).toEqual(expect.arrayContaining(['instances', 'modules', 'promote']));
    expect(defined(await buildProgram(['--help']))).toEqual([]);
  });
});
