import { ensureConsoleBuilt } from '../../infra/local/console-build.js';

/**
 * The console tests drive the built console: build it first when it is missing or older than its
 * sources (a fresh clone, or console/ edited since the last build). test/api/global-setup.ts,
 * next in the project's list, then starts the runtime that serves it.
 */
export default async function setup() {
  await ensureConsoleBuilt();
}
