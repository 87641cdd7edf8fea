import { randomBytes } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { SignJWT, importJWK } from 'jose';
import { describe, expect, inject, it } from 'vitest';
import { loadDevKey, LOCAL_AUDIENCE, LOCAL_ISSUER } from '../../infra/local/dev-key.js';
import { freePort } from '../../infra/local/ports.js';
import { call, tokenFor, uniqueProject } from '../api/client.js';
import { MiB } from '../api/data-helpers.js';
import { skyglass, skyglassEnv, workDir } from './cli.js';

/** The names of the images a project owns (the runtime is shared with suites that publish public images). */
const names = async (token: string, project: string) => ((await call(`/v2/images?owner=${project}`, { token })).body.images as Array<{ name: string }>).map((i) => i.name);

describe('skyglass on bad input: a clear message and an exit code scripts can test', () => {
  it('a missing file is a usage error (2) and creates no image', async () => {
    const project = uniqueProject();
    const token = await tokenFor(project);
    const run = await skyglass(token, 'image-create', '--name', 'ghost', '--disk-format', 'raw', '--container-format', 'bare', '--file', 'no-such.qcow2');
    expect(run.code).toBe(2);
    expect(run.stderr).toBe('Cannot read --file no-such.qcow2: no such file\n');
    expect(await names(token, project)).toEqual([]);
  });

  it('--file without --disk-format and --container-format is a usage error (2), as glance\'s, and creates no image', async () => {
    const project = uniqueProject();
    const token = await tokenFor(project);
    const path = join(workDir(), 'unformatted.raw');
    writeFileSync(path, randomBytes(1024));
    const run = await skyglass(token, 'image-create', '--name', 'unformatted', '--disk-format', 'raw', '--file', path);
    expect(run.code).toBe(2);
    expect(run.stderr).toBe('Must provide --container-format, --disk-format when using --file.\n');
    expect(await names(token, project)).toEqual([]);
  });

  it('a file that is not its disk format ends with the service\'s refusal (exit 1) and the image queued again', async () => {
    const token = await tokenFor(uniqueProject());
    const path = join(workDir(), 'not-a.qcow2');
    writeFileSync(path, randomBytes(6 * MiB));
    const run = await skyglass(token, 'image-create', '--name', 'fake', '--disk-format', 'qcow2', '--container-format', 'bare', '--file', path);
    expect(run.code).toBe(1);
    expect(run.stderr).toMatch(/Image [0-9a-f-]+ was not accepted \(status queued\): .*qcow2/);
  });

  it('a dead endpoint exits 3 naming it', async () => {
    const token = await tokenFor(uniqueProject());
    const dead = `http://127.0.0.1:${await freePort()}`;
    const run = await skyglassEnv({ OS_IMAGE_URL: dead }, token, 'image-list');
    expect(run.code).toBe(3);
    expect(run.stderr).toBe(`Unable to establish connection to ${dead}: ECONNREFUSED\n`);
    const flag = await skyglass(token, '--os-image-url', dead, 'image-show', 'x');
    expect(flag.code).toBe(3);
  });

  it('Keystone settings without a password are a usage error (2); a Keystone that cannot be reached exits 3 naming it', async () => {
    const dead = `http://127.0.0.1:${await freePort()}`;
    const partial = await skyglassEnv({ OS_AUTH_URL: `${dead}/v3`, OS_USERNAME: 'demo', OS_PROJECT_NAME: 'demo' }, null, 'image-list');
    expect(partial.code).toBe(2);
    expect(partial.stderr).toBe('You must provide a password via either --os-password or env[OS_PASSWORD]\n');
    const down = await skyglassEnv({ OS_AUTH_URL: `${dead}/v3`, OS_USERNAME: 'demo', OS_PASSWORD: 'x', OS_PROJECT_NAME: 'demo' }, null, 'image-list');
    expect(down.code).toBe(3);
    expect(down.stderr).toBe(`Unable to establish connection to ${dead}/v3: ECONNREFUSED\n`);
  });

  it('an expired token is the service\'s 401 (exit 1) with a hint on getting a fresh one', async () => {
    const key = loadDevKey(inject('dataDir'))!;
    const expired = await new SignJWT({ project_id: uniqueProject(), roles: ['member', 'reader'] })
      .setProtectedHeader({ alg: 'ES256', kid: key.privateJwk.kid ?? 'local' })
      .setIssuer(LOCAL_ISSUER)
      .setAudience(LOCAL_AUDIENCE)
      .setSubject('someone')
      .setIssuedAt(Math.floor(Date.now() / 1000) - 7200)
      .setExpirationTime(Math.floor(Date.now() / 1000) - 3600)
      .sign(await importJWK(key.privateJwk, 'ES256'));
    const run = await skyglass(expired, 'image-list');
    expect(run.code).toBe(1);
    expect(run.stderr).toMatch(/^HTTP 401 Unauthorized/);
    expect(run.stderr).toContain('skyglass token --project');
  });
});
