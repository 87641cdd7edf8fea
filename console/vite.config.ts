import { fileURLToPath } from 'node:url';
import { defineConfig } from 'vite';

/**
 * The browser console: `npm run build:console` (and `npm start` or the console tests when the
 * build is missing or older than its sources, infra/local/console-build.ts) write it to
 * dist/console, which the local runtime serves at /console/.
 */
export const CONSOLE_ROOT = fileURLToPath(new URL('.', import.meta.url));
export const CONSOLE_OUT_DIR = fileURLToPath(new URL('../dist/console', import.meta.url));

export default defineConfig({
  root: CONSOLE_ROOT,
  base: '/console/',
  // Nothing from the environment reaches the bundle: the console learns its settings at run time.
  envPrefix: 'SKYGLASS_CONSOLE_NEVER_',
  publicDir: false,
  // Always React's production build and JSX runtime, even when the build runs inside vitest
  // (NODE_ENV=test would give the development ones: 496 kB, or a jsxDEV the production react lacks).
  define: { 'process.env.NODE_ENV': JSON.stringify('production') },
  oxc: { jsx: { runtime: 'automatic', development: false } },
  logLevel: 'warn',
  build: {
    outDir: CONSOLE_OUT_DIR,
    emptyOutDir: true,
    // The CSP has no 'unsafe-inline': every script and style must be a file of its own.
    assetsInlineLimit: 0,
    modulePreload: { polyfill: false },
    target: 'es2022',
    reportCompressedSize: false,
    rolldownOptions: {
      // React Server Components' 'use client' markers mean nothing in a browser-only bundle.
      onwarn(warning, warn) {
        if (warning.code !== 'MODULE_LEVEL_DIRECTIVE') warn(warning);
      },
    },
  },
});
