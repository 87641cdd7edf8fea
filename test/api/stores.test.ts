import { createHash, randomBytes } from 'node:crypto';
import { ListObjectsV2Command } from '@aws-sdk/client-s3';
import { beforeAll, describe, expect, it } from 'vitest';
import { storeClient } from './behind-the-api.js';
import { call, createImage, tokenFor, uniqueProject } from './client.js';
import { download, MiB, putParts, settled } from './data-helpers.js';
import { requestThatCrashes } from './faults.js';
import { sweep } from './workers.js';

/**
 * Several stores (issue #15): the local runtime's two emulated buckets, `us` (the default) and
 * `eu`, as Glance's multi-store (enabled_backends) shows them.
 */
const RAW = { disk_format: 'raw', container_format: 'bare' };
let member: string;
let admin: string;
/** Store id → its bucket, as the admin detail lists them. */
const buckets = new Map<string, string>();

beforeAll(async () => {
  member = await tokenFor(uniqueProject('stores'));
  admin = await tokenFor(uniqueProject('stores-admin'), ['admin', 'member', 'reader']);
  const detail = await call('/v2/info/stores/detail', { token: admin });
  for (const store of detail.body.stores) buckets.set(store.id, store.properties.bucket);
});

/** The object keys under the image's prefix in a store's bucket. */
async function keysIn(store: string, imageId: string): Promise<string[]> {
  const out = await storeClient().send(new ListObjectsV2Command({ Bucket: buckets.get(store)!, Prefix: `images/${imageId}/` }));
  return (out.Contents ?? []).map((o) => o.Key!);
}

const putFile = (id: string, body: Buffer, headers: Record<string, string> = {}) =>
  call(`/v2/images/${id}/file`, { method: 'PUT', token: member, body, headers: { 'Content-Type': 'application/octet-stream', ...headers } });

describe('GET /v2/info/stores', () => {
  it('lists every store to any caller, the default flagged with the string "true" as Glance', async () => {
    const res = await call('/v2/info/stores', { token: member });
    expect(res.status).toBe(200);
    expect(res.body).toEqual({
      stores: [
        { id: 'us', description: expect.any(String), default: 'true' },
        { id: 'eu', description: expect.any(String) },
      ],
    });
  });

  it('gives admins the detail (type and bucket) and refuses it to others with 403', async () => {
    const refused = await call('/v2/info/stores/detail', { token: member });
    expect(refused.status).toBe(403);
    expect(refused.body.message).toBe('You are not authorized to complete stores_info_detail action.');
    const detail = await call('/v2/info/stores/detail', { token: admin });
    expect(detail.status).toBe(200);
    expect(detail.body.stores).toEqual([
      { id: 'us', description: expect.any(String), default: 'true', type: 's3', properties: { bucket: 'skyglass-local-images', region: 'us-east-1' } },
      { id: 'eu', description: expect.any(String), type: 's3', properties: { bucket: 'skyglass-local-images-eu', region: 'us-east-1' } },
    ]);
  });

  it('names the stores on create, as OpenStack-image-store-ids', async () => {
    const res = await call('/v2/images', { method: 'POST', token: member, json: { name: 'with-stores' } });
    expect(res.status).toBe(201);
    expect(res.headers.get('openstack-image-store-ids')).toBe('us,eu');
    expect(res.body).not.toHaveProperty('stores');
  });
});

