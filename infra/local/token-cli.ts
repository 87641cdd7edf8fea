import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { dataDir, dataDirChosen, runningRuntimes, type RunningRuntime } from './data-dir.js';
import { loadDevKey, signToken } from './dev-key.js';

/**
 * `npm run -s token`: a token signed with the key of the service that will read it. It never
 * makes a key (a new key is one no running service trusts, so every request would get 401): it
 * signs with the key in DATA_DIR, and refuses, naming the DATA_DIR to pass, when that folder has
 * no key or when a service is running with another folder and none with this one.
 */
const usage = 'usage: [DATA_DIR=<the service\'s data folder>] npm run -s token -- --project <id> [--user <id>] [--roles admin,member,reader] [--ttl seconds]';

class Refusal extends Error {}

try {
  const { values } = parseArgs({
    options: {
      project: { type: 'string' },
      user: { type: 'string' },
      roles: { type: 'string', default: 'member,reader' },
      ttl: { type: 'string' },
    },
  });
  if (!values.project) throw new Error('--project is required');
  const dir = dataDir();
  const running = runningRuntimes();
  const here = running.find((r) => r.dataDir === dir);
  const elsewhere = running.filter((r) => r.dataDir !== dir);
  const key = loadDevKey(dir);
  if (!here && elsewhere.length > 0 && (!dataDirChosen() || !key)) {
    throw new Refusal(`No Skyglass is running with DATA_DIR=${dir}; ${describe(elsewhere)}.\nPass its DATA_DIR, e.g.: DATA_DIR=${elsewhere[0]!.dataDir} npm run -s token -- ...`);
  }
  if (!key) {
    throw new Refusal(
      `No dev key in ${dir}: no Skyglass has run with DATA_DIR=${dir}.\n` +
        `Start it first (${dataDirChosen() ? `DATA_DIR=${dir} ` : ''}npm start), or pass the DATA_DIR of the running service.`,
    );
  }
  if (here && !trustedBy(here, key.publicJwk.kid)) {
    throw new Refusal(`The dev key in ${dir} is not the one the service at ${here.url} loaded (it changed since it started): restart npm start.`);
  }
  if (!here && elsewhere.length > 0) {
    process.stderr.write(`note: no Skyglass is running with DATA_DIR=${dir} (${describe(elsewhere)}); this token is for the key in ${dir}.\n`);
  }
  const token = await signToken(key, {
    project: values.project,
    user: values.user,
    roles: values.roles.split(',').map((r) => r.trim()).filter(Boolean),
    ttl: values.ttl ? Number(values.ttl) : undefined,
  });
  process.stdout.write(`${token}\n`);
} catch (error) {
  process.stderr.write(`${(error as Error).message}\n${error instanceof Refusal ? '' : `${usage}\n`}`);
  process.exit(2);
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
