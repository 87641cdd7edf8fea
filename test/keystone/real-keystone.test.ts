import { execFile } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { RuntimeProcess } from '../crash/runtime-process.js';
import { KeystoneServer } from './keystone-server.js';

/**
 * Skyglass as an OpenStack cloud's image service: a real Keystone, Skyglass registered in its
 * catalog as `image`, and the stock clients with nothing but their usual password settings
 * (OS_AUTH_URL, OS_USERNAME, ...): they get a token from Keystone, find Skyglass in the catalog
 * and use it, and Skyglass has Keystone validate each token.
 */
const CACHE_SECONDS = 3;

describe('with a real Keystone: the stock clients with password auth', () => {
  const dir = mkdtempSync(join(tmpdir(), 'skyglass-real-keystone-'));
  const keystone = new KeystoneServer(join(dir, 'keystone'));
  let runtime: RuntimeProcess;
  const projects: Record<string, string> = {};

  beforeAll(async () => {
    await keystone.start();
    projects.demo = await keystone.projectWithUser('demo', 'demo-user', 'demo-secret', ['member']);
    projects.alt = await keystone.projectWithUser('alt', 'alt-user', 'alt-secret', ['member']);
    projects.viewers = await keystone.projectWithUser('viewers', 'viewer', 'viewer-secret', ['reader']);
    // A short cache, so that a revoked token's end is seen within the test.
    runtime = new RuntimeProcess(join(dir, 'skyglass'), { KEYSTONE_URL: keystone.url, KEYSTONE_CACHE_SECONDS: String(CACHE_SECONDS) });
    await runtime.start();
    await keystone.registerImageService(runtime.url);
  });
  afterAll(async () => {
    await runtime?.stop();
    await keystone.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  /** A stock client (or the skyglass CLI) run as `user` of `project`, with the variables an openrc file sets. */
  function client(bin: 'openstack' | 'glance' | 'skyglass', user: string, password: string, project: string, ...args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
    const env: NodeJS.ProcessEnv = { PATH: process.env.PATH, HOME: dir, LC_ALL: 'C.UTF-8', NO_PROXY: '127.0.0.1,localhost', no_proxy: '127.0.0.1,localhost' };
    Object.assign(env, {
      OS_AUTH_URL: `${keystone.url}/v3`,
      OS_IDENTITY_API_VERSION: '3',
      OS_USERNAME: user,
      OS_PASSWORD: password,
      OS_PROJECT_NAME: project,
      OS_USER_DOMAIN_NAME: 'Default',
      OS_PROJECT_DOMAIN_NAME: 'Default',
      OS_REGION_NAME: 'RegionOne',
      OS_INTERFACE: 'public',
    });
    return new Promise((resolve) => {
      // stdin closed: the clients read image data from any stdin that is not a terminal.
      const command = bin === 'skyglass' ? [process.execPath, inject('cliBundle')] : [`/usr/bin/${bin}`];
      execFile('/bin/sh', ['-c', 'exec "$0" "$@" <&-', ...command, ...args], { env, cwd: dir, timeout: 90_000 }, (error, stdout, stderr) =>
        resolve({ code: error ? (typeof error.code === 'number' ? error.code : -1) : 0, stdout, stderr }),
      );
    });
  }
  const demo = (bin: 'openstack' | 'glance', ...args: string[]) => client(bin, 'demo-user', 'demo-secret', 'demo', ...args);
  const alt = (bin: 'openstack' | 'glance', ...args: string[]) => client(bin, 'alt-user', 'alt-secret', 'alt', ...args);
  const json = (run: { code: number; stdout: string; stderr: string }) => {
    expect(run.code, run.stderr).toBe(0);
    return JSON.parse(run.stdout);
  };

  it('openstack and glance create, upload, list and share images with their ordinary Keystone sessions', async () => {
    const data = randomBytes(3 * 1024 * 1024);
    const file = join(dir, 'cirros.raw');
    writeFileSync(file, data);
    const created = json(await demo('openstack', 'image', 'create', '--disk-format', 'raw', '--container-format', 'bare', '--shared', '--file', file, 'cirros-ks', '-f', 'json'));
    // openstackclient prints the record it created before uploading, as against Glance.
    expect(created).toMatchObject({ name: 'cirros-ks', owner: projects.demo });
    const shown = json(await demo('openstack', 'image', 'show', created.id, '-f', 'json'));
    expect(shown).toMatchObject({ status: 'active', owner: projects.demo, checksum: createHash('md5').update(data).digest('hex') });

    const listed = await demo('glance', 'image-list');
    expect(listed.code, listed.stderr).toBe(0);
    expect(listed.stdout).toContain('cirros-ks');

    // By project id: a member may not look other projects up in Keystone (openstackclient then
    // sends a name as given, against Glance too).
    const added = json(await demo('openstack', 'image', 'add', 'project', 'cirros-ks', projects.alt!, '-f', 'json'));
    expect(added).toMatchObject({ member_id: projects.alt, status: 'pending' });
    expect(json(await alt('openstack', 'image', 'list', '-f', 'json'))).toEqual([]);
    expect((await alt('openstack', 'image', 'set', '--accept', created.id)).code).toBe(0);
    expect(json(await alt('openstack', 'image', 'list', '-f', 'json')).map((i: { Name: string }) => i.Name)).toEqual(['cirros-ks']);
    expect((await demo('openstack', 'image', 'remove', 'project', 'cirros-ks', projects.alt!)).code).toBe(0);
    expect(json(await alt('openstack', 'image', 'list', '-f', 'json'))).toEqual([]);
  });

  it('applies the roles Keystone gives: a reader lists but cannot create', async () => {
    expect(json(await client('openstack', 'viewer', 'viewer-secret', 'viewers', 'image', 'list', '-f', 'json'))).toEqual(expect.any(Array));
    const refused = await client('glance', 'viewer', 'viewer-secret', 'viewers', 'image-create', '--name', 'not-mine');
    expect(refused.code).toBe(1);
    expect(refused.stderr).toBe('HTTP You are not authorized to complete add_image action.\n');
  });

  it('refuses a made-up token and a revoked one with 401 naming Keystone', async () => {
    const made = await fetch(`${runtime.url}/v2/images`, { headers: { 'X-Auth-Token': 'gAAAAAmade-up-token' } });
    expect(made.status).toBe(401);
    expect(made.headers.get('www-authenticate')).toBe(`Keystone uri="${keystone.url}"`);
    // A token never used with Skyglass, revoked before its first use: Keystone says 404.
    const token = await keystone.passwordToken('demo-user', 'demo-secret', 'demo');
    await keystone.revoke(token);
    expect((await fetch(`${runtime.url}/v2/images`, { headers: { 'X-Auth-Token': token } })).status).toBe(401);
  });

  it('stops honouring a token revoked with openstack token revoke at most the cache time later', async () => {
    const token = await keystone.passwordToken('demo-user', 'demo-secret', 'demo');
    const list = () => fetch(`${runtime.url}/v2/images`, { headers: { 'X-Auth-Token': token } }).then((r) => r.status);
    expect(await list()).toBe(200);
    const revoked = await client('openstack', 'admin', keystone.adminPassword, 'admin', 'token', 'revoke', token);
    expect(revoked.code, revoked.stderr).toBe(0);
    // Honoured meanwhile from the cache (as keystonemiddleware's token_cache_time); then refused.
    await new Promise((r) => setTimeout(r, (CACHE_SECONDS + 1) * 1000));
    expect(await list()).toBe(401);
  });

  it('the skyglass CLI logs in to Keystone with the same variables and finds Skyglass in the catalog', async () => {
    const data = randomBytes(9 * 1024 * 1024 + 5);
    const file = join(dir, 'via-cli.raw');
    writeFileSync(file, data);
    const created = await client('skyglass', 'demo-user', 'demo-secret', 'demo', 'image-create', '--name', 'cli-ks', '--disk-format', 'raw', '--container-format', 'bare', '--file', file, '--json');
    expect(created.code, created.stderr).toBe(0);
    expect(JSON.parse(created.stdout)).toMatchObject({ name: 'cli-ks', status: 'active', owner: projects.demo, checksum: createHash('md5').update(data).digest('hex') });
    const listed = json(await client('skyglass', 'demo-user', 'demo-secret', 'demo', 'image-list', '--json'));
    expect(listed.map((i: { name: string }) => i.name)).toContain('cli-ks');

    const wrong = await client('skyglass', 'demo-user', 'not-the-password', 'demo', 'image-list');
    expect(wrong.code).toBe(1);
    expect(wrong.stderr).toMatch(new RegExp(`^Keystone at ${keystone.url}/v3 refused the credentials: HTTP 401`));
  });
});
