// Writes modules/.schema/module-manifest.schema.json from the zod manifest schema.
//   npx tsx libs/contracts/scripts/generate-manifest-schema.ts           rewrite the file
//   npx tsx libs/contracts/scripts/generate-manifest-schema.ts --check   exit 1 when the file is stale
import { readFileSync, writeFileSync, mkdirSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { MANIFEST_JSON_SCHEMA_COMMAND, MANIFEST_JSON_SCHEMA_PATH, renderModuleManifestJsonSchema } from '../src/manifest/manifest-json-schema.js';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..', '..');
const target = path.join(root, MANIFEST_JSON_SCHEMA_PATH);
const text = renderModuleManifestJsonSchema();

if (process.argv.includes('--check')) {
  let committed = '';
  try {
    committed = readFileSync(target, 'utf8');
  } catch {
    // a missing file is stale too
  }
  if (committed !== text) {
    console.error(`${MANIFEST_JSON_SCHEMA_PATH} is stale; regenerate it with: ${MANIFEST_JSON_SCHEMA_COMMAND}`);
    process.exit(1);
  }
  console.log(`${MANIFEST_JSON_SCHEMA_PATH} is up to date`);
} else {
  mkdirSync(path.dirname(target), { recursive: true });
  writeFileSync(target, text);
  console.log(`wrote ${MANIFEST_JSON_SCHEMA_PATH}`);
}
