import { randomBytes } from 'node:crypto';
import { beforeAll, describe, expect, it } from 'vitest';
import { call, createImage, tokenFor, uniqueProject } from '../api/client.js';
import { settled } from '../api/data-helpers.js';
import { stockClients } from './cli.js';

/**
 * The stock glance client's task commands (issue #14 scope 3) after a glance-direct import:
 * `image-tasks` for the image's owner, `task-list` and `task-show` for an admin (Glance's
 * tasks_api_access), a member refused as Glance refuses it.
 */
const { glance } = stockClients();
let member: string;
let admin: string;
let imageId: string;
let taskId: string;

beforeAll(async () => {
  member = await tokenFor(uniqueProject('compat-tasks'));
  admin = await tokenFor(uniqueProject('compat-tasks-admin'), ['admin', 'member', 'reader']);
  const image = await createImage(member, { disk_format: 'raw', container_format: 'bare' });
  imageId = image.id;
  await call(`/v2/images/${imageId}/stage`, { method: 'PUT', token: member, body: randomBytes(4096), headers: { 'Content-Type': 'application/octet-stream' } });
  await call(`/v2/images/${imageId}/import`, { method: 'POST', token: member, json: { method: { name: 'glance-direct' } } });
  expect(await settled(member, imageId)).toMatchObject({ status: 'active' });
  taskId = (await call(`/v2/images/${imageId}/tasks`, { token: member })).body.tasks[0].id;
});

/** The task ids a glance table shows (its first UUID column). */
const idsIn = (table: string) => [...table.matchAll(/^\|\s*([0-9a-f-]{36})\s*\|/gm)].map((m) => m[1]);

describe('glance image-tasks, task-list and task-show', () => {
  it('image-tasks shows the import\'s task, success with its message, to the image\'s owner (glanceclient\'s Message, Status, Updated at)', async () => {
    const out = await glance(member, 'image-tasks', imageId);
    expect(out.code, out.stderr).toBe(0);
    expect(out.stdout).toMatch(/\|\s*Message\s*\|\s*Status\s*\|\s*Updated at\s*\|/);
    expect(out.stdout).toMatch(/\|\s*Copied 0 MiB\s*\|\s*success\s*\|\s*\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}\s*\|/);
  });

  it('task-list lists it for an admin, sorted as glanceclient asks; a member is refused', async () => {
    const out = await glance(admin, 'task-list', '--page-size', '1000');
    expect(out.code, out.stderr).toBe(0);
    expect(idsIn(out.stdout)).toContain(taskId);
    const refused = await glance(member, 'task-list');
    expect(refused.code).not.toBe(0);
    expect(refused.stderr).toContain('You are not authorized to complete tasks_api_access action.');
  });

  it('task-show shows the task\'s fields to an admin; an unknown task is glance\'s 404', async () => {
    const out = await glance(admin, 'task-show', taskId);
    expect(out.code, out.stderr).toBe(0);
    for (const field of ['api_image_import', 'success', 'Copied 0 MiB', imageId, 'glance-direct']) expect(out.stdout, field).toContain(field);
    const unknown = await glance(admin, 'task-show', '00000000-0000-4000-8000-000000000000');
    expect(unknown.code).not.toBe(0);
    expect(unknown.stderr).toContain('Could not find task 00000000-0000-4000-8000-000000000000');
  });
});
