import { createHash, randomBytes } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import { HeadObjectCommand } from '@aws-sdk/client-s3';
import { describe, expect, inject, it } from 'vitest';
import { runAsFunction } from '../../shared/adapters/aws-call-log.js';
import { imageTable, storeClient } from './behind-the-api.js';
import { call, createImage, tokenFor, uniqueProject } from './client.js';
import { download, MiB, putParts, until } from './data-helpers.js';
import { faultReached, injectFault, releaseFault } from './faults.js';
import { scrubExecutionStatus, startScrubExecution, sweep } from './workers.js';

const RAW = { disk_format: 'raw', container_format: 'bare' };
const md5 = (b: Uint8Array) => createHash('md5').update(b).digest('hex');

/** Where the image's bytes are stored (read behind the API: clients never see locations). */
async function locationOf(id: string): Promise<string | null> {
  return (await imageTable().get(id))?.location ?? null;
}

async function objectExists(key: string): Promise<boolean> {
  const s3 = storeClient();
  try {
    await s3.send(new HeadObjectCommand({ Bucket: inject('bucket'), Key: key }));
    return true;
  } catch (error) {
    if ((error as { $metadata?: { httpStatusCode?: number } }).$metadata?.httpStatusCode === 404) return false;
    throw error;
  } finally {
    s3.destroy();
  }
}

function events(id: string): PublishedEvent[] {
  const file = inject('eventsFile');
  if (!existsSync(file)) return [];
  return readFileSync(file, 'utf8').split('\n').filter(Boolean).map((l) => JSON.parse(l)).filter((e) => e.detail.id === id);
}

type PublishedEvent = { 'detail-type': string; detail: Record<string, unknown>; [field: string]: unknown };

/**
 * The image's events once `types` have all been published. The relay publishes from the
 * table's stream after each write commits, so events arrive shortly after the response.
 */
async function eventsOnce(id: string, ...types: string[]): Promise<PublishedEvent[]> {
  return until(`events ${types.join(', ')} of ${id}`, async () => {
    const seen = events(id);
    return types.every((t) => seen.some((e) => e['detail-type'] === t)) ? seen : undefined;
  });
}

async function activeImage(token: string, data = randomBytes(2048)) {
  const image = await createImage(token, RAW);
  const put = await call(`/v2/images/${image.id}/file`, { method: 'PUT', token, body: data, headers: { 'Content-Type': 'application/octet-stream' } });
  expect(put.status).toBe(204);
  return { id: image.id as string, data };
}

const pendingFor = async (admin: string, id: string) =>
  (await call(`/v2/images?status=pending_delete&limit=1000`, { token: admin })).body.images.some((i: { id: string }) => i.id === id);

