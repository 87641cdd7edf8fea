import { createHash, randomBytes } from 'node:crypto';
import { GetObjectCommand, HeadObjectCommand, ListMultipartUploadsCommand, ListObjectsV2Command } from '@aws-sdk/client-s3';
import { beforeAll, describe, expect, it } from 'vitest';
import { storeClient } from './behind-the-api.js';
import { call, createImage, tokenFor, uniqueProject } from './client.js';
import { download, MiB, settled, until } from './data-helpers.js';
import { faultReached, injectFault, releaseFault, requestThatCrashes } from './faults.js';
import { sweep } from './workers.js';

/**
 * copy-image (issue #15, scope 3): an admin copies an active image into more stores; the image
 * stays active, `stores` grows store by store, and Glance's progress properties and the
 * import's task say how it went. The local runtime copies above 8 MiB in 5 MiB UploadPartCopy
 * parts (test/api/global-setup.ts), so a 12 MiB image takes the multipart path.
 */
const RAW = { disk_format: 'raw', container_format: 'bare' };
let member: string;
let admin: string;
const buckets = new Map<string, string>();

beforeAll(async () => {
  member = await tokenFor(uniqueProject('copy'));
  admin = await tokenFor(uniqueProject('copy-admin'), ['admin', 'member', 'reader']);
  const detail = await call('/v2/info/stores/detail', { token: admin });
  for (const store of detail.body.stores) buckets.set(store.id, store.properties.bucket);
});

const sha256 = (data: Uint8Array) => createHash('sha256').update(data).digest('hex');

async function keysIn(store: string, imageId: string): Promise<string[]> {
  const out = await storeClient().send(new ListObjectsV2Command({ Bucket: buckets.get(store)!, Prefix: `images/${imageId}/` }));
  return (out.Contents ?? []).map((o) => o.Key!);
}

async function bytesIn(store: string, key: string): Promise<Buffer> {
  const out = await storeClient().send(new GetObjectCommand({ Bucket: buckets.get(store)!, Key: key }));
  return Buffer.from(await out.Body!.transformToByteArray());
}

/** An active image of `data`, in the default store only (`us`). */
async function activeImage(data: Buffer): Promise<string> {
  const image = await createImage(member, RAW);
  const res = await call(`/v2/images/${image.id}/file`, { method: 'PUT', token: member, body: data, headers: { 'Content-Type': 'application/octet-stream' } });
  expect(res.status).toBe(204);
  expect(await settled(member, image.id)).toMatchObject({ status: 'active', stores: 'us' });
  return image.id as string;
}

const copyImage = (id: string, body: Record<string, unknown> = { stores: ['eu'] }, token = admin) =>
  call(`/v2/images/${id}/import`, { method: 'POST', token, json: { method: { name: 'copy-image' }, ...body } });

/** The image once its copy-image import has ended (nothing left in os_glance_importing_to_stores). */
async function copied(id: string, timeoutMs = 30_000): Promise<Record<string, any>> {
  return until(
    `the copy of ${id}`,
    async () => {
      const image = (await call(`/v2/images/${id}`, { token: admin })).body;
      return image.os_glance_importing_to_stores === '' ? image : undefined;
    },
    timeoutMs,
  );
}

/** The image's import tasks, newest first. */
async function tasksOf(id: string): Promise<Array<Record<string, any>>> {
  const res = await call(`/v2/images/${id}/tasks`, { token: admin });
  expect(res.status).toBe(200);
  return res.body.tasks;
}

