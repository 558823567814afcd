import { parse as parseYaml } from 'yaml';
import { ModuleManifestSchema, PowernodeError, issuePath, type ModuleManifest, type ModuleSpec } from '@powernode/contracts';
import { findExcessiveNesting } from '@powernode/manifest';

/** The spec of a module that has none yet: empty glob lists, no dependencies, priority 0. */
export function emptyModuleSpec(): ModuleSpec {
  return { mask: [], file_spec: [], package_spec: [], dependency_spec: [], protected_spec: [], requires: [], provides: [], priority: 0 };
}

/**
 * The platform-record spec a manifest seeds: its glob lists (duplicates dropped, order kept), requires and
 * provides. The manifest has no priority field, so a seeded module starts at priority 0 inside its category.
 */
export function specFromManifest(manifest: ModuleManifest): ModuleSpec {
  return {
    mask: unique(manifest.mask),
    file_spec: unique(manifest.file_spec),
    package_spec: unique(manifest.package_spec),
    dependency_spec: unique(manifest.dependency_spec),
    protected_spec: unique(manifest.protected_spec),
    requires: unique(manifest.dependencies?.requires),
    provides: unique(manifest.dependencies?.provides),
    priority: 0,
  };
}

/** Validates a manifest document (already decoded from YAML or JSON); refuses with `manifest_invalid` listing each bad field. */
export function parseManifestDocument(document: unknown): ModuleManifest {
  const result = ModuleManifestSchema.safeParse(document);
  if (result.success) return result.data;
  const issues = result.error.issues.map((i) => ({ path: issuePath(i.path), message: i.message }));
  throw new PowernodeError('manifest_invalid', `manifest is invalid: ${issues.map((i) => `${i.path}: ${i.message}`).join('; ')}`, { details: { issues } });
}

/** Decodes and validates manifest.yaml text; refuses with `manifest_invalid` (nesting, YAML syntax or schema). */
export function parseManifestYaml(text: string): ModuleManifest {
  const tooDeep = findExcessiveNesting(text);
  if (tooDeep !== undefined) {
    const path = tooDeep.path === '' ? '(root)' : tooDeep.path;
    throw new PowernodeError('manifest_invalid', `manifest_yaml line ${tooDeep.line}: ${path} ${tooDeep.message}`, {
      details: { issues: [{ path, message: tooDeep.message, code: 'manifest_too_deep', line: tooDeep.line, column: tooDeep.column }] },
    });
  }
  let document: unknown;
  try {
    document = parseYaml(text);
  } catch (error) {
    throw new PowernodeError('manifest_invalid', `manifest_yaml is not valid YAML: ${(error as Error).message}`, {
      details: { issues: [{ path: '(root)', message: (error as Error).message }] },
      cause: error,
    });
  }
  return parseManifestDocument(document);
}

function unique(list: readonly string[] | undefined): string[] {
  return [...new Set(list ?? [])];
}