describe('delayed delete and the scrubber', () => {
  it('delete → pending_delete (404 to everyone, listed for admins) → after the delay, bytes gone and deleted', async () => {
    const project = uniqueProject();
    const token = await tokenFor(project);
    const admin = await tokenFor(uniqueProject(), ['admin']);
    const { id } = await activeImage(token);
    const key = (await locationOf(id))!;
    expect(await objectExists(key)).toBe(true);

    expect((await call(`/v2/images/${id}`, { method: 'DELETE', token })).status).toBe(204);
    expect((await call(`/v2/images/${id}`, { token })).status).toBe(404);
    expect((await call(`/v2/images/${id}`, { token: admin })).status).toBe(404);
    expect((await call(`/v2/images?owner=${project}`, { token })).body.images).toEqual([]);
    // Owners never see pending_delete images, even when asking.
    expect((await call('/v2/images?status=pending_delete', { token })).body.images).toEqual([]);
    expect(await pendingFor(admin, id)).toBe(true);

    await until('the scrub', async () => ((await pendingFor(admin, id)) ? undefined : true));
    expect(await objectExists(key)).toBe(false);
    expect((await call(`/v2/images/${id}`, { token })).status).toBe(404);
    expect((await call(`/v2/images/${id}/actions/restore`, { method: 'POST', token: admin })).status).toBe(409);
    const deleted = (await eventsOnce(id, 'image.delete')).find((e) => e['detail-type'] === 'image.delete');
    expect(deleted?.detail).toMatchObject({ id, status: 'deleted', deleted: true });
  });

  it('restore within the window brings the image back, downloadable with the same checksum', async () => {
    const token = await tokenFor(uniqueProject());
    const admin = await tokenFor(uniqueProject(), ['admin']);
    const { id, data } = await activeImage(token);
    expect((await call(`/v2/images/${id}`, { method: 'DELETE', token })).status).toBe(204);
    expect((await call(`/v2/images/${id}/actions/restore`, { method: 'POST', token })).status).toBe(403);
    expect((await call(`/v2/images/${id}/actions/restore`, { method: 'POST', token: admin })).status).toBe(204);
    const restored = (await call(`/v2/images/${id}`, { token })).body;
    expect(restored).toMatchObject({ status: 'active', checksum: md5(data) });
    // Past the window the (stopped) scrubber has not touched it.
    await new Promise((r) => setTimeout(r, (inject('scrubDelaySeconds') + 1) * 1000));
    expect((await call(`/v2/images/${id}`, { token })).body.status).toBe('active');
    expect((await download(token, id)).bytes).toEqual(data);
    expect((await call(`/v2/images/${id}/actions/restore`, { method: 'POST', token: admin })).status).toBe(409);
    expect((await eventsOnce(id, 'image.restore')).map((e) => e['detail-type'])).toContain('image.restore');
  });

  it('scrub-now removes the data without waiting; only admins may ask', async () => {
    const token = await tokenFor(uniqueProject());
    const admin = await tokenFor(uniqueProject(), ['admin']);
    const { id } = await activeImage(token);
    const key = (await locationOf(id))!;
    await call(`/v2/images/${id}`, { method: 'DELETE', token });
    expect((await call(`/v2/images/${id}/actions/scrub`, { method: 'POST', token })).status).toBe(403);
    expect((await call(`/v2/images/${id}/actions/scrub`, { method: 'POST', token: admin })).status).toBe(202);
    await until('the scrub', async () => ((await objectExists(key)) ? undefined : true), 2_500);
    await until('the tombstone', async () => ((await pendingFor(admin, id)) ? undefined : true), 2_500);
  });

  it('an image without data goes straight to deleted', async () => {
    const token = await tokenFor(uniqueProject());
    const admin = await tokenFor(uniqueProject(), ['admin']);
    const image = await createImage(token, RAW);
    expect((await call(`/v2/images/${image.id}`, { method: 'DELETE', token })).status).toBe(204);
    expect(await pendingFor(admin, image.id)).toBe(false);
    expect((await eventsOnce(image.id, 'image.delete')).map((e) => e['detail-type'])).toEqual(['image.create', 'image.delete']);
  });

  it('a protected image is not deleted, and nothing changes', async () => {
    const token = await tokenFor(uniqueProject());
    const { id } = await activeImage(token);
    await call(`/v2/images/${id}`, { method: 'PATCH', token, body: JSON.stringify([{ op: 'replace', path: '/protected', value: true }]), headers: { 'Content-Type': 'application/openstack-images-v2.1-json-patch' } });
    const before = (await call(`/v2/images/${id}`, { token })).body;
    expect((await call(`/v2/images/${id}`, { method: 'DELETE', token })).status).toBe(403);
    expect((await call(`/v2/images/${id}`, { token })).body).toEqual(before);
  });
});

