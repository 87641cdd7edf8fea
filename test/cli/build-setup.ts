import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { TestProject } from 'vitest/node';
// @ts-expect-error: a plain .mjs build script (scripts/build-cli.mjs), typed by its use here
import { buildCli } from '../../scripts/build-cli.mjs';

/** Builds the CLI bundle the tests run, fresh from the sources under test (not a stale dist/). */
export default async function setup(project: TestProject) {
  const dir = mkdtempSync(join(tmpdir(), 'skyglass-cli-build-'));
  const bundle = await (buildCli as (o: { outfile: string }) => Promise<string>)({ outfile: join(dir, 'skyglass.mjs') });
  project.provide('cliBundle', bundle);
  return () => rmSync(dir, { recursive: true, force: true });
}

declare module 'vitest' {
  export interface ProvidedContext {
    cliBundle: string;
  }
}
