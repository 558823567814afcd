import { combineTrust, DevSigstore, loadTrustedRoot, PUBLIC_GOOD_TRUSTED_ROOT_PATH, type SigstoreTrust } from '@powernode/sigstore';

export interface IngestTrustSettings {
  /** `POWERNODE_TRUSTED_ROOT`: comma-separated TrustedRoot paths; unset = the shipped public-good root. */
  trustedRoots: string | undefined;
  /** `POWERNODE_DEV_SIGNING`: also trust the dev Sigstore under the data dir. */
  devSigning: boolean;
  dataDir: string;
}

/** The trust material ingest verifies with, and where each root came from (for the start-up log). */
export interface IngestTrust {
  trust: SigstoreTrust;
  sources: string[];
}

/** Loads every trusted root once, at start-up; a missing or malformed root stops the service with its reason. */
export async function loadIngestTrust(settings: IngestTrustSettings): Promise<IngestTrust> {
  const paths = (settings.trustedRoots ?? '')
    .split(',')
    .map((p) => p.trim())
    .filter((p) => p !== '');
  const files = paths.length > 0 ? paths : [PUBLIC_GOOD_TRUSTED_ROOT_PATH];
  const roots = files.map((file) => loadTrustedRoot(file, { name: file === PUBLIC_GOOD_TRUSTED_ROOT_PATH ? 'public-good' : file }));
  const sources = files.map((file) => (file === PUBLIC_GOOD_TRUSTED_ROOT_PATH ? 'public-good (shipped)' : file));
  if (settings.devSigning) {
    const dev = await DevSigstore.loadOrCreate(settings.dataDir);
    roots.push(dev.trust());
    sources.push(`dev (${dev.trustedRootPath})`);
  }
  return { trust: combineTrust(...roots), sources };
}
