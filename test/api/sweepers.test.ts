import { randomBytes, randomUUID } from 'node:crypto';
import { CreateMultipartUploadCommand, HeadObjectCommand, ListMultipartUploadsCommand, PutObjectCommand } from '@aws-sdk/client-s3';
import { describe, expect, inject, it } from 'vitest';
import { imageTable, storeClient } from './behind-the-api.js';
import { call, createImage, tokenFor, uniqueProject } from './client.js';
import { MiB, putParts, until } from './data-helpers.js';
import { faultReached, injectFault, releaseFault, requestThatCrashes } from './faults.js';
import { scrubExecutionStatus, sweep } from './workers.js';

const HOUR = 3600 * 1000;
const later = (ms: number) => new Date(Date.now() + ms).toISOString();

const s3 = storeClient;
const repo = imageTable;
async function exists(key: string): Promise<boolean> {
  try {
    await s3().send(new HeadObjectCommand({ Bucket: inject('bucket'), Key: key }));
    return true;
  } catch {
    return false;
  }
}

describe('sweepers', () => {
  it('abort an abandoned upload session and queue the image again', async () => {
    const token = await tokenFor(uniqueProject());
    const image = await createImage(token, { disk_format: 'raw', container_format: 'bare' });
    const data = randomBytes(11 * MiB);
    const session = await call(`/v2/images/${image.id}/uploads`, { method: 'POST', token, json: { size: data.length, part_size: 5 * MiB } });
    await putParts(data, [session.body.parts[0]]);
    // Not expired yet: nothing happens.
    expect((await sweep({ jobs: ['uploads'], image_ids: [image.id] })).expiredUploads).toEqual([]);
    const report = await sweep({ jobs: ['uploads'], as_of: later(25 * HOUR), image_ids: [image.id] });
    expect(report.expiredUploads).toEqual([image.id]);
    const shown = (await call(`/v2/images/${image.id}`, { token })).body;
    expect(shown).toMatchObject({ status: 'queued' });
    expect(shown.os_skyglass_failure).toContain('expired');
    expect((await fetch(session.body.parts[1].url, { method: 'PUT', body: data.subarray(5 * MiB, 10 * MiB) })).status).toBe(404);
  });

  it('abort an expired session at the store before queueing its image, so a sweep stopped between the two is finished by the next', async () => {
    const token = await tokenFor(uniqueProject());
    const image = await createImage(token, { disk_format: 'raw', container_format: 'bare' });
    const data = randomBytes(11 * MiB);
    const session = (await call(`/v2/images/${image.id}/uploads`, { method: 'POST', token, json: { size: data.length, part_size: 5 * MiB } })).body;
    const key = (await repo().get(image.id))!.upload!.key;
    // The sweep's process dies at its call to the store (it never returns).
    injectFault({ command: 'AbortMultipartUpload', key, times: 1, crash: true });
    void sweep({ jobs: ['uploads'], as_of: later(25 * HOUR), image_ids: [image.id] });
    await faultReached({ command: 'AbortMultipartUpload', key });
    // Nothing was changed: the session is still on the image, so the next sweep can abort it.
    expect((await call(`/v2/images/${image.id}`, { token })).body.status).toBe('saving');
    releaseFault({ command: 'AbortMultipartUpload', key });
    expect((await sweep({ jobs: ['uploads'], as_of: later(25 * HOUR), image_ids: [image.id] })).expiredUploads).toEqual([image.id]);
    expect((await call(`/v2/images/${image.id}`, { token })).body.status).toBe('queued');
    expect((await fetch(session.parts[0].url, { method: 'PUT', body: data.subarray(0, 5 * MiB) })).status).toBe(404);
  });

  it('return an image stuck importing to queued, with its data removed', async () => {
    const token = await tokenFor(uniqueProject());
    const image = await createImage(token, { disk_format: 'raw', container_format: 'bare' });
    await call(`/v2/images/${image.id}/stage`, { method: 'PUT', token, body: randomBytes(1000), headers: { 'Content-Type': 'application/octet-stream' } });
    // A verification that never ran: importing, as a lost execution would leave it.
    const r = repo();
    const staged = (await r.get(image.id))!;
    await r.save({ ...staged, status: 'importing', version: staged.version + 1 }, staged);
    expect((await sweep({ jobs: ['stuck'], image_ids: [image.id] })).stuckImages).toEqual([]);
    expect((await sweep({ jobs: ['stuck'], as_of: later(3 * HOUR), image_ids: [image.id] })).stuckImages).toEqual([image.id]);
    const shown = (await call(`/v2/images/${image.id}`, { token })).body;
    expect(shown.status).toBe('queued');
    expect(shown.os_skyglass_failure).toContain('importing did not finish');
    expect(await exists(staged.location!)).toBe(false);
  });

  it('report an orphan object, then remove it after the grace period; report a missing object', async () => {
    const id = randomUUID();
    const key = `images/${id}/stray`;
    await s3().send(new PutObjectCommand({ Bucket: inject('bucket'), Key: key, Body: randomBytes(100) }));
    const first = await sweep({ jobs: ['audit'], image_ids: [id] });
    // The report names the store where stores are configured (the local runtime's default store is `us`).
    expect(first.orphanObjects).toEqual([expect.objectContaining({ key, deleted: false })]);
    expect(await exists(key)).toBe(true);
    const second = await sweep({ jobs: ['audit'], as_of: later(25 * HOUR), image_ids: [id] });
    expect(second.orphanObjects).toEqual([expect.objectContaining({ key, deleted: true })]);
    expect(await exists(key)).toBe(false);

    const token = await tokenFor(uniqueProject());
    const image = await createImage(token, { disk_format: 'raw', container_format: 'bare' });
    await call(`/v2/images/${image.id}/file`, { method: 'PUT', token, body: randomBytes(500), headers: { 'Content-Type': 'application/octet-stream' } });
    const location = (await repo().get(image.id))!.location!;
    const { DeleteObjectCommand } = await import('@aws-sdk/client-s3');
    await s3().send(new DeleteObjectCommand({ Bucket: inject('bucket'), Key: location }));
    const audit = await sweep({ jobs: ['audit'], image_ids: [image.id] });
    expect(audit.missingObjects).toEqual([expect.objectContaining({ image_id: image.id, key: location })]);
  });
});

