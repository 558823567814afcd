import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { gzipSync } from 'node:zlib';
import type { Request, Response } from 'express';

/** Where the web UI is served. */
export const WEB_APP_PREFIX = '/app';

/** The built UI next to the gateway in the repository and in the image: apps/web/dist. */
export const DEFAULT_WEB_DIST = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../../web/dist');

const TYPES: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.svg': 'image/svg+xml',
  '.png': 'image/png',
  '.ico': 'image/x-icon',
  '.json': 'application/json',
  '.txt': 'text/plain; charset=utf-8',
};

/** Everything the page loads comes from this gateway: no CDN, no external font, no inline script. */
const CONTENT_SECURITY_POLICY =
  "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; font-src 'self'; object-src 'none'; base-uri 'self'; frame-ancestors 'none'; form-action 'self'";

interface WebFile {
  type: string;
  body: Buffer;
  /** Only for types worth compressing. */
  gzip: Buffer | null;
  /** Vite names assets by content hash: they never change under the same name. */
  immutable: boolean;
}

/** The built files, read once and compressed once: the UI is a few hundred kilobytes. */
export function loadWebFiles(dist: string): Map<string, WebFile> {
  const files = new Map<string, WebFile>();
  const walk = (dir: string): void => {
    for (const name of readdirSync(dir)) {
      const full = path.join(dir, name);
      if (statSync(full).isDirectory()) {
        walk(full);
        continue;
      }
      const rel = `/${path.relative(dist, full).split(path.sep).join('/')}`;
      const type = TYPES[path.extname(name)] ?? 'application/octet-stream';
      const body = readFileSync(full);
      const compressible = /^(text\/|application\/json|image\/svg)/.test(type);
      files.set(rel, { type, body, gzip: compressible ? gzipSync(body, { level: 9 }) : null, immutable: rel.startsWith('/assets/') });
    }
  };
  walk(dist);
  return files;
}

/**
 * Serves the single-page UI under /app: a built file by its path, and index.html for every other path under
 * /app (the client routes them). Answers 503 saying how to build when the UI has not been built.
 */
export function webAppHandler(dist = DEFAULT_WEB_DIST) {
  let files: Map<string, WebFile> | undefined;
  return (req: Request, res: Response): void => {
    if (req.method !== 'GET' && req.method !== 'HEAD') {
      res.status(405).setHeader('Allow', 'GET, HEAD').end();
      return;
    }
    if (!files) {
      if (!existsSync(path.join(dist, 'index.html'))) {
        res.status(503).type('text/plain').send(`the web UI is not built (no ${dist}/index.html): run npm run build\n`);
        return;
      }
      files = loadWebFiles(dist);
    }
    const wanted = req.path === '/' || req.path === '' ? '/index.html' : req.path;
    const asset = files.get(wanted);
    // A missing hashed asset is a 404, not the page: a stale tab must not get HTML for its script.
    if (!asset && wanted.startsWith('/assets/')) {
      res.status(404).type('text/plain').send('not found\n');
      return;
    }
    const file = asset ?? files.get('/index.html')!;
    res.setHeader('Content-Type', file.type);
    res.setHeader('Cache-Control', file.immutable ? 'public, max-age=31536000, immutable' : 'no-cache');
    res.setHeader('Content-Security-Policy', CONTENT_SECURITY_POLICY);
    res.setHeader('X-Content-Type-Options', 'nosniff');
    res.setHeader('Referrer-Policy', 'no-referrer');
    res.setHeader('Vary', 'Accept-Encoding');
    const gzip = file.gzip && req.acceptsEncodings('gzip', 'identity') === 'gzip';
    const body = gzip ? file.gzip! : file.body;
    if (gzip) res.setHeader('Content-Encoding', 'gzip');
    res.setHeader('Content-Length', String(body.length));
    res.status(200).end(req.method === 'HEAD' ? undefined : body);
  };
}
