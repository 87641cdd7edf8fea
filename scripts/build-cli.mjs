/**
 * Bundles the `skyglass` CLI (cli/main.ts) into one ESM file, dist/skyglass.mjs, so it starts
 * without tsx or a module graph to resolve. Run by `npm ci`/`npm install` (the `prepare` script)
 * and by bin/skyglass.mjs when the bundle is missing.
 */
import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
export const BUNDLE = join(root, 'dist', 'skyglass.mjs');

export async function buildCli({ outfile = BUNDLE } = {}) {
  const { build } = await import('esbuild');
  const { version } = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8'));
  await build({
    entryPoints: [join(root, 'cli', 'main.ts')],
    outfile,
    bundle: true,
    platform: 'node',
    format: 'esm',
    target: 'node24',
    minify: true,
    legalComments: 'none',
    define: { SKYGLASS_VERSION: JSON.stringify(version) },
    logLevel: 'warning',
  });
  return outfile;
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  await buildCli();
}
