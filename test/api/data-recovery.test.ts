import { createHash, randomBytes } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { imageTable } from './behind-the-api.js';
import { call, createImage, tokenFor, uniqueProject } from './client.js';
import { download, putParts, settled } from './data-helpers.js';
import { injectFault, requestThatCrashes } from './faults.js';
import { sweep } from './workers.js';

/**
 * Issue #8, item 6: a write followed by a side effect (an S3 call, StartExecution) survives
 * the side effect failing or the process dying between the two. The failed request rolls its
 * own write back, or the client's retry of the same request succeeds, or the sweeper's
 * re-drive finishes the job.
 */
const RAW = { disk_format: 'raw', container_format: 'bare' };
const OCTETS = { 'Content-Type': 'application/octet-stream' };
const md5 = (b: Uint8Array) => createHash('md5').update(b).digest('hex');
/** Past the time any request may still be starting its verification (VERIFICATION_START_SECONDS). */
const past = () => new Date(Date.now() + 3600_000).toISOString();

async function keyOf(id: string): Promise<string> {
  return (await imageTable().get(id))!.location!;
}

const putFile = (token: string, id: string, data: Buffer) => call(`/v2/images/${id}/file`, { method: 'PUT', token, body: data, headers: OCTETS });
const importIt = (token: string, id: string) => call(`/v2/images/${id}/import`, { method: 'POST', token, json: { method: { name: 'glance-direct' } } });

describe('PUT /file after a failure', () => {
  it('a fault during inline verification rolls the image back to queued, and the retry succeeds', async () => {
    const token = await tokenFor(uniqueProject());
    const image = await createImage(token, RAW);
    const data = randomBytes(3000);
    // The verifier's read of the stored object fails once (S3 throttling or an outage).
    injectFault({ command: 'GetObject', key: `images/${image.id}/`, times: 1, error: 'SlowDown' });
    const failed = await putFile(token, image.id, data);
    expect(failed.status).toBe(503);
    expect(failed.body).toMatchObject({ code: '503 Service Unavailable' });
    expect(failed.body.message).toContain('retry');
    const shown = (await call(`/v2/images/${image.id}`, { token })).body;
    expect(shown).toMatchObject({ status: 'queued', size: null, checksum: null });
    expect(shown.os_skyglass_failure).toContain('did not finish');
    expect((await putFile(token, image.id, data)).status).toBe(204);
    expect((await call(`/v2/images/${image.id}`, { token })).body).toMatchObject({ status: 'active', checksum: md5(data), size: data.length });
    expect((await download(token, image.id)).bytes).toEqual(data);
  });

  it('after the process died during verification, the retry takes the image over and succeeds', async () => {
    const token = await tokenFor(uniqueProject());
    const image = await createImage(token, RAW);
    const first = randomBytes(2000);
    await requestThatCrashes(`/v2/images/${image.id}/file`, { method: 'PUT', token, body: first, headers: OCTETS }, { command: 'GetObject', key: `images/${image.id}/`, times: 1 });
    expect((await call(`/v2/images/${image.id}`, { token })).body.status).toBe('saving');
    const abandoned = await keyOf(image.id);
    const data = randomBytes(2500);
    expect((await putFile(token, image.id, data)).status).toBe(204);
    expect((await call(`/v2/images/${image.id}`, { token })).body).toMatchObject({ status: 'active', checksum: md5(data), size: data.length });
    expect(await keyOf(image.id)).not.toBe(abandoned);
    // The abandoned attempt's bytes went with it.
    expect((await sweep({ jobs: ['audit'], image_ids: [image.id] })).orphanObjects).toEqual([]);
  });

  it('after the process died during verification and nobody retried, the sweeper verifies the stored bytes', async () => {
    const token = await tokenFor(uniqueProject());
    const image = await createImage(token, RAW);
    const data = randomBytes(2000);
    await requestThatCrashes(`/v2/images/${image.id}/file`, { method: 'PUT', token, body: data, headers: OCTETS }, { command: 'GetObject', key: `images/${image.id}/`, times: 1 });
    expect((await sweep({ jobs: ['redrive'], image_ids: [image.id] })).redrivenVerifications).toEqual([]);
    expect((await sweep({ jobs: ['redrive'], as_of: past(), image_ids: [image.id] })).redrivenVerifications).toEqual([image.id]);
    expect(await settled(token, image.id)).toMatchObject({ status: 'active', checksum: md5(data), size: data.length });
  });
});

