import { mkdirSync, readdirSync, renameSync, rmSync, statSync } from 'node:fs';
import { dirname, join } from 'node:path';

/**
 * The browser console's build (console/, Vite) for the local runtime to serve. `npm start` and
 * the console tests build it when it is missing or older than its sources, so a fresh clone needs
 * no step of its own; `npm run build:console` builds it (type-checked first) on demand.
 */
const ROOT = join(import.meta.dirname, '..', '..');
export const CONSOLE_DIST = join(ROOT, 'dist', 'console');
/** What the bundle is made from: its own folder, the domain code it imports, the locked dependencies. */
const SOURCES = [join(ROOT, 'console'), join(ROOT, 'shared', 'domain'), join(ROOT, 'package-lock.json')];

function newestMtime(path: string): number {
  const stat = statSync(path, { throwIfNoEntry: false });
  if (!stat) return 0;
  if (!stat.isDirectory()) return stat.mtimeMs;
  let newest = stat.mtimeMs;
  for (const entry of readdirSync(path)) newest = Math.max(newest, newestMtime(join(path, entry)));
  return newest;
}

/** Whether dist/console is missing or older than any of its sources. */
export function consoleBuildStale(): boolean {
  const built = statSync(join(CONSOLE_DIST, 'index.html'), { throwIfNoEntry: false });
  return !built || SOURCES.some((source) => newestMtime(source) > built.mtimeMs);
}

/**
 * Builds into a folder of its own, then swaps it in: a runtime serving the old build (or another
 * process building at the same time) never reads a half-written one.
 */
export async function buildConsole(): Promise<void> {
  const { build } = await import('vite');
  const temporary = `${CONSOLE_DIST}.building-${process.pid}-${Date.now()}`;
  const retired = `${CONSOLE_DIST}.old-${process.pid}-${Date.now()}`;
  mkdirSync(dirname(CONSOLE_DIST), { recursive: true });
  try {
    await build({ configFile: join(ROOT, 'console', 'vite.config.ts'), logLevel: 'warn', build: { outDir: temporary, emptyOutDir: true } });
    try {
      renameSync(CONSOLE_DIST, retired);
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'ENOENT') throw error;
    }
    try {
      renameSync(temporary, CONSOLE_DIST);
    } catch (error) {
      // Another process swapped its own fresh build in between: that one serves as well.
      if (!['ENOTEMPTY', 'EEXIST'].includes((error as NodeJS.ErrnoException).code ?? '')) throw error;
    }
  } finally {
    rmSync(temporary, { recursive: true, force: true });
    rmSync(retired, { recursive: true, force: true });
  }
}

/** Builds the console unless dist/console is up to date; true when it built. */
export async function ensureConsoleBuilt(): Promise<boolean> {
  if (!consoleBuildStale()) return false;
  await buildConsole();
  return true;
}
