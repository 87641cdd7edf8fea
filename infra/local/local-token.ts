import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { dataDir, dataDirChosen, runningRuntimes, type RunningRuntime } from './data-dir.js';
import { loadDevKey, signToken } from './dev-key.js';

/**
 * A token for the local runtime, signed with the key of the service that will read it: what
 * `npm run -s token` and `skyglass token` print. It never makes a key (a new key is one no
 * running service trusts, so every request would get 401): it signs with the key in DATA_DIR,
 * and refuses, naming the DATA_DIR to pass, when that folder has no key or when a service is
 * running with another folder and none with this one.
 */
export class TokenRefusal extends Error {}

export interface LocalTokenRequest {
  project: string;
  user?: string;
  roles: string[];
  ttl?: number;
  /** How the refusal tells the user to run this again (`npm run -s token -- ...`). */
  command: string;
}

/** Resolves to the token and any note for stderr; throws TokenRefusal when no service would accept it. */
export async function localToken(request: LocalTokenRequest): Promise<{ token: string; note?: string }> {
  const dir = dataDir();
  const running = runningRuntimes();
  const here = running.find((r) => r.dataDir === dir);
  const elsewhere = running.filter((r) => r.dataDir !== dir);
  const key = loadDevKey(dir);
  if (!here && elsewhere.length > 0 && (!dataDirChosen() || !key)) {
    throw new TokenRefusal(`No Skyglass is running with DATA_DIR=${dir}; ${describe(elsewhere)}.\nPass its DATA_DIR, e.g.: DATA_DIR=${elsewhere[0]!.dataDir} ${request.command}`);
  }
  if (!key) {
    throw new TokenRefusal(
      `No dev key in ${dir}: no Skyglass has run with DATA_DIR=${dir}.\n` +
        `Start it first (${dataDirChosen() ? `DATA_DIR=${dir} ` : ''}npm start), or pass the DATA_DIR of the running service.`,
    );
  }
  if (here && !trustedBy(here, key.publicJwk.kid)) {
    throw new TokenRefusal(`The dev key in ${dir} is not the one the service at ${here.url} loaded (it changed since it started): restart npm start.`);
  }
  const note = !here && elsewhere.length > 0 ? `note: no Skyglass is running with DATA_DIR=${dir} (${describe(elsewhere)}); this token is for the key in ${dir}.` : undefined;
  const token = await signToken(key, { project: request.project, user: request.user, roles: request.roles, ttl: request.ttl });
  return { token, ...(note ? { note } : {}) };
}

function describe(runtimes: RunningRuntime[]): string {
  return runtimes.map((r) => `the one at ${r.url} (pid ${r.pid}) uses DATA_DIR=${r.dataDir}`).join('; ');
}

/** The running service verifies with the public key it wrote into runtime.json when it started. */
function trustedBy(runtime: RunningRuntime, kid: string | undefined): boolean {
  try {
    const { environment } = JSON.parse(readFileSync(join(runtime.dataDir, 'runtime.json'), 'utf8')) as { environment: { JWKS_JSON: string } };
    const { keys } = JSON.parse(environment.JWKS_JSON) as { keys: Array<{ kid?: string }> };
    return keys.some((k) => k.kid === kid);
  } catch {
    return true; // runtime.json unreadable: the key file is all there is to go by
  }
}
