/** One output line of `fsverity digest`, byte for byte: `sha256:<hex> <file>`. */
export function formatFsverityDigestLine(digest: string, file: string): string {
  const prefixed = digest.startsWith('sha256:') ? digest : `sha256:${digest}`;
  return `${prefixed} ${file}`;
}