/**
 * A web-download whose ranged fetch spans fetcher runs records its multipart upload on the
 * image (import_fetch.upload); between runs nothing else names it. Set up here as a lost fetch
 * leaves it: importing, the upload open and recorded, no execution running.
 */
describe('a ranged fetch\'s recorded upload', () => {
  async function fetchingImage(token: string) {
    const image = await createImage(token, { disk_format: 'raw', container_format: 'bare' });
    const key = `images/${image.id}/${randomUUID()}`;
    const { UploadId } = await s3().send(new CreateMultipartUploadCommand({ Bucket: inject('bucket'), Key: key }));
    const r = repo();
    const queued = (await r.get(image.id))!;
    const upload = { upload_id: UploadId!, size: 40 * MiB, validator: '"v1"', runs: 1 };
    await r.save({ ...queued, status: 'importing', location: key, import_source: 'http://127.0.0.1:9/disk', import_fetch: { started_at: new Date().toISOString(), upload }, version: queued.version + 1 }, queued);
    return { id: image.id as string, key, uploadId: UploadId! };
  }
  const openUploads = async (id: string) =>
    ((await s3().send(new ListMultipartUploadsCommand({ Bucket: inject('bucket'), Prefix: `images/${id}/` }))).Uploads ?? []).map((u) => u.UploadId);

  it('is left alone by the orphan audit however old it is', async () => {
    const { id, uploadId } = await fetchingImage(await tokenFor(uniqueProject()));
    const audit = await sweep({ jobs: ['audit'], as_of: later(25 * HOUR), image_ids: [id] });
    expect(audit.orphanUploads).toEqual([]);
    expect(await openUploads(id)).toEqual([uploadId]);
  });

  it('is aborted when the stuck sweep queues its image again', async () => {
    const token = await tokenFor(uniqueProject());
    const { id } = await fetchingImage(token);
    expect((await sweep({ jobs: ['stuck'], as_of: later(3 * HOUR), image_ids: [id] })).stuckImages).toEqual([id]);
    expect((await call(`/v2/images/${id}`, { token })).body.status).toBe('queued');
    expect(await openUploads(id)).toEqual([]);
  });

  it('is aborted by the scrubber when the importing image is deleted', async () => {
    const token = await tokenFor(uniqueProject());
    const admin = await tokenFor(uniqueProject(), ['admin']);
    const { id } = await fetchingImage(token);
    expect((await call(`/v2/images/${id}`, { method: 'DELETE', token })).status).toBe(204);
    await until('the scrub', async () => ((await pendingDelete(admin, id)) ? undefined : true));
    expect(await openUploads(id)).toEqual([]);
  });
});

