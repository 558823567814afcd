import { readdir, readFile } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { MODULE_NAME_PATTERN } from '@powernode/contracts';

/**
 * The canonical module repository, as files under apps/cli/src/module-template/: named from the project root
 * so that the compiled CLI (dist/) reads the same files as the sources do.
 */
export const MODULE_TEMPLATE_DIR = fileURLToPath(new URL('../../src/module-template/', import.meta.url));

/** One file of a new module repository: its path relative to the repository root and its content. */
export interface TemplateFile {
  path: string;
  content: Buffer;
}

const PLACEHOLDERS = { name: '__MODULE_NAME__', displayName: '__DISPLAY_NAME__' } as const;

/** True when `name` is a valid module name (lowercase letters, digits, hyphens; starts with a letter). */
export function isModuleName(name: string): boolean {
  return MODULE_NAME_PATTERN.test(name);
}

/** A display name from a module name: `my-redis` → `My Redis`. */
export function displayNameOf(name: string): string {
  return name
    .split('-')
    .filter((word) => word !== '')
    .map((word) => word[0]!.toUpperCase() + word.slice(1))
    .join(' ');
}

/** Fills the template's placeholders; the display name is written as a YAML double-quoted string. */
export function fillTemplateText(text: string, values: { name: string; displayName: string }): string {
  return text.replaceAll(PLACEHOLDERS.name, values.name).replaceAll(PLACEHOLDERS.displayName, JSON.stringify(values.displayName));
}

async function listTemplate(dir: string, relative: string): Promise<string[]> {
  const entries = await readdir(path.join(dir, relative), { withFileTypes: true });
  const files: string[] = [];
  for (const entry of entries.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0))) {
    const child = relative === '' ? entry.name : `${relative}/${entry.name}`;
    if (entry.isDirectory()) files.push(...(await listTemplate(dir, child)));
    else if (entry.isFile()) files.push(child);
  }
  return files;
}

/** The files of a new module repository named `name`, placeholders filled, sorted by path. */
export async function renderModuleTemplate(values: { name: string; displayName?: string }, templateDir = MODULE_TEMPLATE_DIR): Promise<TemplateFile[]> {
  const filled = { name: values.name, displayName: values.displayName ?? displayNameOf(values.name) };
  const files = await listTemplate(templateDir, '');
  return Promise.all(
    files.map(async (file) => {
      const raw = await readFile(path.join(templateDir, file));
      const text = raw.toString('utf8');
      const content = text.includes(PLACEHOLDERS.name) || text.includes(PLACEHOLDERS.displayName) ? Buffer.from(fillTemplateText(text, filled), 'utf8') : raw;
      return { path: file, content };
    }),
  );
}