describe('events', () => {
  it('publishes the lifecycle of an image, modelled on Glance notifications', async () => {
    const project = uniqueProject();
    const token = await tokenFor(project);
    const admin = await tokenFor(project, ['admin']);
    const { id } = await activeImage(token);
    await call(`/v2/images/${id}/tags/blue`, { method: 'PUT', token });
    await call(`/v2/images/${id}/actions/deactivate`, { method: 'POST', token: admin });
    await call(`/v2/images/${id}/actions/reactivate`, { method: 'POST', token: admin });
    const seen = await eventsOnce(id, 'image.reactivate');
    expect(seen.map((e) => e['detail-type'])).toEqual(['image.create', 'image.upload', 'image.activate', 'image.update', 'image.deactivate', 'image.reactivate']);
    const activate = seen.find((e) => e['detail-type'] === 'image.activate')!;
    expect(activate.detail).toMatchObject({ id, owner: project, status: 'active', deleted: false, deleted_at: null });
    expect(activate.detail).not.toHaveProperty('self');
    expect(seen[0]).toMatchObject({ source: 'skyglass.images', 'event-bus-name': 'skyglass-local' });
    // Each event carries the time of the write that caused it.
    const updated = seen.find((e) => e['detail-type'] === 'image.update')!;
    expect(updated.time).toBe(updated.detail.updated_at);
  });

  it('publishes one event per committed write and none for a write that lost its race', async () => {
    const token = await tokenFor(uniqueProject());
    const image = await createImage(token, RAW);
    const patch = (i: number) =>
      call(`/v2/images/${image.id}`, {
        method: 'PATCH',
        token,
        body: JSON.stringify([{ op: 'add', path: '/racer', value: String(i) }]),
        headers: { 'Content-Type': 'application/openstack-images-v2.1-json-patch' },
      });
    const statuses = (await Promise.all(Array.from({ length: 20 }, (_, i) => patch(i)))).map((r) => r.status);
    const won = statuses.filter((s) => s === 200).length;
    expect(won).toBeGreaterThanOrEqual(1);
    expect(won + statuses.filter((s) => s === 409).length).toBe(statuses.length);
    // One more, so the stream has certainly carried every earlier write past the relay.
    await call(`/v2/images/${image.id}/tags/last`, { method: 'PUT', token });
    const seen = await until('the tag event', async () => {
      const all = events(image.id);
      return all.some((e) => e['detail-type'] === 'image.update' && (e.detail.tags as string[]).includes('last')) ? all : undefined;
    });
    expect(seen.filter((e) => e['detail-type'] === 'image.update')).toHaveLength(won + 1);
    const final = (await call(`/v2/images/${image.id}`, { token })).body;
    expect(seen.at(-1)!.detail).toMatchObject({ racer: final.racer, tags: ['last'], updated_at: final.updated_at });
  });

  it('delivers events written while the bus refuses them, in order, once it accepts them again', async () => {
    const token = await tokenFor(uniqueProject());
    const image = await createImage(token, RAW);
    const id = image.id as string;
    await eventsOnce(id, 'image.create');
    // The bus refuses this image's next three PutEvents calls (throttled, as EventBridge can be).
    injectFault({ command: 'PutEvents', key: id, times: 3, error: 'ThrottlingException' });
    expect((await call(`/v2/images/${id}/tags/red`, { method: 'PUT', token })).status).toBe(204);
    expect((await call(`/v2/images/${id}/tags/green`, { method: 'PUT', token })).status).toBe(204);
    const all = await until('both tag events', async () => {
      const seen = events(id);
      return seen.filter((e) => e['detail-type'] === 'image.update').length >= 2 ? seen : undefined;
    });
    expect(all.map((e) => e['detail-type'])).toEqual(['image.create', 'image.update', 'image.update']);
    expect(all.map((e) => [...(e.detail.tags as string[])].sort())).toEqual([[], ['red'], ['green', 'red']]);
  });
});

describe('scrubber under faults', () => {
  it('retries a transient S3 delete failure and ends deleted', async () => {
    const token = await tokenFor(uniqueProject());
    const admin = await tokenFor(uniqueProject(), ['admin']);
    const { id } = await activeImage(token);
    const key = (await locationOf(id))!;
    injectFault({ command: 'DeleteObject', key, times: 2, error: 'SlowDown' });
    await call(`/v2/images/${id}`, { method: 'DELETE', token });
    await call(`/v2/images/${id}/actions/scrub`, { method: 'POST', token: admin });
    await until('the scrub', async () => ((await pendingFor(admin, id)) ? undefined : true));
    expect(await objectExists(key)).toBe(false);
    expect((await eventsOnce(id, 'image.delete')).map((e) => e['detail-type'])).toContain('image.delete');
  });

  it('keeps the image pending_delete and records the failure when S3 keeps failing', async () => {
    const token = await tokenFor(uniqueProject());
    const admin = await tokenFor(uniqueProject(), ['admin']);
    const { id } = await activeImage(token);
    const key = (await locationOf(id))!;
    injectFault({ command: 'DeleteObject', key, times: -1, error: 'InternalError' });
    await call(`/v2/images/${id}`, { method: 'DELETE', token });
    await call(`/v2/images/${id}/actions/scrub`, { method: 'POST', token: admin });
    const failed = await until('the recorded failure', async () => events(id).find((e) => e['detail-type'] === 'image.scrub_failed'));
    expect(failed.detail).toMatchObject({ id, status: 'pending_delete' });
    // No state claims the bytes are gone: they exist, and the image is still pending_delete.
    expect(await objectExists(key)).toBe(true);
    expect(await pendingFor(admin, id)).toBe(true);
    expect(events(id).map((e) => e['detail-type'])).not.toContain('image.delete');
    // The scrub claimed the image before it tried to delete: it may have removed bytes, so no restore.
    expect((await call(`/v2/images/${id}/actions/restore`, { method: 'POST', token: admin })).status).toBe(409);
    // The delayed execution DELETE started fails the same way once its window ends.
    const { version } = (await imageTable().get(id))!.scrub!;
    await until('the delayed scrub to fail', async () => ((await scrubExecutionStatus(`scrub-${id}-${version}`)) === 'FAILED' ? true : undefined));
    expect(await pendingFor(admin, id)).toBe(true);
    // Once S3 recovers, the sweeper re-drives the scrub (no execution runs any more) and it finishes.
    releaseFault({ command: 'DeleteObject', key });
    const report = await sweep({ jobs: ['redrive'], as_of: new Date(Date.now() + 2 * 3600_000).toISOString(), image_ids: [id] });
    expect(report.redrivenScrubs).toEqual([id]);
    await gone(admin, id);
    expect(await objectExists(key)).toBe(false);
  });
});

