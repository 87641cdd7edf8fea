import { randomBytes } from 'node:crypto';
import { beforeAll, describe, expect, it } from 'vitest';
import { call, createImage, tokenFor, uniqueProject } from '../api/client.js';
import { settled, until } from '../api/data-helpers.js';
import { stockClients } from './cli.js';

/**
 * The stock glance client against the local runtime's two stores (issue #15): `stores-info`
 * lists them (the default flagged), `--detail` for admins, `stores-delete` removes one copy,
 * `image-import --import-method copy-image` copies an active image into another store.
 */
const { glance } = stockClients();
let member: string;
let admin: string;

beforeAll(async () => {
  member = await tokenFor(uniqueProject('compat-stores'));
  admin = await tokenFor(uniqueProject('compat-stores-admin'), ['admin', 'member', 'reader']);
});

describe('glance stores-info and stores-delete', () => {
  it('stores-info lists both stores, the default flagged', async () => {
    const out = await glance(member, 'stores-info');
    expect(out.code, out.stderr).toBe(0);
    expect(out.stdout).toContain('"id": "us"');
    expect(out.stdout).toContain('"id": "eu"');
    expect(out.stdout).toContain('"default": "true"');
  });

  it('stores-info --detail shows each store\'s bucket to an admin; a member is refused', async () => {
    const out = await glance(admin, 'stores-info', '--detail');
    expect(out.code, out.stderr).toBe(0);
    expect(out.stdout).toContain('skyglass-local-images-eu');
    expect(out.stdout).toContain('"type": "s3"');
    const refused = await glance(member, 'stores-info', '--detail');
    expect(refused.code).not.toBe(0);
    expect(refused.stderr).toContain('You are not authorized to complete stores_info_detail action.');
  });

  it('stores-delete removes one copy; the image stays active in the other store', async () => {
    const image = await createImage(member, { disk_format: 'raw', container_format: 'bare' });
    await call(`/v2/images/${image.id}/stage`, { method: 'PUT', token: member, body: randomBytes(4096), headers: { 'Content-Type': 'application/octet-stream' } });
    await call(`/v2/images/${image.id}/import`, { method: 'POST', token: member, json: { method: { name: 'glance-direct' }, all_stores: true } });
    expect(await settled(member, image.id)).toMatchObject({ status: 'active', stores: 'eu,us' });
    const out = await glance(admin, 'stores-delete', '--store', 'us', image.id);
    expect(out.code, out.stderr).toBe(0);
    expect((await call(`/v2/images/${image.id}`, { token: member })).body).toMatchObject({ status: 'active', stores: 'eu' });
    const last = await glance(admin, 'stores-delete', '--store', 'eu', image.id);
    expect(last.code).not.toBe(0);
    expect(last.stderr).toContain('Cannot delete image data from the only store containing it');
  });
});

describe('glance image-import --import-method copy-image', () => {
  it('copies an active image into eu; its stores grow by eu and the task succeeds', async () => {
    const image = await createImage(member, { disk_format: 'raw', container_format: 'bare' });
    await call(`/v2/images/${image.id}/file`, { method: 'PUT', token: member, body: randomBytes(8192), headers: { 'Content-Type': 'application/octet-stream' } });
    expect(await settled(member, image.id)).toMatchObject({ status: 'active', stores: 'us' });
    const out = await glance(admin, 'image-import', '--import-method', 'copy-image', '--stores', 'eu', image.id);
    expect(out.code, out.stderr).toBe(0);
    const copied = await until('the copy', async () => {
      const shown = (await call(`/v2/images/${image.id}`, { token: admin })).body;
      return shown.os_glance_importing_to_stores === '' ? shown : undefined;
    });
    expect(copied).toMatchObject({ status: 'active', stores: 'eu,us', os_glance_failed_import: '' });
    const tasks = await glance(admin, 'image-tasks', image.id);
    expect(tasks.code, tasks.stderr).toBe(0);
    expect(tasks.stdout).toContain('success');
    // A member may not copy (copy_image is admin by default): glance prints Glance's 403.
    const refused = await glance(member, 'image-import', '--import-method', 'copy-image', '--stores', 'eu', image.id);
    expect(refused.code).not.toBe(0);
    expect(refused.stderr).toMatch(/403|not authorized/);
  });
});
