import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { loadTrustedRoot, type SigstoreTrust } from './trusted-root.js';

/** Real public-good signatures (see its README.md), copied from the shared reference set. */
export const VECTORS_DIR = fileURLToPath(new URL('../test/sigstore-vectors/', import.meta.url));

/** The public-good trusted root shipped with the vectors. */
export function publicGoodTrust(): SigstoreTrust {
  return loadTrustedRoot(path.join(VECTORS_DIR, 'trusted_root.json'), { name: 'public-good' });
}

/** Escapes a literal for use inside a regular expression. */
export function escapeRegExp(literal: string): string {
  return literal.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}

/** A fresh private directory under the OS temp dir, and how to remove it. */
export async function temporaryDirectory(label: string): Promise<{ dir: string; remove: () => Promise<void> }> {
  const dir = await mkdtemp(path.join(os.tmpdir(), `powernode-sigstore-${label}-`));
  return { dir, remove: () => rm(dir, { recursive: true, force: true }) };
}

/** A deep copy of a JSON value, for tampering with bundles in tests. */
export function jsonCopy<T>(value: T): T {
  return JSON.parse(JSON.stringify(value)) as T;
}
