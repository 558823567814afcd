import { PowernodeError } from '@powernode/contracts';
import { isRepositoryName } from './reference.js';
import type { RegistryTransport } from './registry-transport.js';

/** What the upload, download, manifest and referrer operations share: one registry's transport and limits. */
export interface RegistryContext {
  /** `host[:port]`, as error details name it. */
  readonly registry: string;
  readonly transport: RegistryTransport;
  /** Extra attempts after the first, also for bodies that break off and chunks that fail. */
  readonly retries: number;
  readonly chunkSize: number;
  readonly maxManifestBytes: number;
}

/** `application/octet-stream`: the media type of blob bodies and of blobs without a better one. */
export const OCTET_STREAM = 'application/octet-stream';

/** The token scope to read a repository. */
export const pullScope = (repository: string): string => `repository:${repository}:pull`;

/** The token scope to write a repository (pushing also reads: existence checks, mounts). */
export const pushScope = (repository: string): string => `repository:${repository}:pull,push`;

/** Refuses a repository name the distribution spec would refuse, before any request is sent. */
export function assertRepository(repository: string): void {
  if (!isRepositoryName(repository)) {
    throw new PowernodeError(
      'validation_failed',
      `repository "${repository}" is invalid: use lowercase path components of [a-z0-9] joined by . _ __ or -, e.g. owner/module`,
      { details: { field: 'repository', value: repository } },
    );
  }
}
