import { findExecutable, installCommand, installDebianPackages } from '@powernode/runtime';

/**
 * Why a test that needs a Debian tool is skipped, or undefined when it runs. The tool is looked up on PATH and
 * in the system directories; when it is missing and this process is root on a Debian-family system, its
 * package is installed the way `npm start` installs the dev stack's packages. Otherwise the reason names the
 * install command. In CI (the CI variable set) nothing is skipped: a missing tool fails the test that needs it.
 */
export function debianToolSkipReason(executable: string, debianPackage: string, env: NodeJS.ProcessEnv = process.env): string | undefined {
  if (findExecutable(executable) !== undefined) return undefined;
  if (installDebianPackages([debianPackage], (line) => process.stderr.write(`${line}\n`)) && findExecutable(executable) !== undefined) return undefined;
  if ((env['CI'] ?? '') !== '') return undefined;
  return `${executable} is not installed; install it with: ${installCommand([debianPackage])}`;
}

/** `debianToolSkipReason` for htpasswd, which a registry with basic auth (`startRegistry({ auth: 'htpasswd' })`) needs. */
export function htpasswdSkipReason(): string | undefined {
  return debianToolSkipReason('htpasswd', 'apache2-utils');
}