describe('scrubber steps after a crash', () => {
  it('ends in the same state whichever step it is killed after and however often it runs', async () => {
    // The scrubber's Lambda, run here as the state machine would run it, against the same emulators.
    Object.assign(process.env, {
      TABLE_NAME: inject('tableName'), DYNAMODB_ENDPOINT: inject('dynamodbEndpoint'), BUCKET_NAME: inject('bucket'),
      S3_ENDPOINT: inject('s3Endpoint'), EVENTS_ENDPOINT: inject('eventsEndpoint'), EVENT_BUS_NAME: 'skyglass-local',
      AWS_REGION: 'us-east-1', AWS_ACCESS_KEY_ID: 'local', AWS_SECRET_ACCESS_KEY: 'local',
    });
    const { handler } = await import('../../functions/workers/scrub-image.js');
    const token = await tokenFor(uniqueProject());
    const { id } = await activeImage(token);
    const key = (await locationOf(id))!;
    await call(`/v2/images/${id}`, { method: 'DELETE', token });
    const pending = await imageTable().get(id);
    // As the scrubber function's invocation, so its calls are checked against its IAM (test/iam).
    const step = (action: string) => runAsFunction('scrubImage', () => handler({ action: action as never, image_id: id, version: pending!.version }));

    // Nothing is removed before the claim.
    expect(await step('delete-data')).toEqual({ deleted: [] });
    expect(await step('mark-deleted')).toEqual({ status: 'pending_delete' });
    expect(await objectExists(key)).toBe(true);
    expect(await step('claim')).toEqual({ claimed: true });
    expect(await step('delete-data')).toEqual({ deleted: [key] });
    // Killed here: bytes gone, image still pending_delete. A second run starts from the top and joins the claim.
    expect(await objectExists(key)).toBe(false);
    expect(await step('claim')).toEqual({ claimed: true });
    expect(await step('delete-data')).toEqual({ deleted: [key] });
    expect(await step('mark-deleted')).toEqual({ status: 'deleted' });
    // Killed after the tombstone: every step is now a no-op.
    expect(await step('mark-deleted')).toEqual({ status: 'deleted' });
    expect(await step('claim')).toEqual({ claimed: false });
    // An execution started before the Claim state existed asks for `check`.
    expect(await step('check')).toEqual({ pending: false });
    expect(await step('delete-data')).toEqual({ deleted: [] });
    // The delayed execution started by DELETE runs later and finds nothing to do either.
    await new Promise((r) => setTimeout(r, (inject('scrubDelaySeconds') + 1) * 1000));
    expect((await eventsOnce(id, 'image.delete')).filter((e) => e['detail-type'] === 'image.delete')).toHaveLength(1);
    expect((await call(`/v2/images/${id}`, { token })).status).toBe(404);
  });
});

const OCTETS = { 'Content-Type': 'application/octet-stream' };
const gone = (admin: string, id: string) => until(`the tombstone of ${id}`, async () => ((await pendingFor(admin, id)) ? undefined : true));

