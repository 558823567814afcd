import { createHash } from 'node:crypto';
import type { ModuleManifest } from '@powernode/contracts';

/*
 * A CycloneDX 1.6 JSON SBOM of a module artifact: the module itself (metadata.component), its Debian
 * packages and every regular file it ships with its SHA-256. The packages are the ones the build installed
 * (name, version, architecture from dpkg) when it materialised `package_spec`, else the declared entries. It holds
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

/** A Debian package as dpkg records it installed. */
export interface InstalledDebianPackage {
  name: string;
  version: string;
  architecture: string;
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
  /** The packages the build installed; when given, they replace the declared `package_spec` entries. */
  installedPackages?: readonly InstalledDebianPackage[];
  /** The suite the installed packages come from (`bookworm`), the purl's `distro` qualifier. */
  distributionSuite?: string;
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

const encodePurlPart = (value: string): string => encodeURIComponent(value).replace(/%3A/gi, ':');

/** The package URL of a declared Debian package, without a version when none is pinned (`pkg:deb/ubuntu/redis-server`). */
export function debianPackageUrl(entry: string, namespace: string): string {
  const { name, version, arch } = parsePackageSpecEntry(entry);
  return `pkg:deb/${encodePurlPart(namespace)}/${encodePurlPart(name)}${version === undefined ? '' : `@${encodePurlPart(version)}`}${arch === undefined ? '' : `?arch=${encodePurlPart(arch)}`}`;
}

/** The package URL of an installed package: `pkg:deb/debian/redis-server@5:7.0.15-1~deb12u1?arch=amd64&distro=bookworm`. */
export function installedPackageUrl(pkg: InstalledDebianPackage, namespace: string, suite: string | undefined): string {
  const qualifiers = [`arch=${encodePurlPart(pkg.architecture)}`, ...(suite === undefined ? [] : [`distro=${encodePurlPart(suite)}`])];
  return `pkg:deb/${encodePurlPart(namespace)}/${encodePurlPart(pkg.name)}@${encodePurlPart(pkg.version)}?${qualifiers.join('&')}`;
}

function packageComponentsOf(input: ModuleSbomInput): Array<{ type: string; 'bom-ref': string; name: string; version?: string; purl: string; scope: string }> {
  if (input.installedPackages !== undefined) {
    return [...input.installedPackages]
      .sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : a.architecture < b.architecture ? -1 : 1))
      .map((pkg) => {
        const purl = installedPackageUrl(pkg, input.packageNamespace, input.distributionSuite);
        return { type: 'library', 'bom-ref': purl, name: pkg.name, version: pkg.version, purl, scope: 'required' };
      });
  }
  const declared = [...new Set((input.manifest.package_spec ?? []).map((entry) => entry.trim()).filter((entry) => entry !== ''))].sort();
  return declared.map((entry) => {
    const { name, version } = parsePackageSpecEntry(entry);
    const purl = debianPackageUrl(entry, input.packageNamespace);
    return { type: 'library', 'bom-ref': purl, name, ...(version === undefined ? {} : { version }), purl, scope: 'required' };
  });
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
  const packageComponents = packageComponentsOf(input);
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
