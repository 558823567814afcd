/** What a version records about its SBOM; the document itself stays in the registry. */
export type SbomSummary = {
  format: 'CycloneDX';
  spec_version: string | null;
  component_count: number;
  /** Components that are not files: packages, libraries, applications. */
  package_count: number;
  file_count: number;
};

/** Counts the components of a CycloneDX JSON document; null when the document is not CycloneDX. */
export function summarizeSbom(document: unknown): SbomSummary | null {
  if (document === null || typeof document !== 'object' || Array.isArray(document)) return null;
  const sbom = document as { bomFormat?: unknown; specVersion?: unknown; components?: unknown };
  if (sbom.bomFormat !== 'CycloneDX') return null;
  const components = Array.isArray(sbom.components) ? sbom.components : [];
  const files = components.filter((c) => c !== null && typeof c === 'object' && (c as { type?: unknown }).type === 'file').length;
  return {
    format: 'CycloneDX',
    spec_version: typeof sbom.specVersion === 'string' ? sbom.specVersion : null,
    component_count: components.length,
    package_count: components.length - files,
    file_count: files,
  };
}
