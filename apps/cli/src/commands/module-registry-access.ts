import { Option, type Command } from 'commander';
import { PowernodeError } from '@powernode/contracts';
import { isLoopbackRegistry, OciClient, parseReference, type OciReference, type RegistryAuth } from '@powernode/oci';
import { UsageError } from './module-command-action.js';

/** Registry flags shared by push, sign and publish. */
export interface RegistryOptions {
  insecure?: boolean;
  registryUsername?: string;
  registryPassword?: string;
  registryToken?: string;
}

/** Adds --insecure and the registry credential flags (each with its environment variable). */
export function addRegistryOptions(command: Command): Command {
  return command
    .addOption(new Option('--insecure', 'talk plain HTTP to the registry (loopback registries always are)').env('POWERNODE_REGISTRY_INSECURE'))
    .addOption(new Option('--registry-username <user>', 'registry user for basic or token auth').env('POWERNODE_REGISTRY_USERNAME'))
    .addOption(
      new Option('--registry-password <password>', 'registry password or access token (prefer the environment variable)').env('POWERNODE_REGISTRY_PASSWORD'),
    )
    .addOption(new Option('--registry-token <token>', 'a registry bearer token instead of user and password').env('POWERNODE_REGISTRY_TOKEN'));
}

/** The credentials the flags give, if any; a user without a password (or the reverse) is a usage error. */
export function registryAuthOf(options: RegistryOptions): RegistryAuth | undefined {
  if (options.registryToken !== undefined && options.registryToken !== '') return { token: options.registryToken };
  const username = options.registryUsername ?? '';
  const password = options.registryPassword ?? '';
  if (username === '' && password === '') return undefined;
  if (username === '' || password === '') {
    throw new UsageError(
      'registry credentials need both --registry-username and --registry-password (or POWERNODE_REGISTRY_USERNAME and POWERNODE_REGISTRY_PASSWORD)',
    );
  }
  return { username, password };
}

/** Parses a `<registry>/<path>:<tag>` reference given as `--ref` (or `<ref>`); the registry host is required. */
export function parseModuleReference(reference: string, options: { requireTag?: boolean } = {}): OciReference {
  const parsed = parseReference(reference);
  if (options.requireTag === true && parsed.tag === undefined) {
    throw new PowernodeError(
      'validation_failed',
      `OCI reference "${reference}" has no tag; publish pushes to <registry>/<path>:<tag>, e.g. 127.0.0.1:5000/acme/my-redis:v0.1.0`,
      {
        details: { field: 'ref', value: reference },
      },
    );
  }
  return parsed;
}

/** An OCI client for the reference's registry, with the flags' transport and credentials. */
export function registryClientFor(reference: OciReference, options: RegistryOptions): OciClient {
  const auth = registryAuthOf(options);
  return new OciClient({
    registry: reference.registry,
    insecure: options.insecure === true || isLoopbackRegistry(reference.registry),
    ...(auth === undefined ? {} : { auth }),
    userAgent: 'powernode-cli/0.1',
  });
}

/**
 * Runs a registry operation; an authentication refusal gets the CLI's way to give credentials appended
 * (the library's message says what the registry wanted, not which flags provide it).
 */
export async function withRegistryCredentialsHint<T>(operation: () => Promise<T>): Promise<T> {
  try {
    return await operation();
  } catch (error) {
    if (error instanceof PowernodeError && (error.code === 'unauthenticated' || error.code === 'forbidden')) {
      throw new PowernodeError(
        error.code,
        `${error.message}; give registry credentials with --registry-username and --registry-password (or POWERNODE_REGISTRY_USERNAME / POWERNODE_REGISTRY_PASSWORD), or --registry-token`,
        { cause: error, ...(error.details === undefined ? {} : { details: error.details }) },
      );
    }
    throw error;
  }
}
