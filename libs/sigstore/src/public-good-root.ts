import { fileURLToPath } from 'node:url';

/**
 * Path of the shipped Sigstore public-good TrustedRoot snapshot (`libs/sigstore/trust/`, see its README):
 * the default trust for keyless signatures when no `POWERNODE_TRUSTED_ROOT` is configured. Resolved next to
 * this module, so it works from the sources and from the compiled output alike.
 */
export const PUBLIC_GOOD_TRUSTED_ROOT_PATH: string = fileURLToPath(new URL('../trust/public-good-trusted-root.json', import.meta.url));