describe('restore and the scrubber (issue #8, item 1)', () => {
  it('restore loses with 409 to a scrub that has begun removing the bytes, and the scrub finishes', async () => {
    const token = await tokenFor(uniqueProject());
    const admin = await tokenFor(uniqueProject(), ['admin']);
    const { id } = await activeImage(token);
    const key = (await locationOf(id))!;
    expect((await call(`/v2/images/${id}`, { method: 'DELETE', token })).status).toBe(204);
    // The scrub-now execution's S3 delete is held in flight: the scrubber has decided to remove the bytes.
    injectFault({ command: 'DeleteObject', key, times: 1, hold: true });
    expect((await call(`/v2/images/${id}/actions/scrub`, { method: 'POST', token: admin })).status).toBe(202);
    await faultReached({ command: 'DeleteObject', key });
    const restore = await call(`/v2/images/${id}/actions/restore`, { method: 'POST', token: admin });
    releaseFault({ command: 'DeleteObject', key });
    expect(restore.status).toBe(409);
    expect(restore.body).toMatchObject({ code: '409 Conflict' });
    expect(restore.body.message).toContain('scrub');
    // No active image without bytes: the scrub ends what it began.
    await gone(admin, id);
    expect(await objectExists(key)).toBe(false);
    expect((await call(`/v2/images/${id}`, { token })).status).toBe(404);
    expect(events(id).map((e) => e['detail-type'])).not.toContain('image.restore');
  });

  it('restore stops a scrub-now execution as well as the delayed one', async () => {
    const token = await tokenFor(uniqueProject());
    const admin = await tokenFor(uniqueProject(), ['admin']);
    const { id, data } = await activeImage(token);
    expect((await call(`/v2/images/${id}`, { method: 'DELETE', token })).status).toBe(204);
    const { version } = (await imageTable().get(id))!;
    // A scrub-now execution that has not reached the image yet (the one POST .../scrub starts).
    await startScrubExecution(`scrubnow-${id}-${version}`, { image_id: id, version, delay_seconds: 600 });
    expect((await call(`/v2/images/${id}/actions/restore`, { method: 'POST', token: admin })).status).toBe(204);
    expect(await scrubExecutionStatus(`scrubnow-${id}-${version}`)).toBe('ABORTED');
    expect(await scrubExecutionStatus(`scrub-${id}-${version}`)).toBe('ABORTED');
    expect((await download(token, id)).bytes).toEqual(data);
  });
});

