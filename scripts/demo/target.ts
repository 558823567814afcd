import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

/** The repository the demo runs from: examples/ and the CLI are found under it. */
export const REPO_ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');

/** The running platform the demo talks to. */
export interface DemoTarget {
  /** Gateway base URL. */
  url: string;
  /** Admin bearer token. */
  token: string;
  /** `host[:port]` of the OCI registry modules are pushed to. */
  registry: string;
  /** The platform's data dir (holds the dev Sigstore the CLI signs with). */
  dataDir: string;
}

/** Reads the target from the environment, the token from POWERNODE_TOKEN or the dev stack's admin-token file. */
export function demoTarget(env: NodeJS.ProcessEnv = process.env): DemoTarget {
  const dataDir = path.resolve(env['POWERNODE_DATA_DIR'] ?? './.data');
  const url = (env['POWERNODE_URL'] ?? 'http://127.0.0.1:8080').replace(/\/+$/, '');
  let token = env['POWERNODE_TOKEN'];
  const tokenFile = path.join(dataDir, 'admin-token');
  if (!token && existsSync(tokenFile)) token = readFileSync(tokenFile, 'utf8').trim();
  if (!token) throw new Error(`no admin token: set POWERNODE_TOKEN, or start the platform with npm start (it writes ${tokenFile})`);
  return { url, token, registry: env['OCI_REGISTRY'] ?? '127.0.0.1:5000', dataDir };
}
