import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { PowernodeError, type ModuleManifest } from '@powernode/contracts';
import { parseModuleManifestYaml } from '@powernode/manifest';

/** Reads and validates `<dir>/manifest.yaml`; throws `manifest_invalid` when it is missing or invalid. */
export async function loadModuleManifest(dir: string): Promise<ModuleManifest> {
  const file = path.join(dir, 'manifest.yaml');
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (cause) {
    const missing = (cause as NodeJS.ErrnoException).code === 'ENOENT';
    throw new PowernodeError(
      'manifest_invalid',
      missing
        ? `${file} does not exist; a module directory needs a manifest.yaml (powernode module init creates one)`
        : `cannot read ${file}: ${(cause as Error).message}`,
      { cause, details: { file: 'manifest.yaml' } },
    );
  }
  return parseModuleManifestYaml(text);
}
