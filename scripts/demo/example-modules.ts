import path from 'node:path';
import { REPO_ROOT } from './target.js';

/** The dev Sigstore's signer identity and issuer (`powernode module sign --dev`), anchored as policy patterns. */
export const DEV_IDENTITY_REGEXP = 'https://powernode\\.dev/dev-signer';
export const DEV_ISSUER_REGEXP = 'https://powernode\\.dev/dev-issuer';

/** A module under examples/ with how the demo registers and tags it. */
export interface ExampleModule {
  name: string;
  /** The module repository (manifest.yaml, rootfs/). */
  dir: string;
  category: 'system-base' | 'network-overlay' | 'container-runtimes' | 'security-hardening' | 'userland';
  /** The git repository it is registered with; its lowercase form is the OCI repository. */
  repo: string;
  /** Tags are `v<series>.<n>`: `1.0` for the dependencies (my-redis requires ^1.0), `0.1` for my-redis. */
  series: string;
  approval_policy: 'require_approval' | 'auto_approve';
}

const example = (
  name: string,
  category: ExampleModule['category'],
  repo: string,
  series: string,
  approval_policy: ExampleModule['approval_policy'],
): ExampleModule => ({
  name,
  dir: path.join(REPO_ROOT, 'examples', name),
  category,
  repo,
  series,
  approval_policy,
});

/** The tutorial's prerequisites in dependency order: what Tutorial 01's seeded catalog would hold, live. */
export const PREREQUISITE_MODULES: readonly ExampleModule[] = [
  example('system-base', 'system-base', 'powernode/modules/system-base', '1.0', 'auto_approve'),
  example('security-hardening', 'security-hardening', 'powernode/modules/security-hardening', '1.0', 'auto_approve'),
  example('powernode-base-ruby', 'userland', 'powernode/modules/powernode-base-ruby', '1.0', 'auto_approve'),
];

/** The tutorial's module: a live promotion needs a second person's approval. */
export const MY_REDIS: ExampleModule = example('my-redis', 'userland', 'demo/modules/my-redis-module', '0.1', 'require_approval');

/** The OCI repository a module's git repository is pushed to (lowercase, as the CI workflow does). */
export function ociRepositoryOf(repo: string): string {
  return repo.toLowerCase();
}