describe('delete in every status (issue #8, item 5)', () => {
  it('deletes an image saving through an open upload session: 204, then the session is aborted', async () => {
    const token = await tokenFor(uniqueProject());
    const admin = await tokenFor(uniqueProject(), ['admin']);
    const image = await createImage(token, RAW);
    const data = randomBytes(11 * MiB);
    const session = (await call(`/v2/images/${image.id}/uploads`, { method: 'POST', token, json: { size: data.length, part_size: 5 * MiB } })).body;
    await putParts(data, [session.parts[0]]);
    const deleted = await call(`/v2/images/${image.id}`, { method: 'DELETE', token });
    expect(deleted.status).toBe(204);
    expect((await call(`/v2/images/${image.id}`, { token })).status).toBe(404);
    expect((await call(`/v2/images/${image.id}/uploads/${session.upload_id}`, { token })).status).toBe(404);
    // Unverified bytes have nothing to restore: they are scrubbed at once, and restore says no.
    await gone(admin, image.id);
    const late = await fetch(session.parts[1].url, { method: 'PUT', body: data.subarray(5 * MiB, 10 * MiB) });
    expect(late.status).toBe(404);
    expect(await late.text()).toContain('NoSuchUpload');
    expect((await call(`/v2/images/${image.id}/actions/restore`, { method: 'POST', token: admin })).status).toBe(409);
    expect((await eventsOnce(image.id, 'image.delete')).map((e) => e['detail-type'])).toEqual(['image.create', 'image.delete']);
  });

  it('deletes an image uploading through a staged session, and one staged with PUT /stage, removing the staged bytes', async () => {
    const token = await tokenFor(uniqueProject());
    const admin = await tokenFor(uniqueProject(), ['admin']);
    const viaSession = await createImage(token, RAW);
    const session = (await call(`/v2/images/${viaSession.id}/uploads`, { method: 'POST', token, json: { size: 100, stage: true } })).body;
    await putParts(randomBytes(100), session.parts);
    expect((await call(`/v2/images/${viaSession.id}`, { token })).body.status).toBe('uploading');
    const staged = await createImage(token, RAW);
    expect((await call(`/v2/images/${staged.id}/stage`, { method: 'PUT', token, body: randomBytes(1000), headers: OCTETS })).status).toBe(204);
    const stagedKey = (await locationOf(staged.id))!;
    expect(await objectExists(stagedKey)).toBe(true);

    for (const id of [viaSession.id, staged.id]) {
      expect((await call(`/v2/images/${id}`, { method: 'DELETE', token })).status, id).toBe(204);
      expect((await call(`/v2/images/${id}`, { token })).status).toBe(404);
    }
    await gone(admin, viaSession.id);
    await gone(admin, staged.id);
    expect(await objectExists(stagedKey)).toBe(false);
    const late = await fetch(session.parts[0].url, { method: 'PUT', body: randomBytes(100) });
    expect(late.status).toBe(404);
  });

  it('deletes an image whose data is being verified; the verifier does not bring it back', async () => {
    const token = await tokenFor(uniqueProject());
    const admin = await tokenFor(uniqueProject(), ['admin']);
    const image = await createImage(token, RAW);
    const data = randomBytes(1000);
    const session = (await call(`/v2/images/${image.id}/uploads`, { method: 'POST', token, json: { size: data.length } })).body;
    const key = (await imageTable().get(image.id))!.upload!.key;
    await putParts(data, session.parts);
    // The verifier's read of the object is held: the image stays saving while it runs.
    injectFault({ command: 'GetObject', key, times: 1, hold: true });
    expect((await call(`/v2/images/${image.id}/uploads/${session.upload_id}/complete`, { method: 'POST', token })).status).toBe(202);
    await faultReached({ command: 'GetObject', key });
    expect((await call(`/v2/images/${image.id}`, { method: 'DELETE', token })).status).toBe(204);
    releaseFault({ command: 'GetObject', key });
    await gone(admin, image.id);
    expect((await call(`/v2/images/${image.id}`, { token })).status).toBe(404);
    expect(await objectExists(key)).toBe(false);
    expect(events(image.id).map((e) => e['detail-type'])).not.toContain('image.activate');
  });

  it('deletes a deactivated image through pending_delete; a restore brings it back deactivated, not active', async () => {
    const project = uniqueProject();
    const token = await tokenFor(project);
    const admin = await tokenFor(uniqueProject(), ['admin']);
    const { id, data } = await activeImage(token);
    const key = (await locationOf(id))!;
    expect((await call(`/v2/images/${id}/actions/deactivate`, { method: 'POST', token: admin })).status).toBe(204);
    expect((await call(`/v2/images/${id}`, { method: 'DELETE', token })).status).toBe(204);
    expect((await call(`/v2/images/${id}`, { token })).status).toBe(404);
    expect(await pendingFor(admin, id)).toBe(true);
    expect((await call(`/v2/images/${id}/actions/restore`, { method: 'POST', token: admin })).status).toBe(204);
    expect((await call(`/v2/images/${id}`, { token })).body).toMatchObject({ status: 'deactivated', checksum: md5(data) });
    expect((await download(token, id)).redirect.status).toBe(403);
    expect((await download(admin, id)).bytes).toEqual(data);

    expect((await call(`/v2/images/${id}`, { method: 'DELETE', token })).status).toBe(204);
    await gone(admin, id);
    expect(await objectExists(key)).toBe(false);
  });

  it('answers a delete that loses a race with 404 or 409, never a 409 without a concurrent change', async () => {
    const token = await tokenFor(uniqueProject());
    const image = await createImage(token, RAW);
    await call(`/v2/images/${image.id}/uploads`, { method: 'POST', token, json: { size: 100 } });
    const results = await Promise.all([1, 2, 3, 4].map(() => call(`/v2/images/${image.id}`, { method: 'DELETE', token })));
    const statuses = results.map((r) => r.status);
    expect(statuses.filter((s) => s === 204)).toHaveLength(1);
    for (const r of results.filter((r) => r.status !== 204)) {
      expect([404, 409]).toContain(r.status);
      expect(r.body.code).toBe(`${r.status} ${r.status === 404 ? 'Not Found' : 'Conflict'}`);
    }
    expect((await call(`/v2/images/${image.id}`, { token })).status).toBe(404);
  });
});
