import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { call, createImage, tokenFor, uniqueProject } from '../api/client.js';
import { download, settled, until } from '../api/data-helpers.js';
import { startSourceServer, type SourceServer } from '../api/source-server.js';
import { parseDict, stockClients } from './cli.js';

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

describe('glance task-create: a legacy import task (Glance\'s base_import flow)', () => {
  let source: SourceServer;
  const data = randomBytes(512 * 1024 + 3);
  beforeAll(async () => {
    source = await startSourceServer();
    source.serve('legacy', data);
  });
  afterAll(async () => source?.close());

  it('task-create --type import fetches import_from into a new image; task-show ends success with its image_id', async () => {
    const input = { import_from: `${source.base}/file/legacy`, import_from_format: 'raw', image_properties: { name: 'compat-legacy', disk_format: 'raw', container_format: 'bare' } };
    const out = await glance(admin, 'task-create', '--type', 'import', '--input', JSON.stringify(input));
    expect(out.code, out.stderr).toBe(0);
    const created = parseDict(out.stdout);
    expect(created).toMatchObject({ type: 'import', status: 'processing' });
    const shown = await until('the task to finish', async () => {
      const row = parseDict((await glance(admin, 'task-show', created.id!)).stdout);
      return ['success', 'failure'].includes(row.status ?? '') ? row : undefined;
    }, 60_000);
    expect(shown.status).toBe('success');
    const imageId = JSON.parse(shown.result!).image_id as string;
    expect(await settled(admin, imageId)).toMatchObject({ status: 'active', name: 'compat-legacy', size: data.length });
    expect((await download(admin, imageId)).bytes?.equals(data)).toBe(true);
  });
});