describe('data lands in the store the request names', () => {
  it('PUT /file without X-Image-Meta-Store lands in the default store, and `stores` says so once active', async () => {
    const image = await createImage(member, RAW);
    const data = randomBytes(4096);
    expect((await putFile(image.id, data)).status).toBe(204);
    const shown = await call(`/v2/images/${image.id}`, { token: member });
    expect(shown.body).toMatchObject({ status: 'active', stores: 'us', size: 4096 });
    expect(await keysIn('us', image.id)).toHaveLength(1);
    expect(await keysIn('eu', image.id)).toEqual([]);
  });

  it('PUT /file with X-Image-Meta-Store: eu lands in eu, and the download is redirected to that bucket', async () => {
    const image = await createImage(member, RAW);
    const data = randomBytes(8192);
    expect((await putFile(image.id, data, { 'X-Image-Meta-Store': 'eu' })).status).toBe(204);
    const shown = await call(`/v2/images/${image.id}`, { token: member });
    expect(shown.body).toMatchObject({ status: 'active', stores: 'eu', checksum: createHash('md5').update(data).digest('hex') });
    expect(await keysIn('eu', image.id)).toHaveLength(1);
    expect(await keysIn('us', image.id)).toEqual([]);
    const got = await download(member, image.id);
    expect(got.redirect.status).toBe(302);
    expect(new URL(got.redirect.headers.get('location')!).pathname).toMatch(/^\/skyglass-local-images-eu\/images\//);
    expect(got.bytes?.equals(data)).toBe(true);
  });

  it('a body too big for the API tier streams into the named store too (the data front)', async () => {
    const image = await createImage(member, RAW);
    const data = randomBytes(6 * MiB);
    expect((await putFile(image.id, data, { 'X-Image-Meta-Store': 'eu' })).status).toBe(204);
    expect((await call(`/v2/images/${image.id}`, { token: member })).body).toMatchObject({ status: 'active', stores: 'eu', size: 6 * MiB });
    expect(await keysIn('eu', image.id)).toHaveLength(1);
    expect(await keysIn('us', image.id)).toEqual([]);
  });

  it('an unknown store is 400 with Glance\'s message, and nothing is written', async () => {
    const image = await createImage(member, RAW);
    for (const data of [randomBytes(100), randomBytes(6 * MiB)]) {
      const res = await putFile(image.id, data, { 'X-Image-Meta-Store': 'nowhere' });
      expect(res.status).toBe(400);
      expect(res.body.message).toBe('Store for identifier nowhere not found');
    }
    const shown = await call(`/v2/images/${image.id}`, { token: member });
    expect(shown.body).toMatchObject({ status: 'queued', size: null });
    expect(shown.body).not.toHaveProperty('stores');
    expect([...(await keysIn('us', image.id)), ...(await keysIn('eu', image.id))]).toEqual([]);
  });

  it('the uploads extension takes X-Image-Meta-Store: parts go straight to that bucket', async () => {
    const image = await createImage(member, RAW);
    const data = randomBytes(3 * MiB);
    const session = await call(`/v2/images/${image.id}/uploads`, { method: 'POST', token: member, json: { size: data.length }, headers: { 'X-Image-Meta-Store': 'eu' } });
    expect(session.status).toBe(201);
    expect(new URL(session.body.parts[0].url).pathname).toMatch(/^\/skyglass-local-images-eu\//);
    // Resuming finds the parts in the same store.
    const resumed = await call(`/v2/images/${image.id}/uploads/${session.body.upload_id}`, { token: member });
    expect(new URL(resumed.body.parts[0].url).pathname).toMatch(/^\/skyglass-local-images-eu\//);
    await putParts(data, session.body.parts);
    expect((await call(`/v2/images/${image.id}/uploads/${session.body.upload_id}/complete`, { method: 'POST', token: member })).status).toBe(202);
    expect(await settled(member, image.id)).toMatchObject({ status: 'active', stores: 'eu', size: data.length });
    expect(await keysIn('eu', image.id)).toHaveLength(1);
    expect(await keysIn('us', image.id)).toEqual([]);
  });

  it('the uploads extension refuses an unknown store with 400 before opening anything', async () => {
    const image = await createImage(member, RAW);
    const res = await call(`/v2/images/${image.id}/uploads`, { method: 'POST', token: member, json: { size: 10 }, headers: { 'X-Image-Meta-Store': 'nowhere' } });
    expect(res.status).toBe(400);
    expect((await call(`/v2/images/${image.id}`, { token: member })).body.status).toBe('queued');
  });
});

describe('glance-direct import into stores', () => {
  /** A staged image (its data waits in the default store). */
  async function staged(data: Buffer) {
    const image = await createImage(member, RAW);
    const res = await call(`/v2/images/${image.id}/stage`, { method: 'PUT', token: member, body: data, headers: { 'Content-Type': 'application/octet-stream' } });
    expect(res.status).toBe(204);
    return image.id as string;
  }
  const importTo = (id: string, body: Record<string, unknown>, headers: Record<string, string> = {}) =>
    call(`/v2/images/${id}/import`, { method: 'POST', token: member, json: { method: { name: 'glance-direct' }, ...body }, headers });

  it('lands in every store named in `stores`, copied server-side, with Glance\'s progress properties left empty', async () => {
    const data = randomBytes(70_000);
    const id = await staged(data);
    expect((await importTo(id, { stores: ['us', 'eu'] })).status).toBe(202);
    const image = await settled(member, id);
    expect(image).toMatchObject({ status: 'active', stores: 'eu,us', os_glance_importing_to_stores: '', os_glance_failed_import: '' });
    expect(await keysIn('us', id)).toHaveLength(1);
    expect(await keysIn('eu', id)).toEqual(await keysIn('us', id));
  });

  it('leaves the default store once the data is in the only store asked for', async () => {
    const data = randomBytes(5000);
    const id = await staged(data);
    expect((await importTo(id, { stores: ['eu'] })).status).toBe(202);
    expect(await settled(member, id)).toMatchObject({ status: 'active', stores: 'eu' });
    expect(await keysIn('eu', id)).toHaveLength(1);
    expect(await keysIn('us', id)).toEqual([]);
    const got = await download(member, id);
    expect(new URL(got.redirect.headers.get('location')!).pathname).toMatch(/^\/skyglass-local-images-eu\//);
    expect(got.bytes?.equals(data)).toBe(true);
  });

  it('all_stores lands everywhere; X-Image-Meta-Store names one store', async () => {
    const everywhere = await staged(randomBytes(3000));
    expect((await importTo(everywhere, { all_stores: true })).status).toBe(202);
    expect(await settled(member, everywhere)).toMatchObject({ status: 'active', stores: 'eu,us' });
    const one = await staged(randomBytes(3000));
    expect((await importTo(one, {}, { 'X-Image-Meta-Store': 'eu' })).status).toBe(202);
    expect(await settled(member, one)).toMatchObject({ status: 'active', stores: 'eu' });
  });

  it('refuses as Glance: an unknown store 409, all_stores with stores or the header 400, stores with the header 400; nothing changes', async () => {
    const id = await staged(randomBytes(1000));
    const unknown = await importTo(id, { stores: ['us', 'nowhere'] });
    expect([unknown.status, unknown.body.message]).toEqual([409, 'Store for identifier nowhere not found']);
    const both = await importTo(id, { all_stores: true, stores: ['us'] });
    expect([both.status, both.body.message]).toEqual([400, "All_stores parameter can't be used with x-image-meta-store header or stores parameter"]);
    expect((await importTo(id, { all_stores: true }, { 'X-Image-Meta-Store': 'us' })).status).toBe(400);
    const header = await importTo(id, { stores: ['us'] }, { 'X-Image-Meta-Store': 'eu' });
    expect([header.status, header.body.message]).toEqual([400, "Stores parameter and x-image-meta-store header can't be both specified"]);
    expect((await importTo(id, { stores: [] })).status).toBe(400);
    expect((await importTo(id, { all_stores_must_succeed: 'yes' })).status).toBe(400);
    const image = (await call(`/v2/images/${id}`, { token: member })).body;
    expect(image.status).toBe('uploading');
    expect(image).not.toHaveProperty('os_glance_importing_to_stores');
  });
});

describe('DELETE /v2/stores/{store_id}/{image_id}', () => {
  /** An active image in both stores. */
  async function inBothStores(token = member) {
    const image = await createImage(token, RAW);
    await call(`/v2/images/${image.id}/stage`, { method: 'PUT', token, body: randomBytes(2048), headers: { 'Content-Type': 'application/octet-stream' } });
    await call(`/v2/images/${image.id}/import`, { method: 'POST', token, json: { method: { name: 'glance-direct' }, all_stores: true } });
    expect(await settled(token, image.id)).toMatchObject({ status: 'active', stores: 'eu,us' });
    return image.id as string;
  }
  const deleteFrom = (store: string, id: string, token = admin) => call(`/v2/stores/${store}/${id}`, { method: 'DELETE', token });

  it('removes one copy (admin), the image keeps the other, and the last one cannot go', async () => {
    const id = await inBothStores();
    expect((await deleteFrom('us', id)).status).toBe(204);
    const image = (await call(`/v2/images/${id}`, { token: member })).body;
    expect(image).toMatchObject({ status: 'active', stores: 'eu' });
    expect(await keysIn('us', id)).toEqual([]);
    expect(await keysIn('eu', id)).toHaveLength(1);
    const again = await deleteFrom('us', id);
    expect([again.status, again.body.message]).toEqual([403, 'Cannot delete image data from the only store containing it. Consider deleting the image instead.']);
    expect((await download(member, id)).bytes).toHaveLength(2048);
  });

  it('answers as Glance: unknown store 409, unknown image 404, a member 403, not active 409, the last store 403', async () => {
    const id = await inBothStores();
    const store = await deleteFrom('nowhere', id);
    expect([store.status, store.body.message]).toEqual([409, 'The selected store nowhere is not available on this node.']);
    const missing = '3f5a1c2e-0000-4000-8000-000000000000';
    expect(await deleteFrom('us', missing).then((r) => [r.status, r.body.message])).toEqual([404, `Failed to find image ${missing}`]);
    expect((await deleteFrom('us', id, member)).status).toBe(403);
    expect((await deleteFrom('us', id)).status).toBe(204);
    expect((await deleteFrom('us', id)).status).toBe(403); // only eu left: the last-store rule comes first
    const queued = await createImage(member, RAW);
    const notActive = await deleteFrom('us', queued.id);
    expect([notActive.status, notActive.body.message]).toEqual([409, "It's not allowed to remove image data from store if image status is not 'active'"]);
    // Three stores are needed for "not stored there" with more than one copy: a single-copy image answers the last-store rule first.
    const single = await createImage(member, RAW);
    await putFile(single.id, randomBytes(10), { 'X-Image-Meta-Store': 'eu' });
    expect((await deleteFrom('us', single.id)).status).toBe(403);
  });

  it('two concurrent deletes of the two copies: one wins, the other is refused, one copy stays', async () => {
    const id = await inBothStores();
    const answers = await Promise.all([deleteFrom('us', id), deleteFrom('eu', id)]);
    const [won, lost] = [...answers].sort((a, b) => a.status - b.status);
    expect(won!.status).toBe(204);
    // The other is refused either way: 409 when its conditional write lost to the winner's, or,
    // when it read the image after the winner's write (a busy machine serializes them), 403 for
    // what is by then the image's only copy.
    expect([409, 403]).toContain(lost!.status);
    if (lost!.status === 403) expect(lost!.body.message).toBe('Cannot delete image data from the only store containing it. Consider deleting the image instead.');
    const image = (await call(`/v2/images/${id}`, { token: member })).body;
    expect(['us', 'eu']).toContain(image.stores);
    expect((await keysIn(image.stores, id))).toHaveLength(1);
    expect((await download(member, id)).bytes).toHaveLength(2048);
  });

  it('survives dying between its write and the copy\'s removal: the audit removes the copy the image no longer lists', async () => {
    const id = await inBothStores();
    const [key] = await keysIn('us', id);
    await requestThatCrashes(`/v2/stores/us/${id}`, { method: 'DELETE', token: admin }, { command: 'DeleteObject', key: `images/${id}/`, times: 1 });
    // The write was made: the image lists eu alone, the us copy is still there.
    expect((await call(`/v2/images/${id}`, { token: member })).body).toMatchObject({ status: 'active', stores: 'eu' });
    expect(await keysIn('us', id)).toEqual([key]);
    // The client's retry is refused (one store left); the daily audit finishes the job, no grace needed.
    expect((await deleteFrom('us', id)).status).toBe(403);
    const audit = await sweep({ jobs: ['audit'], image_ids: [id] });
    expect(audit.orphanObjects).toEqual([{ key, deleted: true, store: 'us' }]);
    expect(await keysIn('us', id)).toEqual([]);
    expect(await keysIn('eu', id)).toEqual([key]);
    expect((await download(member, id)).bytes).toHaveLength(2048);
  });
});
