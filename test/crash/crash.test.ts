import { createHash, randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { RuntimeProcess, type CrashRule } from './runtime-process.js';

/**
 * The crash suite: the local runtime is killed (SIGKILL, emulators and all) between a write and
 * the side effect that follows it, on every path that has one; then it is started again on
 * the same data, the client does what a client would (nothing, or retry), the sweepers run as
 * if the sweep period had passed, and every image must end in a state that agrees with what its
 * callers were told, with its bytes neither lost nor left behind.
 */
const RAW = { disk_format: 'raw', container_format: 'bare' };
const OCTETS = { 'Content-Type': 'application/octet-stream' };
const md5 = (b: Uint8Array) => createHash('md5').update(b).digest('hex');
/** Past every sweep period: stuck verifications, upload sessions, the orphan grace period. */
const AFTER_THE_SWEEP_PERIOD = () => new Date(Date.now() + 3 * 24 * 3600 * 1000);

let runtime: RuntimeProcess;
let dataDir: string;
let token: string;
let admin: string;

beforeAll(async () => {
  dataDir = mkdtempSync(join(tmpdir(), 'skyglass-crash-'));
  runtime = new RuntimeProcess(dataDir, { SCRUB_DELAY_SECONDS: '2', SKYGLASS_LOCAL_RETRY_MS: '50' });
  await runtime.start();
  token = await runtime.token(`crash-${randomBytes(4).toString('hex')}`);
  admin = await runtime.token('crash-ops', ['admin']);
});

afterAll(async () => {
  await runtime?.stop();
  if (dataDir) rmSync(dataDir, { recursive: true, force: true });
});

async function newImage(): Promise<string> {
  const res = await runtime.call('/v2/images', { method: 'POST', token, json: RAW });
  expect(res.status).toBe(201);
  return res.body.id as string;
}

async function activeImage(data: Buffer): Promise<string> {
  const id = await newImage();
  expect((await runtime.call(`/v2/images/${id}/file`, { method: 'PUT', token, body: data, headers: OCTETS })).status).toBe(204);
  return id;
}

/**
 * Arms a crash at `rule`, runs `action` (whose connection may die with the runtime, status 0,
 * or which may have been answered before a background step crashed), waits for the crash and
 * starts the runtime again on the same data.
 */
async function crashDuring<T>(rule: CrashRule, action: () => Promise<T>): Promise<T> {
  runtime.armCrash(rule);
  const answer = await action();
  const marker = await runtime.crashed();
  expect(marker.command).toBe(rule.command);
  await runtime.start();
  return answer;
}

/**
 * The sweeps as their schedules would run them: first the re-drive (every 15 minutes), then,
 * once the sweep period has passed, all of them; each time waiting for the work they started.
 */
async function sweepAndSettle(id: string): Promise<void> {
  await runtime.sweep(new Date(Date.now() + 15 * 60 * 1000), [id]);
  await settle(id);
  await runtime.sweep(AFTER_THE_SWEEP_PERIOD(), [id]);
  await settle(id);
}

async function settle(id: string): Promise<void> {
  const deadline = Date.now() + 30_000;
  for (;;) {
    const status = (await runtime.stored(id))?.status;
    if (status !== 'saving' && status !== 'importing' && status !== 'pending_delete') return;
    if (Date.now() > deadline) return;
    await new Promise((r) => setTimeout(r, 200));
  }
}

/**
 * The invariants every image must meet once the sweepers have run: no image stuck mid-way,
 * an active image's bytes are there and are the ones its checksum names, and an image without
 * data (queued, deleted) holds nothing at the store: no object, no open multipart upload.
 * Returns the status.
 */
async function expectConsistent(id: string, data?: Buffer): Promise<string> {
  const image = await runtime.stored(id);
  const status = image?.status ?? 'gone';
  const stored = await runtime.storedBytes(id);
  expect(['saving', 'importing', 'pending_delete', 'uploading-without-bytes']).not.toContain(status);
  if (status === 'active' || status === 'deactivated') {
    expect(stored.objects).toEqual([image!.location]);
    expect(stored.uploads).toEqual([]);
    const redirect = await runtime.call(`/v2/images/${id}/file`, { token: admin });
    expect(redirect.status).toBe(302);
    const bytes = Buffer.from(await (await fetch(redirect.headers.get('location')!)).arrayBuffer());
    expect(md5(bytes)).toBe(image!.checksum);
    if (data) expect(bytes.equals(data)).toBe(true);
  } else if (status === 'uploading') {
    expect(stored.objects).toEqual(image!.location ? [image!.location] : []);
  } else {
    expect({ status, ...stored }).toEqual({ status, objects: [], uploads: [] });
    if (image) expect([image.location, image.upload]).toEqual([null, null]);
  }
  return status;
}

describe('a crash between a write and its side effect', () => {
  it('PUT /file, after the saving write and before the bytes are stored: the retry succeeds after the sweep', async () => {
    const id = await newImage();
    const data = randomBytes(4096);
    const answer = await crashDuring({ command: 'PutObject', key: `images/${id}/` }, () =>
      runtime.call(`/v2/images/${id}/file`, { method: 'PUT', token, body: data, headers: OCTETS }),
    );
    expect(answer.status).toBe(0);
    await sweepAndSettle(id);
    expect(await expectConsistent(id)).toBe('queued');
    expect((await runtime.call(`/v2/images/${id}/file`, { method: 'PUT', token, body: data, headers: OCTETS })).status).toBe(204);
    expect(await expectConsistent(id, data)).toBe('active');
  });

  it('PUT /file, after the bytes are stored and before the image is activated: nothing is left half-done', async () => {
    const id = await newImage();
    const data = randomBytes(4096);
    const answer = await crashDuring({ command: 'PutItem', key: id, imageStatus: 'active' }, () =>
      runtime.call(`/v2/images/${id}/file`, { method: 'PUT', token, body: data, headers: OCTETS }),
    );
    expect(answer.status).toBe(0);
    await sweepAndSettle(id);
    expect(['queued', 'active']).toContain(await expectConsistent(id));
  });

  it('PUT /stage, after the bytes are stored and before the image records them: the orphan is removed', async () => {
    const id = await newImage();
    const answer = await crashDuring({ command: 'PutItem', key: id, imageStatus: 'uploading' }, () =>
      runtime.call(`/v2/images/${id}/stage`, { method: 'PUT', token, body: randomBytes(2048), headers: OCTETS }),
    );
    expect(answer.status).toBe(0);
    await sweepAndSettle(id);
    expect(await expectConsistent(id)).toBe('queued');
  });

  it('DELETE, after the pending_delete write and before the scrubber starts: the sweep scrubs it', async () => {
    const id = await activeImage(randomBytes(4096));
    const answer = await crashDuring({ command: 'StartExecution', key: id }, () => runtime.call(`/v2/images/${id}`, { method: 'DELETE', token }));
    expect(answer.status).toBe(0);
    expect((await runtime.call(`/v2/images/${id}`, { token })).status).toBe(404);
    await sweepAndSettle(id);
    expect(await expectConsistent(id)).toBe('deleted');
  });

  it('the scrubber, after DELETE answered 204 and before the bytes are deleted: the sweep finishes the scrub', async () => {
    const id = await activeImage(randomBytes(4096));
    const answer = await crashDuring({ command: 'DeleteObject', key: `images/${id}/` }, () => runtime.call(`/v2/images/${id}`, { method: 'DELETE', token }));
    expect(answer.status).toBe(204);
    await sweepAndSettle(id);
    expect(await expectConsistent(id)).toBe('deleted');
  });

  it('the scrubber, after the bytes are deleted and before the tombstone: the sweep finishes the scrub', async () => {
    const id = await activeImage(randomBytes(4096));
    const answer = await crashDuring({ command: 'PutItem', key: id, imageStatus: 'deleted' }, () => runtime.call(`/v2/images/${id}`, { method: 'DELETE', token }));
    expect(answer.status).toBe(204);
    await sweepAndSettle(id);
    expect(await expectConsistent(id)).toBe('deleted');
  });

  it('restore, after the image is active again and before the scrubber is stopped: the bytes stay', async () => {
    const data = randomBytes(4096);
    const id = await activeImage(data);
    expect((await runtime.call(`/v2/images/${id}`, { method: 'DELETE', token })).status).toBe(204);
    const answer = await crashDuring({ command: 'StopExecution', key: id }, () => runtime.call(`/v2/images/${id}/actions/restore`, { method: 'POST', token: admin }));
    expect(answer.status).toBe(0);
    await sweepAndSettle(id);
    expect(await expectConsistent(id, data)).toBe('active');
  });
});

/** Opens an upload session for `data` and PUTs every part; the session. */
async function uploadedParts(id: string, data: Buffer, stage = false) {
  const session = await runtime.call(`/v2/images/${id}/uploads`, { method: 'POST', token, json: { size: data.length, stage } });
  expect(session.status).toBe(201);
  for (const part of session.body.parts as Array<{ url: string; offset: number; length: number }>) {
    const put = await fetch(part.url, { method: 'PUT', body: data.subarray(part.offset, part.offset + part.length) });
    expect(put.status).toBe(200);
  }
  return session.body as { upload_id: string };
}

describe('a crash on the upload paths', () => {
  it('opening a session, after the store opened the upload and before the image records it: nothing is left open', async () => {
    const id = await newImage();
    const answer = await crashDuring({ command: 'PutItem', key: id, imageStatus: 'saving' }, () =>
      runtime.call(`/v2/images/${id}/uploads`, { method: 'POST', token, json: { size: 1024 } }),
    );
    expect(answer.status).toBe(0);
    await sweepAndSettle(id);
    expect(await expectConsistent(id)).toBe('queued');
  });

  it('complete, after the store assembled the object and before the image records it: the retried complete activates it', async () => {
    const id = await newImage();
    const data = randomBytes(64 * 1024);
    const { upload_id } = await uploadedParts(id, data);
    const answer = await crashDuring({ command: 'PutItem', key: id, imageStatus: 'saving' }, () =>
      runtime.call(`/v2/images/${id}/uploads/${upload_id}/complete`, { method: 'POST', token }),
    );
    expect(answer.status).toBe(0);
    expect((await runtime.call(`/v2/images/${id}/uploads/${upload_id}/complete`, { method: 'POST', token })).status).toBe(202);
    await sweepAndSettle(id);
    expect(await expectConsistent(id, data)).toBe('active');
  });

  it('complete, after the write and before verification starts: the image ends active or refused, never stuck', async () => {
    const id = await newImage();
    const data = randomBytes(64 * 1024);
    const { upload_id } = await uploadedParts(id, data);
    const answer = await crashDuring({ command: 'StartExecution', key: id }, () =>
      runtime.call(`/v2/images/${id}/uploads/${upload_id}/complete`, { method: 'POST', token }),
    );
    expect(answer.status).toBe(0);
    await sweepAndSettle(id);
    expect(['active', 'queued']).toContain(await expectConsistent(id, data));
  });

  it('the verifier, after complete answered 202 and before the image is activated: the image ends active with its bytes', async () => {
    const id = await newImage();
    const data = randomBytes(64 * 1024);
    const { upload_id } = await uploadedParts(id, data);
    const answer = await crashDuring({ command: 'PutItem', key: id, imageStatus: 'active' }, () =>
      runtime.call(`/v2/images/${id}/uploads/${upload_id}/complete`, { method: 'POST', token }),
    );
    expect(answer.status).toBe(202);
    await sweepAndSettle(id);
    expect(await expectConsistent(id, data)).toBe('active');
  });

  it('abort, between the queued write and the store abort: nothing is left open', async () => {
    const id = await newImage();
    const { upload_id } = await uploadedParts(id, randomBytes(64 * 1024));
    const answer = await crashDuring({ command: 'AbortMultipartUpload', key: `images/${id}/` }, () =>
      runtime.call(`/v2/images/${id}/uploads/${upload_id}`, { method: 'DELETE', token }),
    );
    expect(answer.status).toBe(0);
    await sweepAndSettle(id);
    expect(await expectConsistent(id)).toBe('queued');
  });

  it('import, after the importing write and before verification starts: the image ends active or refused, never stuck', async () => {
    const id = await newImage();
    const data = randomBytes(4096);
    expect((await runtime.call(`/v2/images/${id}/stage`, { method: 'PUT', token, body: data, headers: OCTETS })).status).toBe(204);
    const answer = await crashDuring({ command: 'StartExecution', key: id }, () =>
      runtime.call(`/v2/images/${id}/import`, { method: 'POST', token, json: { method: { name: 'glance-direct' } } }),
    );
    expect(answer.status).toBe(0);
    await sweepAndSettle(id);
    expect(['active', 'queued']).toContain(await expectConsistent(id, data));
  });

  it('the expired-session sweep, between the queued write and the store abort: the next sweep finishes it', async () => {
    const id = await newImage();
    await uploadedParts(id, randomBytes(64 * 1024));
    runtime.armCrash({ command: 'AbortMultipartUpload', key: `images/${id}/` });
    await runtime.sweep(AFTER_THE_SWEEP_PERIOD(), [id]).catch(() => undefined);
    await runtime.crashed().catch(() => undefined);
    await runtime.kill();
    await runtime.start();
    await sweepAndSettle(id);
    expect(await expectConsistent(id)).toBe('queued');
  });
});