const pendingDelete = async (admin: string, id: string) =>
  (await call('/v2/images?status=pending_delete&limit=1000', { token: admin })).body.images.some((i: { id: string }) => i.id === id);

async function activeImage(token: string) {
  const image = await createImage(token, { disk_format: 'raw', container_format: 'bare' });
  const put = await call(`/v2/images/${image.id}/file`, { method: 'PUT', token, body: randomBytes(1500), headers: { 'Content-Type': 'application/octet-stream' } });
  expect(put.status).toBe(204);
  return { id: image.id as string, key: (await repo().get(image.id))!.location! };
}

describe('re-driving lost scrubs (issue #8, item 7)', () => {
  it('scrubs a pending_delete image whose scrubber never started, once its time is due', async () => {
    const token = await tokenFor(uniqueProject());
    const admin = await tokenFor(uniqueProject(), ['admin']);
    const { id, key } = await activeImage(token);
    // The process dies between the pending_delete write and StartExecution.
    await requestThatCrashes(`/v2/images/${id}`, { method: 'DELETE', token }, { command: 'StartExecution', key: id, times: 1 });
    expect((await call(`/v2/images/${id}`, { token })).status).toBe(404);
    expect(await pendingDelete(admin, id)).toBe(true);
    expect(await scrubExecutionStatus(`scrub-${id}-${(await repo().get(id))!.version}`)).toBe('none');
    // Within the restore window nothing happens: a restore is still possible.
    expect((await sweep({ jobs: ['redrive'], image_ids: [id] })).redrivenScrubs).toEqual([]);
    expect((await sweep({ jobs: ['redrive'], as_of: later(HOUR), image_ids: [id] })).redrivenScrubs).toEqual([id]);
    await until('the re-driven scrub', async () => ((await pendingDelete(admin, id)) ? undefined : true));
    expect(await exists(key)).toBe(false);
    expect((await call(`/v2/images/${id}`, { token })).status).toBe(404);
  });

  it('leaves alone a pending_delete image whose scrubber is running', async () => {
    const token = await tokenFor(uniqueProject());
    const admin = await tokenFor(uniqueProject(), ['admin']);
    const { id, key } = await activeImage(token);
    // The scrubber's S3 delete is held: its execution runs past the scrub time.
    injectFault({ command: 'DeleteObject', key, times: 1, hold: true });
    expect((await call(`/v2/images/${id}`, { method: 'DELETE', token })).status).toBe(204);
    await faultReached({ command: 'DeleteObject', key });
    expect((await sweep({ jobs: ['redrive'], as_of: later(HOUR), image_ids: [id] })).redrivenScrubs).toEqual([]);
    releaseFault({ command: 'DeleteObject', key });
    await until('the scrub', async () => ((await pendingDelete(admin, id)) ? undefined : true));
    expect(await exists(key)).toBe(false);
  });

  it('scrubs an image deleted while its upload was open, after a crash before the scrubber started', async () => {
    const token = await tokenFor(uniqueProject());
    const admin = await tokenFor(uniqueProject(), ['admin']);
    const image = await createImage(token, { disk_format: 'raw', container_format: 'bare' });
    const data = randomBytes(6 * MiB);
    const session = (await call(`/v2/images/${image.id}/uploads`, { method: 'POST', token, json: { size: data.length, part_size: 5 * MiB } })).body;
    await putParts(data, [session.parts[0]]);
    await requestThatCrashes(`/v2/images/${image.id}`, { method: 'DELETE', token }, { command: 'StartExecution', key: image.id, times: 1 });
    // Unverified bytes are due at once.
    expect((await sweep({ jobs: ['redrive'], image_ids: [image.id] })).redrivenScrubs).toEqual([image.id]);
    await until('the re-driven scrub', async () => ((await pendingDelete(admin, image.id)) ? undefined : true));
    const late = await fetch(session.parts[1].url, { method: 'PUT', body: data.subarray(5 * MiB) });
    expect(late.status).toBe(404);
  });
});
