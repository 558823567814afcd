import { PowernodeError } from '@powernode/contracts';
import { isDigest } from './digest.js';

// Grammar from the distribution reference package and the OCI distribution spec.
const REPOSITORY_PATTERN = /^[a-z0-9]+(?:(?:\.|_|__|-+)[a-z0-9]+)*(?:\/[a-z0-9]+(?:(?:\.|_|__|-+)[a-z0-9]+)*)*$/;
const TAG_PATTERN = /^[A-Za-z0-9_][A-Za-z0-9._-]{0,127}$/;
const REGISTRY_PATTERN = /^(?:[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?)*|\[[0-9A-Fa-f:.]+\])(?::[0-9]+)?$/;

/** A parsed `registry/repository[:tag][@digest]`. */
export interface OciReference {
  /** `host[:port]` */
  registry: string;
  /** Path inside the registry, e.g. `owner/repo`. */
  repository: string;
  tag?: string;
  digest?: string;
}

function invalid(reference: string, why: string): PowernodeError {
  return new PowernodeError(
    'validation_failed',
    `OCI reference "${reference}" is invalid: ${why}; expected <registry>/<repository>[:<tag>][@sha256:<hex>], e.g. 127.0.0.1:5000/owner/repo:v1.0.0`,
    { details: { field: 'reference', value: reference } },
  );
}

/** True when a repository name follows the OCI distribution grammar (lowercase path components). */
export function isRepositoryName(value: string): boolean {
  return value.length <= 255 && REPOSITORY_PATTERN.test(value);
}

/** True when a tag follows the OCI distribution grammar. */
export function isTag(value: string): boolean {
  return TAG_PATTERN.test(value);
}

/**
 * Parses `registry/repository[:tag][@digest]`. The first path component is the registry when it looks like
 * a host (has a dot or a port, or is `localhost`); otherwise `defaultRegistry` is used, and without one the
 * reference is refused rather than silently sent to Docker Hub.
 */
export function parseReference(reference: string, options: { defaultRegistry?: string } = {}): OciReference {
  let rest = reference.trim();
  if (rest === '') throw invalid(reference, 'it is empty');
  rest = rest.replace(/^(?:oci|docker):\/\//, '');

  let digest: string | undefined;
  const at = rest.indexOf('@');
  if (at >= 0) {
    digest = rest.slice(at + 1);
    rest = rest.slice(0, at);
    if (!isDigest(digest)) throw invalid(reference, `"${digest}" is not a sha256:<64 hex> digest`);
  }

  let tag: string | undefined;
  const lastColon = rest.lastIndexOf(':');
  if (lastColon > rest.lastIndexOf('/')) {
    tag = rest.slice(lastColon + 1);
    rest = rest.slice(0, lastColon);
    if (!isTag(tag)) throw invalid(reference, `tag "${tag}" must be 1-128 of [A-Za-z0-9_.-], not starting with . or -`);
  }

  const slash = rest.indexOf('/');
  const first = slash < 0 ? rest : rest.slice(0, slash);
  let registry: string;
  let repository: string;
  if (slash >= 0 && (first.includes('.') || first.includes(':') || first === 'localhost' || first.startsWith('['))) {
    registry = first;
    repository = rest.slice(slash + 1);
  } else if (options.defaultRegistry !== undefined) {
    registry = options.defaultRegistry;
    repository = rest;
  } else {
    throw invalid(reference, 'it names no registry host');
  }
  if (!REGISTRY_PATTERN.test(registry)) throw invalid(reference, `registry "${registry}" is not a host[:port]`);
  if (!isRepositoryName(repository)) {
    throw invalid(reference, `repository "${repository}" must be lowercase path components of [a-z0-9] joined by . _ __ or -`);
  }
  return { registry, repository, ...(tag === undefined ? {} : { tag }), ...(digest === undefined ? {} : { digest }) };
}

/** The canonical string form of a reference (`registry/repository[:tag][@digest]`). */
export function formatReference(reference: OciReference): string {
  return `${reference.registry}/${reference.repository}${reference.tag === undefined ? '' : `:${reference.tag}`}${
    reference.digest === undefined ? '' : `@${reference.digest}`
  }`;
}
