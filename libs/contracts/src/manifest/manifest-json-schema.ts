import { z } from 'zod';
import { ModuleManifestSchema } from './manifest-schema.js';

/** Where the generated schema is committed, relative to the repository root (the tutorial points editors and CI at it). */
export const MANIFEST_JSON_SCHEMA_PATH = 'modules/.schema/module-manifest.schema.json';

/** The command that rewrites the committed schema after the zod schema changed. */
export const MANIFEST_JSON_SCHEMA_COMMAND = 'npx tsx libs/contracts/scripts/generate-manifest-schema.ts';

/** The module manifest as a JSON Schema (draft 2020-12), generated from the zod schema so the two cannot drift. */
export function moduleManifestJsonSchema(): Record<string, unknown> {
  const generated = z.toJSONSchema(ModuleManifestSchema, { target: 'draft-2020-12', io: 'input' }) as Record<string, unknown>;
  const { $schema, ...rest } = generated;
  // Identity first so the file reads like a hand-written schema; the $id is the one the reference platform published.
  return {
    $schema,
    $id: 'https://powernode.org/schemas/module-manifest.v1.json',
    title: 'Powernode Module Manifest',
    description: `Schema of manifest.yaml at the root of a module repository (schema_version 1). Generated from libs/contracts/src/manifest/manifest-schema.ts by \`${MANIFEST_JSON_SCHEMA_COMMAND}\`; do not edit by hand. Semantic checks (glob syntax, init commands, semver ranges, rootfs coverage) are done by \`powernode module validate\`.`,
    ...rest,
  };
}

/** The exact text of the committed schema file (two-space JSON, trailing newline). */
export function renderModuleManifestJsonSchema(): string {
  return `${JSON.stringify(moduleManifestJsonSchema(), null, 2)}\n`;
}
