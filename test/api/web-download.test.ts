import { createHash, randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { RuntimeProcess } from '../crash/runtime-process.js';
import { call, createImage, tokenFor, uniqueProject } from './client.js';
import { download, MiB, settled, until } from './data-helpers.js';
import { startSourceServer, type SourceServer } from './source-server.js';

const md5 = (b: Uint8Array) => createHash('md5').update(b).digest('hex');
const sha512 = (b: Uint8Array) => createHash('sha512').update(b).digest('hex');
const RAW = { disk_format: 'raw', container_format: 'bare' };

function importFrom(token: string, id: string, uri: unknown, extra: Record<string, unknown> = {}) {
  return call(`/v2/images/${id}/import`, { method: 'POST', token, json: { method: { name: 'web-download', uri }, ...extra } });
}

/** Imports `uri` into a new image and waits for the import to end. */
async function imported(token: string, uri: string) {
  const image = await createImage(token, RAW);
  const res = await importFrom(token, image.id, uri);
  expect(res.status, res.text).toBe(202);
  return settled(token, image.id);
}

async function expectActive(token: string, image: Record<string, any>, data: Buffer) {
  expect(image).toMatchObject({ status: 'active', size: data.length, checksum: md5(data), os_hash_algo: 'sha512', os_hash_value: sha512(data) });
  expect(image.os_skyglass_failure).toBeUndefined();
  // Buffer.equals: a deep toEqual over megabytes takes seconds.
  expect((await download(token, image.id)).bytes?.equals(data)).toBe(true);
  const tasks = (await call(`/v2/images/${image.id}/tasks`, { token })).body.tasks;
  expect(tasks).toMatchObject([{ status: 'success', type: 'api_image_import' }]);
}

/** Queued again, as Glance leaves a failed import: the store in os_glance_failed_import, the reason shown, the task failed. */
async function expectFailed(token: string, image: Record<string, any>, reason: RegExp) {
  expect(image).toMatchObject({ status: 'queued', size: null, checksum: null });
  expect(image.os_glance_failed_import).toBeTruthy();
  expect(image.os_skyglass_failure).toMatch(reason);
  const tasks = (await call(`/v2/images/${image.id}/tasks`, { token })).body.tasks;
  expect(tasks).toHaveLength(1);
  expect(tasks[0].status).toBe('failure');
  expect(tasks[0].message).toMatch(reason);
}

describe('web-download import (a local HTTP server as the source)', () => {
  let plain: SourceServer;
  let ranged: SourceServer;
  let token: string;
  const data = randomBytes(3 * MiB + 12345);

  beforeAll(async () => {
    plain = await startSourceServer();
    ranged = await startSourceServer({ ranges: true });
    for (const server of [plain, ranged]) server.serve('img', data);
    token = await tokenFor(uniqueProject('webdl'));
  });
  afterAll(async () => {
    await plain?.close();
    await ranged?.close();
  });

  it('is offered: GET /v2/info/import and the OpenStack-image-import-methods header list web-download', async () => {
    const info = await call('/v2/info/import', { token });
    expect(info.body['import-methods'].value).toEqual(['glance-direct', 'web-download', 'copy-image']);
    const created = await call('/v2/images', { method: 'POST', token, json: RAW });
    expect(created.headers.get('openstack-image-import-methods')).toBe('glance-direct,web-download,copy-image');
  });

  it('fetches a source without Range support and one with it: active with the right hashes, the task success', async () => {
    for (const server of [plain, ranged]) await expectActive(token, await imported(token, `${server.base}/file/img`), data);
  });

  it('fetches a source without a Content-Length (chunked)', async () => {
    await expectActive(token, await imported(token, `${plain.base}/chunked/img`), data);
  });

  it('follows a redirect to an allowed place', async () => {
    await expectActive(token, await imported(token, `${plain.base}/redirect?to=${encodeURIComponent(`${ranged.base}/file/img`)}`), data);
  });

  it('fails a redirect to a disallowed host or port, with the reason, without fetching it', async () => {
    const before = plain.requests.get('/file/img') ?? 0;
    await expectFailed(token, await imported(token, `${ranged.base}/redirect?to=${encodeURIComponent(`http://localhost:${plain.port}/file/img`)}`), /host not allowed for external URI: http:\/\/localhost/);
    await expectFailed(token, await imported(token, `${ranged.base}/redirect?to=${encodeURIComponent('http://127.0.0.1:9/file/img')}`), /port not allowed for external URI/);
    expect(plain.requests.get('/file/img') ?? 0).toBe(before);
  });

  it('refuses a disallowed port, host or scheme at the import: 400 as Glance, the image still queued', async () => {
    const image = await createImage(token, RAW);
    for (const uri of ['http://127.0.0.1:9/file/img', `http://localhost:${plain.port}/file/img`, 'ftp://127.0.0.1/img', 'file:///etc/passwd', '']) {
      const res = await importFrom(token, image.id, uri);
      expect(res.status, uri).toBe(400);
      expect(res.body.message).toMatch(/^URI for web-download does not pass filtering/);
    }
    expect((await call(`/v2/images/${image.id}`, { token })).body).toMatchObject({ status: 'queued' });
    expect((await call(`/v2/images/${image.id}/tasks`, { token })).body.tasks).toEqual([]);
  });

  it('fails a host in a refused range (metadata, link-local, private; IPv4-mapped too), with the reason', async () => {
    for (const uri of ['http://169.254.169.254/latest/meta-data/', 'http://[::ffff:169.254.169.254]/latest', 'http://10.0.0.1/img', 'http://[fd00:ec2::254]/latest']) {
      await expectFailed(token, await imported(token, uri), /is in a loopback, private, link-local, CGNAT or metadata range/);
    }
  });

  it('fails a host that does not resolve (202 first, as Glance and Tempest expect)', async () => {
    await expectFailed(token, await imported(token, 'http://does-not.exist/no/possible/way'), /does-not\.exist does not resolve/);
  });

  it('retries a server that dies mid-transfer and comes back; fails one that keeps dying, with the reason', async () => {
    plain.serve('flaky', data);
    await expectActive(token, await imported(token, `${plain.base}/dies-once/flaky`), data);
    expect(plain.requests.get('/dies-once/flaky')).toBe(2);
    await expectFailed(token, await imported(token, `${plain.base}/dies/img`), /broke off|ended after/);
    expect(plain.requests.get('/dies/img')).toBe(3);
  });

  it('fails a server that sends more bytes than its Content-Length, and an HTTP error', async () => {
    plain.serve('small', randomBytes(1000));
    await expectFailed(token, await imported(token, plain.extraUrl('small')), /more bytes than its Content-Length/);
    await expectFailed(token, await imported(token, `${plain.base}/missing`), /answered HTTP 404/);
  });

  it('fetches a source that takes ranges in parallel ranged GETs, one part each, and retries a range that breaks off on its own', async () => {
    const big = randomBytes(20 * MiB + 4321); // three parts: 8 MiB, 8 MiB, the rest
    ranged.serve('big', big);
    await expectActive(token, await imported(token, `${ranged.base}/file/big`), big);
    expect([0, 8 * MiB, 16 * MiB].map((start) => ranged.requests.get(`/file/big ${start}`))).toEqual([1, 1, 1]);
    await expectActive(token, await imported(token, `${ranged.base}/flaky-ranges/big`), big);
    expect([0, 8 * MiB, 16 * MiB].map((start) => ranged.requests.get(`/flaky-ranges/big ${start}`))).toEqual([1, 2, 2]);
    // The same source without Range support is one stream.
    plain.serve('big', big);
    await expectActive(token, await imported(token, `${plain.base}/file/big`), big);
    expect(plain.requests.get('/file/big')).toBe(1);
  });

  it('shows its progress on the task while fetching, sparingly (every 4 MiB here), then Glance\'s Copied N MiB', async () => {
    const ten = randomBytes(10 * MiB);
    plain.serve('slow', ten);
    const open = plain.gate('slow');
    const image = await createImage(token, RAW);
    expect((await importFrom(token, image.id, `${plain.base}/gated/slow`)).status).toBe(202);
    // 9 MiB arrive, then the source waits: the task says how far the fetch got.
    const task = await until('progress on the task', async () => {
      const [found] = (await call(`/v2/images/${image.id}/tasks`, { token })).body.tasks;
      return found?.message === 'Fetched 8 MiB of 10 MiB from the source' ? found : undefined;
    });
    expect(task.status).toBe('processing');
    expect((await call(`/v2/images/${image.id}`, { token })).body.status).toBe('importing');
    open();
    await expectActive(token, await settled(token, image.id), ten);
    expect((await call(`/v2/images/${image.id}/tasks`, { token })).body.tasks[0].message).toBe('Copied 10 MiB');
  });

  it('two concurrent imports of one image: one 202, one 409; the image ends active once', async () => {
    const image = await createImage(token, RAW);
    const answers = await Promise.all([importFrom(token, image.id, `${plain.base}/file/img`), importFrom(token, image.id, `${ranged.base}/file/img`)]);
    expect(answers.map((a) => a.status).sort()).toEqual([202, 409]);
    await expectActive(token, await settled(token, image.id), data);
  });

  it('needs a queued image: an active one is 409', async () => {
    const image = await imported(token, `${plain.base}/file/img`);
    const again = await importFrom(token, image.id, `${plain.base}/file/img`);
    expect(again.status).toBe(409);
  });
});

/**
 * Fetches longer than one fetcher run: a runtime of its own (a child process, as `npm start`)
 * whose fetcher runs have a 1 s budget (SKYGLASS_FETCH_RUN_SECONDS), and a source that answers
 * each range after 700 ms. A run starts four ranges; once they are in, the next would not fit
 * in what is left of the second, so the run answers `continue` and the workflow runs the
 * fetcher again, which lists the parts stored and fetches the rest.
 */
describe('web-download longer than one fetcher run', () => {
  let runtime: RuntimeProcess;
  let dataDir: string;
  let slow: SourceServer;
  let plain: SourceServer;
  let token: string;
  /** Six ranges (8 MiB each, then the rest): two runs of four. */
  const SIZE = 44 * MiB + 4321;

  beforeAll(async () => {
    slow = await startSourceServer({ ranges: true, rangeDelayMs: 700 });
    plain = await startSourceServer();
    dataDir = mkdtempSync(join(tmpdir(), 'skyglass-longfetch-'));
    runtime = new RuntimeProcess(dataDir, { SKYGLASS_FETCH_RUN_SECONDS: '1', SKYGLASS_IMPORT_ALLOWED_PORTS: `${slow.port},${plain.port}`, SKYGLASS_LOCAL_RETRY_MS: '50' });
    await runtime.start();
    token = await runtime.token(uniqueProject('longfetch'));
  });
  afterAll(async () => {
    await runtime?.stop();
    await slow?.close();
    await plain?.close();
    if (dataDir) rmSync(dataDir, { recursive: true, force: true });
  });

  /** Imports `uri` into a new image on this runtime; the image once the import ended. */
  async function importedHere(uri: string): Promise<Record<string, any>> {
    const created = await runtime.call('/v2/images', { method: 'POST', token, json: RAW });
    expect(created.status).toBe(201);
    const id = created.body.id as string;
    const res = await runtime.call(`/v2/images/${id}/import`, { method: 'POST', token, json: { method: { name: 'web-download', uri } } });
    expect(res.status, res.text).toBe(202);
    return until(`the import of ${id}`, async () => {
      const image = (await runtime.call(`/v2/images/${id}`, { token })).body;
      return ['saving', 'importing'].includes(image.status) ? undefined : image;
    }, 60_000);
  }

  /** The fetcher's runs for an image, as its log lines say (`result` of each). */
  const runsOf = (id: string) => runtime.output.split('\n').filter((line) => line.includes('"web-download fetch"') && line.includes(id)).map((line) => JSON.parse(line).result as string);

  it('a ranged source takes several runs: each range fetched once, the image active with the right checksum and size', async () => {
    const data = randomBytes(SIZE);
    slow.serve('long', data);
    const image = await importedHere(`${slow.base}/slow-ranges/long`);
    expect(image).toMatchObject({ status: 'active', size: SIZE, checksum: md5(data), os_hash_value: sha512(data) });
    expect(runsOf(image.id)).toEqual(['continue', 'fetched']);
    // Resumed, not started over: no range was asked for twice.
    const starts = Array.from({ length: 6 }, (_, i) => i * 8 * MiB);
    expect(starts.map((start) => slow.requests.get(`/slow-ranges/long ${start}`))).toEqual([1, 1, 1, 1, 1, 1]);
    const redirect = await runtime.call(`/v2/images/${image.id}/file`, { token });
    expect(redirect.status).toBe(302);
    expect(Buffer.from(await (await fetch(redirect.headers.get('location')!)).arrayBuffer()).equals(data)).toBe(true);
    const stored = (await runtime.stored(image.id))!;
    expect(await runtime.storedBytes(image.id)).toEqual({ objects: [stored.location], uploads: [] });
    // Active, the fetch's record is gone with its upload.
    expect(stored.import_fetch).toBeUndefined();
  });

  it('a source that changes between runs fails the import (If-Range answered 200), its upload aborted', async () => {
    slow.serve('changing', randomBytes(SIZE));
    slow.changeAfterRanges('changing', 4, randomBytes(SIZE));
    const image = await importedHere(`${slow.base}/slow-ranges/changing`);
    expect(image).toMatchObject({ status: 'queued', size: null, checksum: null });
    expect(image.os_skyglass_failure).toMatch(/answered HTTP 200 to the range .*it changed while fetched/);
    // The failure is written first, then the upload aborted and the run's answer logged.
    await until('the failed run', async () => (runsOf(image.id).length === 2 ? true : undefined));
    expect(runsOf(image.id)).toEqual(['continue', 'failed']);
    expect(await runtime.storedBytes(image.id)).toEqual({ objects: [], uploads: [] });
    const tasks = (await runtime.call(`/v2/images/${image.id}/tasks`, { token })).body.tasks;
    expect(tasks.map((t: { status: string }) => t.status)).toEqual(['failure']);
  });

  it('a source without ranges slower than one run fails, saying it could not be fetched over several runs', async () => {
    plain.serve('stuck', randomBytes(3 * MiB));
    plain.gate('stuck'); // never opened: the last MiB never comes
    const image = await importedHere(`${plain.base}/gated/stuck`);
    expect(image).toMatchObject({ status: 'queued', size: null });
    expect(image.os_skyglass_failure).toMatch(/took longer than 1 s, the most one run of the fetcher may take, and the source does not take ranges .*so it could not be fetched in parts over several runs/);
    await until('the failed run', async () => (runsOf(image.id).length === 1 ? true : undefined));
    expect(await runtime.storedBytes(image.id)).toEqual({ objects: [], uploads: [] });
  });
});
