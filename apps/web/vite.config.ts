import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { defineConfig } from 'vite';

const here = path.dirname(fileURLToPath(import.meta.url));
const contracts = path.resolve(here, '../../libs/contracts/src');

// The operator UI, served by the gateway under /app (apps/gateway/src/web/web-app.ts). Everything it loads is
// bundled here: no CDN, no external font. scripts/build.mjs runs this build.
export default defineConfig({
  root: here,
  base: '/app/',
  logLevel: 'warn',
  resolve: {
    alias: {
      // The browser needs the same validation as the API, not the whole contracts library (which loads node:crypto).
      '@powernode/contracts/browser': path.join(contracts, 'browser.ts'),
    },
  },
  oxc: { jsx: { runtime: 'automatic' } },
  build: {
    outDir: 'dist',
    emptyOutDir: true,
    target: 'es2022',
    sourcemap: false,
    reportCompressedSize: false,
    chunkSizeWarningLimit: 1000,
  },
});
