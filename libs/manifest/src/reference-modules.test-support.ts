import { existsSync, readdirSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

/**
 * The reference platform's example modules. CI clones the shared folder beside the repository
 * (`<repo>/../shared`), so the path is taken relative to this file; POWERNODE_EXAMPLE_MODULES_DIR overrides it,
 * as for the artifact tests.
 */
export const REFERENCE_MODULES_DIR =
  process.env['POWERNODE_EXAMPLE_MODULES_DIR'] ?? fileURLToPath(new URL('../../../../shared/reference/powernode-example-modules', import.meta.url));

/**
 * Why the tests over the whole reference are skipped, or undefined when they run. A clone without the shared
 * folder beside it skips them with this reason; in CI (the CI variable set) they always run, so a missing
 * folder fails there instead of passing unnoticed.
 */
export function referenceModulesSkipReason(root: string = REFERENCE_MODULES_DIR, env: NodeJS.ProcessEnv = process.env): string | undefined {
  if (existsSync(root) || (env['CI'] ?? '') !== '') return undefined;
  return `the reference example modules are not checked out at ${root}: clone the shared folder beside the repository (<repo>/../shared) or set POWERNODE_EXAMPLE_MODULES_DIR; CI never skips this`;
}

/** Modules the reference has always held; finding fewer means a partial checkout, not a smaller reference. */
export const KNOWN_REFERENCE_MANIFESTS = [
  'apache/manifest.yaml',
  'chrony/manifest.yaml',
  'module-repo-template.manifest.yaml',
  'nginx/manifest.yaml',
  'rpi4-firmware/manifest.yaml',
  'security-hardening/manifest.yaml',
  'system-base/manifest.yaml',
] as const;

/** What the reference folder holds: manifest files and module directories, relative to REFERENCE_MODULES_DIR, sorted. */
export interface ReferenceModules {
  readonly manifests: readonly string[];
  readonly moduleDirs: readonly string[];
}

function isManifestFile(name: string): boolean {
  return name === 'manifest.yaml' || name.endsWith('.manifest.yaml');
}

/**
 * Lists every manifest and module directory of the reference. Throws when the folder is missing: a test that
 * silently found nothing would pass while checking nothing.
 */
export function findReferenceModules(root: string = REFERENCE_MODULES_DIR): ReferenceModules {
  if (!existsSync(root)) {
    throw new Error(
      `the reference example modules are missing: ${root} does not exist; check out the shared folder beside the repository (<repo>/../shared) or set POWERNODE_EXAMPLE_MODULES_DIR`,
    );
  }
  const manifests: string[] = [];
  const moduleDirs: string[] = [];
  const walk = (relative: string): void => {
    for (const child of readdirSync(path.join(root, relative), { withFileTypes: true })) {
      const childPath = relative === '' ? child.name : `${relative}/${child.name}`;
      // rootfs/ is module content; a manifest.yaml inside it is a shipped file, not a module.
      if (child.isDirectory() && child.name !== 'rootfs') walk(childPath);
      else if (child.isFile() && isManifestFile(child.name)) {
        manifests.push(childPath);
        if (child.name === 'manifest.yaml') moduleDirs.push(relative === '' ? '.' : relative);
      }
    }
  };
  walk('');
  return { manifests: manifests.sort(), moduleDirs: moduleDirs.sort() };
}
