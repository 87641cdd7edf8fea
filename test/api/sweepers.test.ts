import { randomBytes, randomUUID } from 'node:crypto';
import { HeadObjectCommand, PutObjectCommand } from '@aws-sdk/client-s3';
import { beforeAll, describe, expect, inject, it } from 'vitest';
import { runAsFunction } from '../../shared/adapters/aws-call-log.js';
import { imageTable, storeClient } from './behind-the-api.js';
import { call, createImage, tokenFor, uniqueProject } from './client.js';
import { MiB, putParts } from './data-helpers.js';

const HOUR = 3600 * 1000;
const later = (ms: number) => new Date(Date.now() + ms).toISOString();
let sweep: (input: { jobs?: string[]; as_of?: string; image_ids?: string[] }) => Promise<any>;

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

beforeAll(async () => {
  // The sweep worker, run here as its EventBridge schedule would run it, against the same emulators.
  Object.assign(process.env, {
    TABLE_NAME: inject('tableName'), DYNAMODB_ENDPOINT: inject('dynamodbEndpoint'), BUCKET_NAME: inject('bucket'),
    S3_ENDPOINT: inject('s3Endpoint'), AWS_REGION: 'us-east-1', AWS_ACCESS_KEY_ID: 'local', AWS_SECRET_ACCESS_KEY: 'local',
  });
  const { handler } = (await import('../../functions/workers/sweep.js')) as { handler: typeof sweep };
  // As the sweep function's invocation, so its calls are checked against its IAM (test/iam).
  sweep = (input) => runAsFunction('sweep', () => handler(input));
});

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
    expect(first.orphanObjects).toEqual([{ key, deleted: false }]);
    expect(await exists(key)).toBe(true);
    const second = await sweep({ jobs: ['audit'], as_of: later(25 * HOUR), image_ids: [id] });
    expect(second.orphanObjects).toEqual([{ key, deleted: true }]);
    expect(await exists(key)).toBe(false);

    const token = await tokenFor(uniqueProject());
    const image = await createImage(token, { disk_format: 'raw', container_format: 'bare' });
    await call(`/v2/images/${image.id}/file`, { method: 'PUT', token, body: randomBytes(500), headers: { 'Content-Type': 'application/octet-stream' } });
    const location = (await repo().get(image.id))!.location!;
    const { DeleteObjectCommand } = await import('@aws-sdk/client-s3');
    await s3().send(new DeleteObjectCommand({ Bucket: inject('bucket'), Key: location }));
    const audit = await sweep({ jobs: ['audit'], image_ids: [image.id] });
    expect(audit.missingObjects).toEqual([{ image_id: image.id, key: location }]);
  });
});