describe('copy-image', () => {
  it('is offered: /v2/info/import lists it', async () => {
    const info = await call('/v2/info/import', { token: member });
    expect(info.body['import-methods'].value).toEqual(['glance-direct', 'web-download', 'copy-image']);
  });

  it('copies an active image to a second store server-side; it stays active, downloads from each store, and one copy can be deleted', async () => {
    const data = randomBytes(300_000);
    const id = await activeImage(data);
    const before = (await call(`/v2/images/${id}`, { token: admin })).body;
    expect((await copyImage(id)).status).toBe(202);
    const image = await copied(id);
    expect(image).toMatchObject({ status: 'active', stores: 'eu,us', os_glance_importing_to_stores: '', os_glance_failed_import: '', checksum: before.checksum, os_hash_value: before.os_hash_value, size: data.length });
    const [key] = await keysIn('us', id);
    expect(await keysIn('eu', id)).toEqual([key]);
    expect(sha256(await bytesIn('eu', key!))).toBe(sha256(data));
    const [task] = await tasksOf(id);
    expect(task).toMatchObject({ type: 'api_image_import', status: 'success', image_id: id, input: { image_id: id, import_req: { method: { name: 'copy-image' }, stores: ['eu'] } } });
    // The download goes to the default store while the image is there, to eu once it is not.
    const fromUs = await download(member, id);
    expect(new URL(fromUs.redirect.headers.get('location')!).pathname).toMatch(/^\/skyglass-local-images\//);
    expect(fromUs.bytes?.equals(data)).toBe(true);
    expect((await call(`/v2/stores/us/${id}`, { method: 'DELETE', token: admin })).status).toBe(204);
    const fromEu = await download(member, id);
    expect(new URL(fromEu.redirect.headers.get('location')!).pathname).toMatch(/^\/skyglass-local-images-eu\//);
    expect(fromEu.bytes?.equals(data)).toBe(true);
    expect((await call(`/v2/images/${id}`, { token: member })).body).toMatchObject({ status: 'active', stores: 'eu' });
  });

  it('copies above the single-copy size as a multipart upload of UploadPartCopy parts, leaving no upload open', async () => {
    const data = randomBytes(12 * MiB);
    const id = await activeImage(data);
    expect((await copyImage(id, { all_stores: true })).status).toBe(202);
    expect(await copied(id)).toMatchObject({ status: 'active', stores: 'eu,us', os_glance_failed_import: '' });
    const [key] = await keysIn('eu', id);
    const head = await storeClient().send(new HeadObjectCommand({ Bucket: buckets.get('eu')!, Key: key! }));
    // S3's multipart ETag: "<md5 of the parts' md5s>-<part count>" (5 + 5 + 2 MiB).
    expect(head.ETag).toMatch(/-3"$/);
    expect(sha256(await bytesIn('eu', key!))).toBe(sha256(data));
    const uploads = await storeClient().send(new ListMultipartUploadsCommand({ Bucket: buckets.get('eu')!, Prefix: `images/${id}/` }));
    expect(uploads.Uploads ?? []).toEqual([]);
  });

  it('answers as Glance: not active 409, a member 403, an unknown store 409, a store the image is in 400, all_stores with nothing left 202 doing nothing', async () => {
    const queued = await createImage(member, RAW);
    const notActive = await copyImage(queued.id);
    expect([notActive.status, notActive.body.message]).toEqual([409, 'Only images with status active can be targeted for copying']);
    const id = await activeImage(randomBytes(1000));
    const refused = await copyImage(id, { stores: ['eu'] }, member);
    expect([refused.status, refused.body.message]).toEqual([403, 'You are not authorized to complete copy_image action.']);
    const unknown = await copyImage(id, { stores: ['nowhere'] });
    expect([unknown.status, unknown.body.message]).toEqual([409, 'Store for identifier nowhere not found']);
    const present = await copyImage(id, { stores: ['us'] });
    expect([present.status, present.body.message]).toEqual([400, "Image is already present at store 'us'"]);
    const missing = await copyImage('3f5a1c2e-0000-4000-8000-00000000c0de');
    expect(missing.status).toBe(404);
    const image = (await call(`/v2/images/${id}`, { token: admin })).body;
    expect(image).toMatchObject({ status: 'active', stores: 'us' });
    expect(image).not.toHaveProperty('os_glance_importing_to_stores');
    expect(await tasksOf(id)).toEqual([]);
    // Copied everywhere already: Glance's all_stores skips those stores and does nothing.
    expect((await copyImage(id, { all_stores: true })).status).toBe(202);
    await copied(id);
    expect((await copyImage(id, { all_stores: true })).status).toBe(202);
    expect(await tasksOf(id)).toHaveLength(1);
  });

  it('two concurrent copy-image imports of one image: one 202, the other 409; the image shows its progress while the copy runs', async () => {
    const id = await activeImage(randomBytes(2000));
    // The copy is held at the store, so the first import is still running when the second asks.
    const rule = { command: 'CopyObject', key: `images/${id}/`, times: 1, hold: true };
    injectFault(rule);
    try {
      const answers = await Promise.all([copyImage(id), copyImage(id)]);
      expect(answers.map((a) => a.status).sort()).toEqual([202, 409]);
      await faultReached(rule);
      const running = (await call(`/v2/images/${id}`, { token: admin })).body;
      expect(running).toMatchObject({ status: 'active', stores: 'us', os_glance_importing_to_stores: 'eu' });
      const again = await copyImage(id);
      expect([again.status, again.body.message]).toEqual([409, 'Image has active task']);
      expect((await call(`/v2/images/${id}/tasks`, { token: admin })).body.tasks.map((t: { status: string }) => t.status)).toEqual(['processing']);
    } finally {
      releaseFault(rule);
    }
    expect(await copied(id)).toMatchObject({ status: 'active', stores: 'eu,us' });
    expect((await tasksOf(id)).map((t) => t.status)).toEqual(['success']);
  });

  it('a store the copy fails for goes to os_glance_failed_import and fails the task; the image stays active where it was', async () => {
    const id = await activeImage(randomBytes(3000));
    const rule = { command: 'CopyObject', key: `images/${id}/`, times: -1, error: 'InternalError' };
    injectFault(rule);
    try {
      expect((await copyImage(id)).status).toBe(202);
      expect(await copied(id)).toMatchObject({ status: 'active', stores: 'us', os_glance_importing_to_stores: '', os_glance_failed_import: 'eu' });
    } finally {
      releaseFault(rule);
    }
    const [task] = await tasksOf(id);
    expect(task).toMatchObject({ status: 'failure', message: 'The image could not be copied to store(s) eu.' });
    expect(await keysIn('eu', id)).toEqual([]);
    // The import is over: a new one may be asked for, and succeeds.
    expect((await copyImage(id)).status).toBe(202);
    expect(await copied(id)).toMatchObject({ stores: 'eu,us', os_glance_failed_import: '' });
  });

  it('a failed multipart part aborts the upload: nothing is left open in the target store', async () => {
    const id = await activeImage(randomBytes(11 * MiB));
    const rule = { command: 'UploadPartCopy', key: `images/${id}/`, times: -1, error: 'InternalError' };
    injectFault(rule);
    try {
      expect((await copyImage(id)).status).toBe(202);
      expect(await copied(id)).toMatchObject({ status: 'active', stores: 'us', os_glance_failed_import: 'eu' });
    } finally {
      releaseFault(rule);
    }
    const uploads = await storeClient().send(new ListMultipartUploadsCommand({ Bucket: buckets.get('eu')!, Prefix: `images/${id}/` }));
    expect(uploads.Uploads ?? []).toEqual([]);
  });

  it('survives dying between its write and StartExecution: the sweeper re-drives the copy', async () => {
    const id = await activeImage(randomBytes(4000));
    await requestThatCrashes(`/v2/images/${id}/import`, { method: 'POST', token: admin, body: JSON.stringify({ method: { name: 'copy-image' }, stores: ['eu'] }), headers: { 'Content-Type': 'application/json' } }, { command: 'StartExecution', key: id, times: 1 });
    // The write was made, the workflow never started: the image says it is copying, and stays so.
    expect((await call(`/v2/images/${id}`, { token: admin })).body).toMatchObject({ status: 'active', stores: 'us', os_glance_importing_to_stores: 'eu' });
    // Within the start window the sweeper waits (the request may still be about to start it).
    expect((await sweep({ jobs: ['redrive'], image_ids: [id] })).redrivenVerifications).toEqual([]);
    const later = new Date(Date.now() + 3600_000).toISOString();
    expect((await sweep({ jobs: ['redrive'], as_of: later, image_ids: [id] })).redrivenVerifications).toEqual([id]);
    expect(await copied(id)).toMatchObject({ status: 'active', stores: 'eu,us', os_glance_failed_import: '' });
    expect((await tasksOf(id)).map((t) => t.status)).toEqual(['success']);
  });
});
