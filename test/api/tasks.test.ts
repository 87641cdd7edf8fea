import { createHash, randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { call, createImage, tokenFor, uniqueProject } from './client.js';
import { download, settled, until } from './data-helpers.js';
import { startSourceServer, type SourceServer } from './source-server.js';

const OCTETS = { 'Content-Type': 'application/octet-stream' };
const GLANCE_DIRECT = { method: { name: 'glance-direct' } };
const WHOLE_SECONDS = /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$/;
const MICROSECONDS = /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}$/;
const ADMIN = ['admin', 'member', 'reader'];

/** A project's image staged with `data` and imported with glance-direct; the import's 202 and the settled image. */
async function importedImage(token: string, data: Buffer, diskFormat = 'raw') {
  const image = await createImage(token, { name: 'task', disk_format: diskFormat, container_format: 'bare' });
  expect((await call(`/v2/images/${image.id}/stage`, { method: 'PUT', token, body: data, headers: OCTETS })).status).toBe(204);
  const imported = await call(`/v2/images/${image.id}/import`, { method: 'POST', token, json: GLANCE_DIRECT });
  expect(imported.status).toBe(202);
  return { id: image.id as string, imported, image: await settled(token, image.id) };
}

describe('tasks: every glance-direct import records its api_image_import task', () => {
  it('a successful import: the image lists its one task, success, with the import request and the request id (Tempest checks both)', async () => {
    const project = uniqueProject();
    const token = await tokenFor(project, ['member', 'reader'], 'user-1');
    const { id, imported, image } = await importedImage(token, randomBytes(3000));
    expect(image.status).toBe('active');

    const listed = await call(`/v2/images/${id}/tasks`, { token });
    expect(listed.status).toBe(200);
    expect(listed.body.tasks).toHaveLength(1);
    const task = listed.body.tasks[0];
    expect(task).toEqual({
      id: expect.any(String),
      type: 'api_image_import',
      status: 'success',
      owner: project,
      expires_at: expect.stringMatching(MICROSECONDS),
      created_at: expect.stringMatching(MICROSECONDS),
      updated_at: expect.stringMatching(MICROSECONDS),
      deleted_at: null,
      deleted: false,
      image_id: id,
      request_id: imported.headers.get('x-openstack-request-id'),
      user_id: 'user-1',
      input: { image_id: id, import_req: GLANCE_DIRECT },
      result: { image_id: id },
      message: 'Copied 0 MiB',
    });
    expect(task.request_id).toMatch(/^req-[0-9a-f-]{36}$/);
    // Glance's task_time_to_live: a finished task expires 48 hours after it finished.
    const hours = (Date.parse(`${task.expires_at}Z`) - Date.parse(`${task.updated_at}Z`)) / 3600_000;
    expect(hours).toBeCloseTo(48, 5);

    // The admin's tasks API shows the same task, in Glance's other shapes.
    const admin = await tokenFor(uniqueProject('admin'), ADMIN);
    const shown = await call(`/v2/tasks/${task.id}`, { token: admin });
    expect(shown.status).toBe(200);
    expect(shown.body).toEqual({
      id: task.id, input: task.input, type: 'api_image_import', status: 'success', owner: project, message: 'Copied 0 MiB', result: { image_id: id },
      created_at: expect.stringMatching(WHOLE_SECONDS), updated_at: expect.stringMatching(WHOLE_SECONDS), self: `/v2/tasks/${task.id}`, schema: '/v2/schemas/task',
      image_id: id, request_id: task.request_id, user_id: 'user-1', expires_at: expect.stringMatching(WHOLE_SECONDS),
    });
    expect(shown.body.created_at).toBe(`${task.created_at.slice(0, 19)}Z`);
  });

  it('a refused import: the task is failure with the reason, and the image is back to queued', async () => {
    const token = await tokenFor(uniqueProject());
    // Random bytes are no qcow2: the verifier refuses them.
    const { id, image } = await importedImage(token, randomBytes(2048), 'qcow2');
    expect(image.status).toBe('queued');
    const [task, ...others] = (await call(`/v2/images/${id}/tasks`, { token })).body.tasks;
    expect(others).toEqual([]);
    expect(task).toMatchObject({ type: 'api_image_import', status: 'failure', result: null, image_id: id, expires_at: expect.stringMatching(MICROSECONDS) });
    expect(task.message).toContain('refused');
    expect(task.message).toBe(image.os_skyglass_failure);
  });

  it('an import into several stores records its task and its stores in the same write: the task keeps the request, the image lands in both', async () => {
    const token = await tokenFor(uniqueProject());
    const image = await createImage(token, { name: 'task-stores', disk_format: 'raw', container_format: 'bare' });
    expect((await call(`/v2/images/${image.id}/stage`, { method: 'PUT', token, body: randomBytes(1500), headers: OCTETS })).status).toBe(204);
    const request = { ...GLANCE_DIRECT, stores: ['us', 'eu'], all_stores_must_succeed: true };
    expect((await call(`/v2/images/${image.id}/import`, { method: 'POST', token, json: request })).status).toBe(202);
    expect(await settled(token, image.id)).toMatchObject({ status: 'active', stores: 'eu,us' });
    const { tasks } = (await call(`/v2/images/${image.id}/tasks`, { token })).body;
    expect(tasks).toHaveLength(1);
    expect(tasks[0]).toMatchObject({ type: 'api_image_import', status: 'success', input: { image_id: image.id, import_req: request }, result: { image_id: image.id } });
  });

  it("an image's tasks: 404 for an image the caller cannot see (or none), another project sees none of the owner's tasks on a public image", async () => {
    const owner = await tokenFor(uniqueProject());
    const other = await tokenFor(uniqueProject());
    const admin = await tokenFor(uniqueProject('admin'), ADMIN);
    const { id } = await importedImage(owner, randomBytes(1000));
    for (const path of [`/v2/images/${id}/tasks`, '/v2/images/00000000-0000-4000-8000-000000000000/tasks', '/v2/images/not-a-uuid/tasks']) {
      const res = await call(path, { token: other });
      expect(res.status, path).toBe(404);
      expect(res.body.message).toBe('The resource could not be found.');
    }
    const publicImage = await call(`/v2/images/${id}`, {
      method: 'PATCH', token: admin, body: JSON.stringify([{ op: 'replace', path: '/visibility', value: 'public' }]), headers: { 'Content-Type': 'application/openstack-images-v2.1-json-patch' },
    });
    expect(publicImage.status).toBe(200);
    expect((await call(`/v2/images/${id}/tasks`, { token: other })).body).toEqual({ tasks: [] });
    expect((await call(`/v2/images/${id}/tasks`, { token: admin })).body.tasks).toHaveLength(1);
    // A fresh image has no tasks yet.
    const fresh = await createImage(owner, {});
    expect((await call(`/v2/images/${fresh.id}/tasks`, { token: owner })).body).toEqual({ tasks: [] });
  });
});

