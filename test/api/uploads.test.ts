import { createHash, randomBytes } from 'node:crypto';
import { CompleteMultipartUploadCommand, UploadPartCommand } from '@aws-sdk/client-s3';
import { describe, expect, inject, it } from 'vitest';
import { imageTable, storeClient } from './behind-the-api.js';
import { call, createImage, tokenFor, uniqueProject } from './client.js';
import { download, MiB, putParts, settled } from './data-helpers.js';
import { injectFault } from './faults.js';

const md5 = (b: Uint8Array) => createHash('md5').update(b).digest('hex');
const sha512 = (b: Uint8Array) => createHash('sha512').update(b).digest('hex');
const RAW = { disk_format: 'raw', container_format: 'bare' };

describe('presigned multipart uploads', () => {
  it('uploads 64 MiB in parallel parts straight to the store, verifies it, and serves it back byte for byte', async () => {
    const token = await tokenFor(uniqueProject());
    const image = await createImage(token, { name: 'big', ...RAW });
    const data = randomBytes(64 * MiB);
    const session = await call(`/v2/images/${image.id}/uploads`, { method: 'POST', token, json: { size: data.length } });
    expect(session.status).toBe(201);
    expect(session.body).toMatchObject({ image_id: image.id, size: data.length, part_size: 8 * MiB, part_count: 8, stage: false });
    expect(session.body.parts).toHaveLength(8);
    expect(session.body.parts[7]).toMatchObject({ part_number: 8, offset: 56 * MiB, length: 8 * MiB });
    expect(Date.parse(session.body.expires_at)).toBeGreaterThan(Date.now());
    expect((await call(`/v2/images/${image.id}`, { token })).body.status).toBe('saving');

    const parts = await putParts(data, session.body.parts, 4);
    const complete = await call(`/v2/images/${image.id}/uploads/${session.body.upload_id}/complete`, { method: 'POST', token, json: { parts } });
    expect(complete.status).toBe(202);
    const active = await settled(token, image.id);
    expect(active).toMatchObject({
      status: 'active', size: data.length, virtual_size: data.length, checksum: md5(data), os_hash_algo: 'sha512', os_hash_value: sha512(data),
    });
    expect(active).not.toHaveProperty('os_skyglass_failure');

    const { redirect, store, bytes } = await download(token, image.id);
    expect(redirect.status).toBe(302);
    expect(store!.status).toBe(200);
    expect(store!.headers.get('content-type')).toBe('application/octet-stream');
    expect(store!.headers.get('content-disposition')).toContain(`${image.id}.raw`);
    expect(bytes!.length).toBe(data.length);
    expect(sha512(bytes!)).toBe(sha512(data));

    // Ranges go to the store with the redirect.
    const head = await download(token, image.id, { Range: 'bytes=0-9' });
    expect(head.store!.status).toBe(206);
    expect(head.store!.headers.get('content-range')).toBe(`bytes 0-9/${data.length}`);
    expect(head.bytes).toEqual(data.subarray(0, 10));
    const tail = await download(token, image.id, { Range: 'bytes=-10' });
    expect(tail.bytes).toEqual(data.subarray(data.length - 10));
    expect((await download(token, image.id, { Range: `bytes=${data.length}-` })).store!.status).toBe(416);

    // Data arrives once: an active image takes no new upload.
    const again = await call(`/v2/images/${image.id}/uploads`, { method: 'POST', token, json: { size: 10 } });
    expect(again.status).toBe(409);
  });

  it('resumes after a crash: the session lists stored parts and gives fresh URLs for the rest', async () => {
    const token = await tokenFor(uniqueProject());
    const image = await createImage(token, RAW);
    const data = randomBytes(12 * MiB);
    const session = await call(`/v2/images/${image.id}/uploads`, { method: 'POST', token, json: { size: data.length, part_size: 5 * MiB } });
    expect(session.body).toMatchObject({ part_size: 5 * MiB, part_count: 3 });
    const [p1, , p3] = session.body.parts;
    await putParts(data, [p1, p3]);
    // ... the client crashes and comes back with only the image and upload ids.
    const resumed = await call(`/v2/images/${image.id}/uploads/${session.body.upload_id}`, { token });
    expect(resumed.status).toBe(200);
    expect(resumed.body.parts_done.map((p: { part_number: number }) => p.part_number)).toEqual([1, 3]);
    expect(resumed.body.parts_done[0]).toMatchObject({ size: 5 * MiB, etag: expect.stringMatching(/^"[0-9a-f]{32}"$/) });
    expect(resumed.body.parts.map((p: { part_number: number }) => p.part_number)).toEqual([2]);
    await putParts(data, resumed.body.parts);
    // No part list: the server completes with what the store holds.
    expect((await call(`/v2/images/${image.id}/uploads/${session.body.upload_id}/complete`, { method: 'POST', token })).status).toBe(202);
    expect(await settled(token, image.id)).toMatchObject({ status: 'active', checksum: md5(data), size: data.length });
  });

  it('aborts: the image is queued again and the old part URLs stop working', async () => {
    const token = await tokenFor(uniqueProject());
    const image = await createImage(token, RAW);
    const data = randomBytes(11 * MiB);
    const session = await call(`/v2/images/${image.id}/uploads`, { method: 'POST', token, json: { size: data.length, part_size: 5 * MiB } });
    await putParts(data, [session.body.parts[0]]);
    const abort = await call(`/v2/images/${image.id}/uploads/${session.body.upload_id}`, { method: 'DELETE', token });
    expect(abort.status).toBe(204);
    expect((await call(`/v2/images/${image.id}`, { token })).body).toMatchObject({ status: 'queued', size: null });
    expect((await call(`/v2/images/${image.id}/uploads/${session.body.upload_id}`, { token })).status).toBe(404);
    const late = await fetch(session.body.parts[1].url, { method: 'PUT', body: data.subarray(5 * MiB, 10 * MiB) });
    expect(late.status).toBe(404);
    expect(await late.text()).toContain('NoSuchUpload');
    // And the image takes a new upload.
    expect((await call(`/v2/images/${image.id}/uploads`, { method: 'POST', token, json: { size: 1 } })).status).toBe(201);
  });

  it('presigned part URLs are scoped to one part of one upload and cannot be altered', async () => {
    const token = await tokenFor(uniqueProject());
    const image = await createImage(token, RAW);
    const session = await call(`/v2/images/${image.id}/uploads`, { method: 'POST', token, json: { size: 11 * MiB, part_size: 5 * MiB } });
    const url = new URL(session.body.parts[1].url);
    expect(url.pathname).toContain(`/images/${image.id}/`);
    expect(Number(url.searchParams.get('X-Amz-Expires'))).toBeLessThanOrEqual(900);
    url.searchParams.set('partNumber', '3');
    expect((await fetch(url, { method: 'PUT', body: randomBytes(10) })).status).toBe(403);
    const otherKey = new URL(session.body.parts[1].url);
    otherKey.pathname = otherKey.pathname.replace(image.id, '00000000-0000-0000-0000-000000000000');
    expect((await fetch(otherKey, { method: 'PUT', body: randomBytes(10) })).status).toBe(403);
  });

  it('concurrent completes of the same upload all answer 202 and end with one active image', async () => {
    const token = await tokenFor(uniqueProject());
    const image = await createImage(token, RAW);
    const data = randomBytes(6 * MiB);
    const session = await call(`/v2/images/${image.id}/uploads`, { method: 'POST', token, json: { size: data.length } });
    const parts = await putParts(data, session.body.parts);
    const path = `/v2/images/${image.id}/uploads/${session.body.upload_id}/complete`;
    const results = await Promise.all([1, 2, 3, 4, 5].map((n) => call(path, { method: 'POST', token, ...(n % 2 ? { json: { parts } } : {}) })));
    // The upload completed, whichever request got there first: no 409 for the others.
    expect(results.map((r) => `${r.status} ${r.text}`)).toEqual(results.map(() => '202 '));
    expect(await settled(token, image.id)).toMatchObject({ status: 'active', checksum: md5(data) });
    // A retry of the completed upload's complete (its answer was lost) is 202 too, and changes nothing.
    const before = (await call(`/v2/images/${image.id}`, { token })).body;
    expect((await call(path, { method: 'POST', token, json: { parts } })).status).toBe(202);
    expect((await call(`/v2/images/${image.id}`, { token })).body).toEqual(before);
  });

  it('a staged upload completed twice answers 202 twice and stays staged for import', async () => {
    const token = await tokenFor(uniqueProject());
    const image = await createImage(token, RAW);
    const data = randomBytes(1000);
    const session = await call(`/v2/images/${image.id}/uploads`, { method: 'POST', token, json: { size: data.length, stage: true } });
    await putParts(data, session.body.parts);
    const path = `/v2/images/${image.id}/uploads/${session.body.upload_id}/complete`;
    expect((await call(path, { method: 'POST', token })).status).toBe(202);
    expect((await call(path, { method: 'POST', token })).status).toBe(202);
    expect((await call(`/v2/images/${image.id}`, { token })).body).toMatchObject({ status: 'uploading', size: data.length });
    expect((await call(`/v2/images/${image.id}/import`, { method: 'POST', token, json: { method: { name: 'glance-direct' } } })).status).toBe(202);
    expect(await settled(token, image.id)).toMatchObject({ status: 'active', checksum: md5(data) });
  });

  it('a complete whose S3 call fails is a 503 that changes nothing and says to retry; the retry completes', async () => {
    const token = await tokenFor(uniqueProject());
    const image = await createImage(token, RAW);
    const data = randomBytes(2000);
    const session = await call(`/v2/images/${image.id}/uploads`, { method: 'POST', token, json: { size: data.length } });
    await putParts(data, session.body.parts);
    injectFault({ command: 'CompleteMultipartUpload', key: `images/${image.id}/`, times: 1, error: 'InternalError' });
    const path = `/v2/images/${image.id}/uploads/${session.body.upload_id}`;
    const failed = await call(`${path}/complete`, { method: 'POST', token });
    expect(failed.status).toBe(503);
    expect(failed.body).toMatchObject({ code: '503 Service Unavailable' });
    expect(failed.body.message).toBe(`The object store did not complete upload ${session.body.upload_id} (InternalError); nothing was changed: retry the complete.`);
    expect((await call(`/v2/images/${image.id}`, { token })).body.status).toBe('saving');
    expect((await call(path, { token })).status).toBe(200);

    expect((await call(`${path}/complete`, { method: 'POST', token })).status).toBe(202);
    expect(await settled(token, image.id)).toMatchObject({ status: 'active', checksum: md5(data) });
  });

  it('an abort whose S3 call fails changes nothing and says so; the retry aborts (issue #8, item 15)', async () => {
    const token = await tokenFor(uniqueProject());
    const image = await createImage(token, RAW);
    const data = randomBytes(11 * MiB);
    const session = await call(`/v2/images/${image.id}/uploads`, { method: 'POST', token, json: { size: data.length, part_size: 5 * MiB } });
    const key = (await imageTable().get(image.id))!.upload!.key;
    injectFault({ command: 'AbortMultipartUpload', key, times: 1, error: 'InternalError' });
    const path = `/v2/images/${image.id}/uploads/${session.body.upload_id}`;
    const failed = await call(path, { method: 'DELETE', token });
    expect(failed.status).toBe(503);
    expect(failed.body).toMatchObject({ code: '503 Service Unavailable' });
    expect(failed.body.message).toContain('nothing was changed');
    // Still the upload it was: saving, the session open, its part URLs working.
    expect((await call(`/v2/images/${image.id}`, { token })).body.status).toBe('saving');
    expect((await call(path, { token })).status).toBe(200);
    await putParts(data, [session.body.parts[0]]);

    expect((await call(path, { method: 'DELETE', token })).status).toBe(204);
    expect((await call(`/v2/images/${image.id}`, { token })).body).toMatchObject({ status: 'queued', size: null });
    expect((await fetch(session.body.parts[1].url, { method: 'PUT', body: data.subarray(5 * MiB, 10 * MiB) })).status).toBe(404);
  });

  it('a complete retried after the store completed but before the image recorded it still ends active', async () => {
    const token = await tokenFor(uniqueProject());
    const image = await createImage(token, RAW);
    const data = randomBytes(6 * MiB);
    const session = await call(`/v2/images/${image.id}/uploads`, { method: 'POST', token, json: { size: data.length } });
    const parts = await putParts(data, session.body.parts);
    // The first attempt completed the multipart upload at the store, then its function was
    // stopped (a timeout) before the conditional write: do what it got done.
    const upload = (await imageTable().get(image.id))!.upload!;
    await storeClient().send(new CompleteMultipartUploadCommand({
      Bucket: inject('bucket'), Key: upload.key, UploadId: upload.store_upload_id,
      MultipartUpload: { Parts: parts.map((p) => ({ PartNumber: p.part_number, ETag: p.etag })) },
    }));
    const retry = await call(`/v2/images/${image.id}/uploads/${session.body.upload_id}/complete`, { method: 'POST', token, json: { parts } });
    expect(retry.status).toBe(202);
    expect(await settled(token, image.id)).toMatchObject({ status: 'active', checksum: md5(data) });
  });

  it('answers bad upload requests with 400/403/404/409 and leaves the image as it was', async () => {
    const project = uniqueProject();
    const token = await tokenFor(project);
    const other = await tokenFor(uniqueProject());
    const image = await createImage(token, RAW);
    const bare = await createImage(token, {});
    const post = (id: string, json: unknown, t = token) => call(`/v2/images/${id}/uploads`, { method: 'POST', token: t, json });
    for (const body of [{}, { size: -1 }, { size: 'big' }, { size: 1.5 }, { size: 6 * 1024 ** 4 }, { size: 20 * MiB, part_size: MiB },
      { size: 20 * MiB, part_size: 6 * 1024 ** 3 }, { size: 100 * 1024 ** 3, part_size: 5 * MiB }, { size: 10, stage: 'yes' },
      { size: 10, checksum: 'nothex' }, { size: 10, key: 'mine/please' }, []]) {
      const res = await post(image.id, body);
      expect(res.status, JSON.stringify(body)).toBe(400);
      expect(res.body.code).toBe('400 Bad Request');
    }
    const noFormats = await post(bare.id, { size: 10 });
    expect(noFormats.status).toBe(400);
    expect(noFormats.body.message).toContain('disk_format');
    expect((await post(image.id, { size: 10 }, other)).status).toBe(404);
    expect((await call(`/v2/images/${image.id}`, { token })).body.status).toBe('queued');

    const session = await post(image.id, { size: 11 * MiB, part_size: 5 * MiB });
    expect(session.status).toBe(201);
    expect((await post(image.id, { size: 10 })).status).toBe(409);
    const complete = (json?: unknown, t = token) =>
      call(`/v2/images/${image.id}/uploads/${session.body.upload_id}/complete`, { method: 'POST', token: t, ...(json ? { json } : {}) });
    const missing = await complete();
    expect(missing.status).toBe(400);
    expect(missing.body.message).toContain('missing parts 1, 2, 3');
    expect((await complete({ parts: [{ part_number: 1, etag: '"x"' }, { part_number: 1, etag: '"x"' }] })).status).toBe(400);
    expect((await complete({ parts: [{ part_number: 0, etag: '"x"' }] })).status).toBe(400);
    expect((await complete({ parts: 'all' })).status).toBe(400);
    const bogusEtags = await complete({ parts: [1, 2, 3].map((n) => ({ part_number: n, etag: '"00000000000000000000000000000000"' })) });
    expect(bogusEtags.status).toBe(400);
    expect((await complete(undefined, other)).status).toBe(404);
    expect((await call(`/v2/images/${image.id}/uploads/not-a-session`, { token })).status).toBe(404);
    expect((await call(`/v2/images/${image.id}`, { token })).body.status).toBe('saving');
  });

  it('refuses data whose size differs from the declared size, with the reason on the image', async () => {
    const token = await tokenFor(uniqueProject());
    const image = await createImage(token, RAW);
    const session = await call(`/v2/images/${image.id}/uploads`, { method: 'POST', token, json: { size: 100 } });
    // A part URL takes only its part's length, so a short part can reach the store only from
    // behind the API; the verifier refuses it all the same.
    const upload = (await imageTable().get(image.id))!.upload!;
    await storeClient().send(new UploadPartCommand({ Bucket: inject('bucket'), Key: upload.key, UploadId: upload.store_upload_id, PartNumber: 1, Body: randomBytes(60) }));
    expect((await call(`/v2/images/${image.id}/uploads/${session.body.upload_id}/complete`, { method: 'POST', token })).status).toBe(202);
    const refused = await settled(token, image.id);
    expect(refused).toMatchObject({ status: 'queued', size: null, checksum: null });
    expect(refused.os_skyglass_failure).toContain('60 bytes, but 100 were declared');
    // Nothing to download, and the image can be uploaded again.
    expect((await download(token, image.id)).redirect.status).toBe(204);
    expect((await call(`/v2/images/${image.id}/uploads`, { method: 'POST', token, json: { size: 60 } })).status).toBe(201);
  });

  it('checks a declared MD5', async () => {
    const token = await tokenFor(uniqueProject());
    const image = await createImage(token, RAW);
    const data = randomBytes(1000);
    const session = await call(`/v2/images/${image.id}/uploads`, { method: 'POST', token, json: { size: data.length, checksum: md5(Buffer.from('other')) } });
    await putParts(data, session.body.parts);
    await call(`/v2/images/${image.id}/uploads/${session.body.upload_id}/complete`, { method: 'POST', token });
    expect((await settled(token, image.id)).os_skyglass_failure).toContain("MD5");
  });
});
