#!/usr/bin/env node
// The `skyglass` bin: runs the bundle `npm ci` built (scripts/build-cli.mjs), building it first
// when it is missing or older than a source in cli/ (a checkout whose CLI changed since).
import { existsSync, readdirSync, statSync } from 'node:fs';
import { fileURLToPath, pathToFileURL } from 'node:url';

const bundle = fileURLToPath(new URL('../dist/skyglass.mjs', import.meta.url));
const sources = fileURLToPath(new URL('../cli/', import.meta.url));
const stale = () => {
  const built = statSync(bundle).mtimeMs;
  return existsSync(sources) && readdirSync(sources).some((f) => statSync(sources + f).mtimeMs > built);
};
if (!existsSync(bundle) || stale()) await (await import('../scripts/build-cli.mjs')).buildCli();
await import(pathToFileURL(bundle).href);
