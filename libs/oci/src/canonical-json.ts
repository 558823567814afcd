import { canonicalJson } from '@powernode/contracts';

/** The canonical JSON of a document (`canonicalJson` of @powernode/contracts) as UTF-8 bytes, ready to push and hash. */
export function canonicalJsonBytes(value: unknown): Buffer {
  return Buffer.from(canonicalJson(value), 'utf8');
}
