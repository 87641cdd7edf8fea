#!/usr/bin/env node
// The `skyglass` bin: runs the bundle `npm ci` built (scripts/build-cli.mjs), building it first if it is missing.
import { existsSync } from 'node:fs';
import { fileURLToPath, pathToFileURL } from 'node:url';

const bundle = fileURLToPath(new URL('../dist/skyglass.mjs', import.meta.url));
if (!existsSync(bundle)) await (await import('../scripts/build-cli.mjs')).buildCli();
await import(pathToFileURL(bundle).href);
