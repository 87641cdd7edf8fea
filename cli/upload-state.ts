import { createHash } from 'node:crypto';
import { mkdirSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { homedir } from 'node:os';
import { join } from 'node:path';

/**
 * What a killed upload needs to resume: the session's id, kept per (endpoint, image, file) in a
 * small JSON file. The parts themselves are not recorded: the session's GET lists what the store
 * holds, which is the truth even when the process died between a part's 200 and any write here.
 * The file's size and mtime say whether it is still the file the parts were cut from.
 */
export interface UploadState {
  baseUrl: string;
  imageId: string;
  uploadId: string;
  file: string;
  size: number;
  mtimeMs: number;
}

export function stateDir(): string {
  return process.env.SKYGLASS_STATE_DIR || join(process.env.XDG_STATE_HOME || join(homedir(), '.local', 'state'), 'skyglass', 'uploads');
}

function stateFile(baseUrl: string, imageId: string, file: string): string {
  const key = createHash('sha256').update(`${baseUrl}\n${imageId}\n${file}`).digest('hex').slice(0, 32);
  return join(stateDir(), `${key}.json`);
}

export function loadState(baseUrl: string, imageId: string, file: string): UploadState | null {
  try {
    return JSON.parse(readFileSync(stateFile(baseUrl, imageId, file), 'utf8')) as UploadState;
  } catch {
    return null;
  }
}

/** Written to a temporary name and renamed, so a kill mid-write leaves the old state or the new one. */
export function saveState(state: UploadState): void {
  const file = stateFile(state.baseUrl, state.imageId, state.file);
  mkdirSync(stateDir(), { recursive: true });
  writeFileSync(`${file}.tmp`, JSON.stringify(state), { mode: 0o600 });
  renameSync(`${file}.tmp`, file);
}

export function clearState(baseUrl: string, imageId: string, file: string): void {
  rmSync(stateFile(baseUrl, imageId, file), { force: true });
}
