import { readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { renderCliReference } from '../src/program.js';

const docs = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../../docs/cli.md');

describe('docs/cli.md', () => {
  it('documents every command exactly as the CLI describes it (regenerate with npx tsx apps/cli/scripts/generate-cli-docs.ts)', () => {
    const columns = process.stdout.columns;
    process.stdout.columns = 100;
    try {
      expect(readFileSync(docs, 'utf8')).toBe(renderCliReference());
    } finally {
      process.stdout.columns = columns;
    }
  });

  it('covers the commands of CONTRACT §4', () => {
    const text = renderCliReference();
    for (const heading of ['## powernode module init', '## powernode module validate', '## powernode module build', '## powernode module push', '## powernode module sign', '## powernode module publish', '## powernode digest', '## powernode verify-blob', '## powernode replay', '## powernode token create', '## powernode promote']) {
      expect(text).toContain(heading);
    }
  });
});