describe('tasks API (tasks_api_access: admin by default)', () => {
  it('members get 403 on every tasks route, as Glance answers', async () => {
    const token = await tokenFor(uniqueProject());
    for (const [method, path, json] of [['GET', '/v2/tasks'], ['GET', '/v2/tasks/00000000-0000-4000-8000-000000000000'], ['POST', '/v2/tasks', { type: 'import', input: {} }]] as const) {
      const res = await call(path, { method, token, json });
      expect(res.status, `${method} ${path}`).toBe(403);
      expect(res.body.message).toBe('You are not authorized to complete tasks_api_access action.');
    }
  });

  it('an admin lists tasks newest first in pages with next links, filters by status and type, and finds an unknown task 404', async () => {
    const owner = await tokenFor(uniqueProject());
    const admin = await tokenFor(uniqueProject('admin'), ADMIN);
    const ids: string[] = [];
    for (let i = 0; i < 3; i++) {
      const { id } = await importedImage(owner, randomBytes(500));
      ids.push((await call(`/v2/images/${id}/tasks`, { token: owner })).body.tasks[0].id);
    }
    // Other tests add tasks concurrently: page until ours are seen, newest first.
    const seen: string[] = [];
    let next: string | undefined = '/v2/tasks?limit=2';
    let pages = 0;
    while (next && pages++ < 500) {
      const page: { status: number; body: any } = await call(next, { token: admin });
      expect(page.status).toBe(200);
      expect(page.body.schema).toBe('/v2/schemas/tasks');
      for (const t of page.body.tasks) {
        expect(Object.keys(t).sort()).toEqual(['created_at', 'expires_at', 'id', 'owner', 'schema', 'self', 'status', 'type', 'updated_at']);
        seen.push(t.id);
      }
      if (page.body.tasks.length === 2) expect(page.body.next).toBe(`/v2/tasks?limit=2&marker=${page.body.tasks[1].id}`);
      else expect(page.body.next).toBeUndefined();
      next = page.body.next;
    }
    const ours = seen.filter((t) => ids.includes(t));
    expect(ours).toEqual([...ids].reverse());
    expect(new Set(seen).size).toBe(seen.length);

    const asc = (await call('/v2/tasks?sort_dir=asc&limit=1000', { token: admin })).body.tasks.map((t: { id: string }) => t.id).filter((t: string) => ids.includes(t));
    expect(asc).toEqual(ids);
    const failures = (await call('/v2/tasks?status=failure&limit=1000', { token: admin })).body.tasks;
    expect(failures.every((t: { status: string }) => t.status === 'failure')).toBe(true);
    expect((await call('/v2/tasks?type=import&limit=1000', { token: admin })).body.tasks.every((t: { type: string }) => t.type === 'import')).toBe(true);

    for (const [query, message] of [
      ['limit=-1', 'limit param must be positive'],
      ['limit=abc', 'limit param must be an integer'],
      ['marker=xyz', 'Invalid marker format'],
      ['marker=00000000-0000-4000-8000-000000000000', 'Task with the given id 00000000-0000-4000-8000-000000000000 was not found'],
      ['sort_key=name', 'Sort key supplied was not valid.'],
      ['sort_dir=up', 'Invalid sort direction: up'],
      ['status=bogus', 'Invalid status value: bogus'],
      ['type=bogus', 'Invalid type value: bogus'],
    ]) {
      const res = await call(`/v2/tasks?${query}`, { token: admin });
      expect(res.status, query).toBe(400);
      expect(res.body.message, query).toBe(message);
    }
    expect((await call('/v2/tasks?limit=0', { token: admin })).body).toEqual({ tasks: [], first: '/v2/tasks?limit=0', schema: '/v2/schemas/tasks' });
    for (const id of ['00000000-0000-4000-8000-000000000000', 'xyz']) {
      const res = await call(`/v2/tasks/${id}`, { token: admin });
      expect(res.status).toBe(404);
      expect(res.body.message).toBe(`Could not find task ${id}`);
    }
  });

  it('POST /v2/tasks: Glance\'s validation; an import whose input Glance\'s flow refuses is recorded as failed and can be shown', async () => {
    const admin = await tokenFor(uniqueProject('admin'), ADMIN, 'admin-user');
    for (const [body, message] of [
      [{}, "Task 'type' is required"],
      [[], "Task 'type' is required"],
      [{ type: 'import' }, "Task 'input' is required"],
      [{ input: {} }, "Task 'type' is required"],
      [{ type: 'bogus', input: {} }, "Provided object does not match schema 'task': \"bogus\" is not one of ['import', 'api_image_import']"],
      [{ type: 'import', input: { import_from: 'swift://x/y' } }, "The given uri is not valid. Please specify a valid uri from the following list of supported uri ['http', 'https']"],
      // The import filter (a port web-download refuses too), checked before anything is written.
      [{ type: 'import', input: { import_from: 'http://127.0.0.1:9/x.img', import_from_format: 'raw', image_properties: {} } }, 'URI for legacy import task does not pass filtering: http://127.0.0.1:9/x.img'],
    ] as const) {
      const res = await call('/v2/tasks', { method: 'POST', token: admin, json: body });
      expect(res.status, JSON.stringify(body)).toBe(400);
      expect(res.body.message).toBe(message);
    }
    for (const [input, message] of [
      [{ import_from: 'https://images.example.com/x.img', image_properties: { name: 'x' } }, "Input does not contain 'import_from_format' field"],
      [{ import_from: 'https://images.example.com/x.img', import_from_format: 'raw' }, "Input does not contain 'image_properties' field"],
      [{ import_from: 'https://images.example.com/x.img', import_from_format: 'raw', image_properties: { disk_format: 'floppy' } }, "'floppy' is not one of"],
    ] as const) {
      const created = await call('/v2/tasks', { method: 'POST', token: admin, json: { type: 'import', input } });
      expect(created.status).toBe(201);
      expect(created.body).toMatchObject({ type: 'import', status: 'failure', input, result: null, image_id: null, user_id: 'admin-user', self: `/v2/tasks/${created.body.id}` });
      expect(created.body.message).toContain(message);
      expect(created.body.request_id).toBe(created.headers.get('x-openstack-request-id'));
      expect((await call(`/v2/tasks/${created.body.id}`, { token: admin })).body).toEqual(created.body);
    }
  });

  describe('a legacy import task fetches input.import_from into a new image (Glance\'s base_import flow)', () => {
    let source: SourceServer;
    const data = randomBytes(2 * 1024 * 1024 + 77);
    beforeAll(async () => {
      source = await startSourceServer({ ranges: true });
      source.serve('legacy', data);
    });
    afterAll(async () => source?.close());

    /** Polls the task until it is finished. */
    const finishedTask = (token: string, id: string) =>
      until(`task ${id} finished`, async () => {
        const task = (await call(`/v2/tasks/${id}`, { token })).body;
        return ['success', 'failure'].includes(task.status) ? task : undefined;
      }, 60_000);

    it('201 processing with the image it made; success with result.image_id; the image active with the bytes, its properties and the task', async () => {
      const admin = await tokenFor(uniqueProject('legacy'), ADMIN, 'legacy-user');
      const input = { import_from: `${source.base}/file/legacy`, import_from_format: 'raw', image_properties: { name: 'legacy-import', disk_format: 'raw', container_format: 'bare', os_distro: 'cirros' } };
      const created = await call('/v2/tasks', { method: 'POST', token: admin, json: { type: 'import', input } });
      expect(created.status, created.text).toBe(201);
      expect(created.body).toMatchObject({ type: 'import', status: 'processing', input, result: null, user_id: 'legacy-user' });
      const imageId = created.body.image_id as string;
      expect(imageId).toMatch(/^[0-9a-f-]{36}$/);

      const task = await finishedTask(admin, created.body.id);
      expect(task).toMatchObject({ status: 'success', result: { image_id: imageId }, image_id: imageId });
      const image = await settled(admin, imageId);
      expect(image).toMatchObject({ status: 'active', name: 'legacy-import', os_distro: 'cirros', size: data.length, checksum: createHash('md5').update(data).digest('hex') });
      expect((await download(admin, imageId)).bytes?.equals(data)).toBe(true);
      expect((await call(`/v2/images/${imageId}/tasks`, { token: admin })).body.tasks).toMatchObject([{ id: created.body.id, type: 'import', status: 'success' }]);
    });

    it('a source that answers 404: the task fails with the reason, the image it made is left queued', async () => {
      const admin = await tokenFor(uniqueProject('legacy'), ADMIN);
      const input = { import_from: `${source.base}/file/missing`, import_from_format: 'raw', image_properties: { disk_format: 'raw', container_format: 'bare' } };
      const created = await call('/v2/tasks', { method: 'POST', token: admin, json: { type: 'import', input } });
      expect(created.status, created.text).toBe(201);
      const task = await finishedTask(admin, created.body.id);
      expect(task.status).toBe('failure');
      expect(task.message).toMatch(/404/);
      expect(await settled(admin, created.body.image_id)).toMatchObject({ status: 'queued', size: null });
    });

    it('a member may not create tasks (tasks_api_access), and nothing is made', async () => {
      const project = uniqueProject('legacy');
      const member = await tokenFor(project);
      const res = await call('/v2/tasks', { method: 'POST', token: member, json: { type: 'import', input: { import_from: `${source.base}/file/legacy`, import_from_format: 'raw', image_properties: {} } } });
      expect(res.status).toBe(403);
      expect(res.body.message).toBe('You are not authorized to complete tasks_api_access action.');
      expect((await call(`/v2/images?owner=${project}`, { token: member })).body.images).toEqual([]);
    });
  });

  it('serves the task and tasks schemas as Glance 25 does', async () => {
    const token = await tokenFor(uniqueProject());
    const task = (await call('/v2/schemas/task', { token })).body;
    expect(task.name).toBe('task');
    expect(Object.keys(task.properties)).toEqual(['id', 'type', 'status', 'input', 'result', 'owner', 'message', 'image_id', 'request_id', 'user_id', 'expires_at', 'created_at', 'updated_at', 'self', 'schema']);
    expect(task.properties.status.enum).toEqual(['pending', 'processing', 'success', 'failure']);
    const tasks = (await call('/v2/schemas/tasks', { token })).body;
    expect(tasks.links).toEqual([{ rel: 'describedby', href: '{schema}' }]);
    expect(Object.keys(tasks.properties.tasks.items.properties)).not.toContain('input');
  });
});
