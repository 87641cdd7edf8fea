import { spawnSync, type ChildProcess } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadOrCreateDevKey } from '../../infra/local/dev-key.js';
import { freePort } from '../../infra/local/ports.js';
import { CHECKOUT, spawnGroup, stopGroup, userEnvironment, waitForOutput } from './processes.js';

/**
 * `npm run -s token` against a running `npm start`. The service keeps its data in
 * <scratch>/home/.skyglass, the default DATA_DIR of a shell in <scratch>/home. The token command
 * runs as `npm run token` runs it (tsx on infra/local/token-cli.ts), from the folder a user would
 * be in, since its default DATA_DIR is relative to that folder.
 */
let scratch: string;
let home: string;
let serviceDir: string;
let url: string;
let service: ChildProcess | undefined;
let env: NodeJS.ProcessEnv;

beforeAll(async () => {
  scratch = mkdtempSync(join(tmpdir(), 'skyglass-token-'));
  home = join(scratch, 'home');
  serviceDir = join(home, '.skyglass');
  mkdirSync(join(scratch, 'tmp'));
  mkdirSync(home);
  const port = await freePort();
  // Its own TMPDIR, where a running npm start announces itself, so no other runtime on the machine interferes.
  env = userEnvironment({ TMPDIR: join(scratch, 'tmp') });
  service = spawnGroup('npm', ['start'], { cwd: CHECKOUT, env: { ...env, PORT: String(port), DATA_DIR: serviceDir } });
  await waitForOutput(service, /is listening on/, 120_000);
  url = `http://127.0.0.1:${port}`;
}, 150_000);

afterAll(async () => {
  if (service) await stopGroup(service);
  if (scratch) rmSync(scratch, { recursive: true, force: true });
});

function token(cwd: string, dataDir?: string) {
  const result = spawnSync(join(CHECKOUT, 'node_modules/.bin/tsx'), [join(CHECKOUT, 'infra/local/token-cli.ts'), '--project', 'demo', '--roles', 'member'], {
    cwd,
    env: { ...env, ...(dataDir ? { DATA_DIR: dataDir } : {}) },
    encoding: 'utf8',
  });
  return { status: result.status, stdout: result.stdout, stderr: result.stderr };
}

async function listWith(tokenText: string) {
  return (await fetch(`${url}/v2/images`, { headers: { 'X-Auth-Token': tokenText } })).status;
}

describe('npm run -s token', () => {
  it('with the default DATA_DIR of the running service, prints a token the service accepts', async () => {
    const result = token(home);
    expect(result.stderr).toBe('');
    expect(result.status).toBe(0);
    expect(result.stdout).toMatch(/^[\w-]+\.[\w-]+\.[\w-]+\n$/);
    expect(await listWith(result.stdout.trim())).toBe(200);
  });

  it('from another folder, without DATA_DIR, refuses and names the DATA_DIR to pass, making no key', () => {
    const elsewhere = join(scratch, 'elsewhere');
    mkdirSync(elsewhere);
    const result = token(elsewhere);
    expect(result.status).toBe(2);
    expect(result.stdout).toBe('');
    expect(result.stderr).toContain(`No Skyglass is running with DATA_DIR=${join(elsewhere, '.skyglass')}`);
    expect(result.stderr).toContain(`DATA_DIR=${serviceDir} npm run -s token`);
    expect(result.stderr).toContain(url);
    expect(existsSync(join(elsewhere, '.skyglass'))).toBe(false);
  });

  it('with the DATA_DIR it names, prints a token the service accepts', async () => {
    const result = token(scratch, serviceDir);
    expect(result.status).toBe(0);
    expect(await listWith(result.stdout.trim())).toBe(200);
  });

  it('refuses a DATA_DIR that no service has used, and makes no key there', () => {
    const unused = join(scratch, 'unused');
    const result = token(scratch, unused);
    expect(result.status).toBe(2);
    expect(result.stdout).toBe('');
    expect(result.stderr).toContain(`DATA_DIR=${serviceDir} npm run -s token`);
    expect(existsSync(join(unused, 'dev-key.json'))).toBe(false);
  });

  it('refuses an old key in the default folder while the service runs with another', async () => {
    // A folder an earlier `npm start` used: its key is one the running service does not trust.
    const earlier = join(scratch, 'earlier');
    mkdirSync(earlier);
    await loadOrCreateDevKey(join(earlier, '.skyglass'));
    const result = token(earlier);
    expect(result.status).toBe(2);
    expect(result.stdout).toBe('');
    expect(result.stderr).toContain(`DATA_DIR=${serviceDir} npm run -s token`);
  });
});
