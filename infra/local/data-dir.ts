import { mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';

/** Where the local runtime keeps its data (DATA_DIR, default ./.skyglass). */
export function dataDir(): string {
  return resolve(process.env.DATA_DIR || '.skyglass');
}

/** Whether the caller chose the data folder (DATA_DIR set) rather than taking the default. */
export function dataDirChosen(): boolean {
  return Boolean(process.env.DATA_DIR);
}

/**
 * A running `npm start`, as it announces itself to one-off tools (`npm run token`), so they can
 * tell a data folder no running service uses and name the one it does use. Kept in the temporary
 * folder, one file per process, removed when the runtime stops; files of processes that died are
 * ignored and cleared.
 */
export interface RunningRuntime {
  pid: number;
  url: string;
  dataDir: string;
}

const registry = () => join(tmpdir(), 'skyglass-runtimes');
const entryFile = (pid: number) => join(registry(), `${pid}.json`);

export function announceRuntime(runtime: RunningRuntime): () => void {
  mkdirSync(registry(), { recursive: true });
  writeFileSync(entryFile(runtime.pid), JSON.stringify(runtime));
  return () => rmSync(entryFile(runtime.pid), { force: true });
}

export function runningRuntimes(): RunningRuntime[] {
  let names: string[];
  try {
    names = readdirSync(registry()).filter((name) => name.endsWith('.json'));
  } catch {
    return [];
  }
  const running: RunningRuntime[] = [];
  for (const name of names) {
    let entry: RunningRuntime;
    try {
      entry = JSON.parse(readFileSync(join(registry(), name), 'utf8')) as RunningRuntime;
    } catch {
      continue; // being written, or not ours
    }
    if (isAlive(entry.pid)) running.push(entry);
    else rmSync(join(registry(), name), { force: true });
  }
  return running;
}

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}
