import { createHash } from 'node:crypto';
import type { ModuleManifest } from '@powernode/contracts';

/*
 * A CycloneDX 1.6 JSON SBOM of a module artifact: the module itself (metadata.component), the Debian
 * packages its manifest declares (`package_spec`) and every regular file it ships with its SHA-256. It holds
 * no wall-clock time and no random serial: the timestamp is SOURCE_DATE_EPOCH and the serial number is
 * derived from the rest of the document, so the same build gives the same bytes.
 */

/** CycloneDX specification version we write. */
export const CYCLONEDX_SPEC_VERSION = '1.6';

/** A file as the SBOM lists it. */
export interface SbomFile {
  path: string;
  /** SHA-256 of the content, hex. */
  sha256: string;
  /** fs-verity digest `sha256:<hex>`, recorded as a property so the SBOM ties to the composefs description. */
  fsverityDigest: string;
}

/** Inputs of the SBOM. */
export interface ModuleSbomInput {
  manifest: Pick<ModuleManifest, 'name' | 'description' | 'license' | 'package_spec'>;
  version?: string;
  files: readonly SbomFile[];
  /** Seconds since the epoch for `metadata.timestamp` (SOURCE_DATE_EPOCH). */
  sourceDateEpoch: number;
  /** purl namespace of the declared packages, the distribution (`ubuntu`, `debian`). */
  packageNamespace: string;
  /** Version of the tool that built the artifact, recorded under metadata.tools. */
  toolVersion: string;
}

/** A package_spec entry split into purl parts: `name`, `name=version`, `name:arch`, `name:arch=version`. */
export function parsePackageSpecEntry(entry: string): { name: string; version?: string; arch?: string } {
  const [nameAndArch, version] = entry.trim().split('=', 2) as [string, string | undefined];
  const [name, arch] = nameAndArch.split(':', 2) as [string, string | undefined];
  return {
    name,
    ...(version === undefined || version === '' ? {} : { version }),
    ...(arch === undefined || arch === '' ? {} : { arch }),
  };
}

/** The package URL of a declared Debian package, without a version when none is pinned (`pkg:deb/ubuntu/redis-server`). */
export function debianPackageUrl(entry: string, namespace: string): string {
  const { name, version, arch } = parsePackageSpecEntry(entry);
  const encode = (value: string): string => encodeURIComponent(value).replace(/%3A/gi, ':');
  return `pkg:deb/${encode(namespace)}/${encode(name)}${version === undefined ? '' : `@${encode(version)}`}${arch === undefined ? '' : `?arch=${encode(arch)}`}`;
}

/** An RFC 4122 name-based (version 5 layout) UUID from content, for CycloneDX's `serialNumber` pattern. */
export function contentUuid(content: string | Uint8Array): string {
  const bytes = createHash('sha256').update(content).digest().subarray(0, 16);
  bytes[6] = (bytes[6]! & 0x0f) | 0x50;
  bytes[8] = (bytes[8]! & 0x3f) | 0x80;
  const hex = bytes.toString('hex');
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}`;
}

/** The SBOM document bytes (JSON, two-space indented, trailing newline). */
export function buildModuleSbom(input: ModuleSbomInput): Buffer {
  const { manifest } = input;
  const moduleRef = `module:${manifest.name}`;
  const packages = [...new Set((manifest.package_spec ?? []).map((entry) => entry.trim()).filter((entry) => entry !== ''))].sort();
  const packageComponents = packages.map((entry) => {
    const { name, version } = parsePackageSpecEntry(entry);
    const purl = debianPackageUrl(entry, input.packageNamespace);
    return { type: 'library', 'bom-ref': purl, name, ...(version === undefined ? {} : { version }), purl, scope: 'required' };
  });
  const fileComponents = [...input.files]
    .sort((a, b) => Buffer.compare(Buffer.from(a.path), Buffer.from(b.path)))
    .map((file) => ({
      type: 'file',
      'bom-ref': `file:${file.path}`,
      name: file.path,
      hashes: [{ alg: 'SHA-256', content: file.sha256 }],
      properties: [{ name: 'powernode:fsverity_digest', value: file.fsverityDigest }],
    }));
  const component = {
    type: 'application',
    'bom-ref': moduleRef,
    name: manifest.name,
    ...(input.version === undefined ? {} : { version: input.version }),
    ...(manifest.description === undefined ? {} : { description: manifest.description.trim() }),
    ...(manifest.license === undefined || manifest.license.trim() === '' ? {} : { licenses: [{ license: { name: manifest.license.trim() } }] }),
  };
  const body = {
    bomFormat: 'CycloneDX',
    specVersion: CYCLONEDX_SPEC_VERSION,
    version: 1,
    metadata: {
      timestamp: new Date(input.sourceDateEpoch * 1000).toISOString().replace(/\.000Z$/, 'Z'),
      tools: { components: [{ type: 'application', name: 'powernode', version: input.toolVersion }] },
      component,
    },
    components: [...packageComponents, ...fileComponents],
    dependencies: [
      { ref: moduleRef, dependsOn: packageComponents.map((pkg) => pkg['bom-ref']) },
      ...packageComponents.map((pkg) => ({ ref: pkg['bom-ref'], dependsOn: [] as string[] })),
    ],
  };
  const serialNumber = `urn:uuid:${contentUuid(JSON.stringify(body))}`;
  const { bomFormat, specVersion, ...rest } = body;
  return Buffer.from(`${JSON.stringify({ bomFormat, specVersion, serialNumber, ...rest }, null, 2)}\n`, 'utf8');
}
