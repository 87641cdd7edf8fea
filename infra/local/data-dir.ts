import { resolve } from 'node:path';

/** Where the local runtime keeps its data (DATA_DIR, default ./.skyglass). */
export function dataDir(): string {
  return resolve(process.env.DATA_DIR || '.skyglass');
}
