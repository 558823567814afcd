/**
 * What the catalog reads from a version's manifest JSON once it is recorded: tolerant on purpose, because an
 * event written under an older manifest schema must still fold (the schema was checked when it was recorded).
 */
export interface ManifestDependencyFacts {
  requires: string[];
  provides: string[];
}

/** `dependencies.requires` and `dependencies.provides` of a manifest document, or empty lists. */
export function manifestDependencyFacts(manifest: Readonly<Record<string, unknown>>): ManifestDependencyFacts {
  const dependencies = manifest['dependencies'];
  if (typeof dependencies !== 'object' || dependencies === null) return { requires: [], provides: [] };
  const record = dependencies as Record<string, unknown>;
  return { requires: stringList(record['requires']), provides: stringList(record['provides']) };
}

function stringList(value: unknown): string[] {
  return Array.isArray(value) ? value.filter((v): v is string => typeof v === 'string') : [];
}