describe('POST /import after a failure', () => {
  async function stagedImage(token: string) {
    const image = await createImage(token, RAW);
    const data = randomBytes(4000);
    expect((await call(`/v2/images/${image.id}/stage`, { method: 'PUT', token, body: data, headers: OCTETS })).status).toBe(204);
    return { id: image.id as string, data };
  }

  it('when Step Functions refuses to start the verification, the answer says so and the retry succeeds', async () => {
    const token = await tokenFor(uniqueProject());
    const { id, data } = await stagedImage(token);
    injectFault({ command: 'StartExecution', key: id, times: 1, error: 'ServiceUnavailable' });
    const failed = await importIt(token, id);
    expect(failed.status).toBe(503);
    expect(failed.body.message).toContain('retry the import');
    expect((await importIt(token, id)).status).toBe(202);
    expect(await settled(token, id)).toMatchObject({ status: 'active', checksum: md5(data) });
  });

  it('after the process died between the importing write and StartExecution, the retry succeeds', async () => {
    const token = await tokenFor(uniqueProject());
    const { id, data } = await stagedImage(token);
    await requestThatCrashes(`/v2/images/${id}/import`, { method: 'POST', token, body: JSON.stringify({ method: { name: 'glance-direct' } }), headers: { 'Content-Type': 'application/json' } }, { command: 'StartExecution', key: id, times: 1 });
    expect((await call(`/v2/images/${id}`, { token })).body.status).toBe('importing');
    expect((await importIt(token, id)).status).toBe(202);
    expect(await settled(token, id)).toMatchObject({ status: 'active', checksum: md5(data) });
  });

  it('after the process died there and nobody retried, the sweeper starts the verification', async () => {
    const token = await tokenFor(uniqueProject());
    const { id, data } = await stagedImage(token);
    await requestThatCrashes(`/v2/images/${id}/import`, { method: 'POST', token, body: JSON.stringify({ method: { name: 'glance-direct' } }), headers: { 'Content-Type': 'application/json' } }, { command: 'StartExecution', key: id, times: 1 });
    expect((await sweep({ jobs: ['redrive'], as_of: past(), image_ids: [id] })).redrivenVerifications).toEqual([id]);
    expect(await settled(token, id)).toMatchObject({ status: 'active', checksum: md5(data) });
  });
});

describe('complete after a failure', () => {
  it('after the process died between the completing write and StartExecution, the sweeper starts the verification', async () => {
    const token = await tokenFor(uniqueProject());
    const image = await createImage(token, RAW);
    const data = randomBytes(5000);
    const session = (await call(`/v2/images/${image.id}/uploads`, { method: 'POST', token, json: { size: data.length } })).body;
    await putParts(data, session.parts);
    await requestThatCrashes(`/v2/images/${image.id}/uploads/${session.upload_id}/complete`, { method: 'POST', token }, { command: 'StartExecution', key: image.id, times: 1 });
    expect((await call(`/v2/images/${image.id}`, { token })).body.status).toBe('saving');
    expect((await sweep({ jobs: ['redrive'], as_of: past(), image_ids: [image.id] })).redrivenVerifications).toEqual([image.id]);
    expect(await settled(token, image.id)).toMatchObject({ status: 'active', checksum: md5(data) });
  });

  it('when Step Functions refuses to start the verification, the answer says so and the retry succeeds', async () => {
    const token = await tokenFor(uniqueProject());
    const image = await createImage(token, RAW);
    const data = randomBytes(5000);
    const session = (await call(`/v2/images/${image.id}/uploads`, { method: 'POST', token, json: { size: data.length } })).body;
    await putParts(data, session.parts);
    injectFault({ command: 'StartExecution', key: image.id, times: 1, error: 'ThrottlingException' });
    const path = `/v2/images/${image.id}/uploads/${session.upload_id}/complete`;
    const failed = await call(path, { method: 'POST', token });
    expect(failed.status).toBe(503);
    expect(failed.body.message).toContain('retry the complete');
    expect((await call(path, { method: 'POST', token })).status).toBe(202);
    expect(await settled(token, image.id)).toMatchObject({ status: 'active', checksum: md5(data) });
  });
});
