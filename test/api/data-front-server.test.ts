import { spawn, type ChildProcess } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ListMultipartUploadsCommand } from '@aws-sdk/client-s3';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { bundleDataFront, DATA_FRONT_NODE_FLAGS } from '../../infra/bundling.js';
import { storeClient } from './behind-the-api.js';
import { call, callAt, createImage, tokenFor, uniqueProject } from './client.js';
import { MiB, until } from './data-helpers.js';
import { putChunked as putChunkedTo } from './raw-http.js';

/**
 * The standalone data front (functions/data-front/server.ts), the program the stack runs on
 * Fargate: its esbuild bundle, the very file the image runs (`node index.mjs`), started here as its
 * own process with the environment the local runtime gives its functions (DATA_DIR/runtime.json):
 * the same emulators, table and bucket as the API under test.
 */
const bundleDir = mkdtempSync(join(tmpdir(), 'skyglass-front-bundle-'));
const RAW = { disk_format: 'raw', container_format: 'bare' };

let front: ChildProcess;
let frontUrl: string;
let exited: Promise<number | null>;

beforeAll(async () => {
  const { environment } = JSON.parse(readFileSync(join(inject('dataDir'), 'runtime.json'), 'utf8')) as { environment: Record<string, string> };
  bundleDataFront(bundleDir);
  front = spawn(process.execPath, [...DATA_FRONT_NODE_FLAGS, 'index.mjs'], {
    cwd: bundleDir,
    env: { ...process.env, ...environment, PORT: '0', HOST: '127.0.0.1', STOP_GRACE_SECONDS: '60' },
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  exited = new Promise((resolve) => front.once('exit', (code) => resolve(code)));
  frontUrl = await new Promise<string>((resolve, reject) => {
    let out = '';
    front.stdout!.setEncoding('utf8');
    front.stdout!.on('data', (text: string) => {
      out += text;
      const listening = /"url":"([^"]+)"/.exec(out);
      if (listening) resolve(listening[1] as string);
    });
    front.once('exit', (code) => reject(new Error(`data front exited (${code}) before listening: ${out}`)));
  });
});

afterAll(async () => {
  if (front.exitCode === null) front.kill('SIGKILL');
  rmSync(bundleDir, { recursive: true, force: true });
});

/** A chunked PUT to the front; `afterFirstChunk` runs after the first chunk is written, before the others. */
const putChunked = (path: string, token: string, chunks: Buffer[], afterFirstChunk?: () => Promise<void>) =>
  putChunkedTo(`${frontUrl}${path}`, token, chunks, { afterFirstChunk });

const md5 = (data: Buffer) => createHash('md5').update(data).digest('hex');

describe('the standalone data front', () => {
  it('answers the load balancer\'s health check without a token', async () => {
    const res = await callAt(frontUrl, '/healthz');
    expect(res.status).toBe(200);
    expect(res.body).toEqual({ status: 'ok' });
  });

  it('streams a chunked PUT /file of several parts to an active image with its hashes, and GET /file is the download handler\'s redirect', async () => {
    const token = await tokenFor(uniqueProject('front'));
    const image = await createImage(token, RAW);
    const data = randomBytes(20 * MiB);
    const chunks = Array.from({ length: 20 }, (_, i) => data.subarray(i * MiB, (i + 1) * MiB));
    const put = await putChunked(`/v2/images/${image.id}/file`, token, chunks);
    expect(put).toEqual({ status: 204, body: undefined });
    // The 204 comes once the image is active, as Glance answers: seen through the API, not the front.
    const shown = await call(`/v2/images/${image.id}`, { token });
    expect(shown.body).toMatchObject({ status: 'active', size: data.length, checksum: md5(data), os_hash_algo: 'sha512', os_hash_value: createHash('sha512').update(data).digest('hex') });
    const uploads = await storeClient().send(new ListMultipartUploadsCommand({ Bucket: inject('bucket'), Prefix: `images/${image.id}/` }));
    expect(uploads.Uploads ?? []).toEqual([]);

    const redirect = await callAt(frontUrl, `/v2/images/${image.id}/file`, { token });
    expect(redirect.status).toBe(302);
    const bytes = Buffer.from(await (await fetch(redirect.headers.get('location')!)).arrayBuffer());
    expect(md5(bytes)).toBe(md5(data));
  });

  it('stages a chunked PUT /stage (uploading), which glance-direct import through the API makes active', async () => {
    const token = await tokenFor(uniqueProject('front'));
    const image = await createImage(token, RAW);
    const data = randomBytes(9 * MiB);
    const put = await putChunked(`/v2/images/${image.id}/stage`, token, [data.subarray(0, 4 * MiB), data.subarray(4 * MiB)]);
    expect(put).toEqual({ status: 204, body: undefined });
    expect((await call(`/v2/images/${image.id}`, { token })).body.status).toBe('uploading');
    const imported = await call(`/v2/images/${image.id}/import`, { method: 'POST', token, json: { method: { name: 'glance-direct' } } });
    expect(imported.status).toBe(202);
    const active = await until('the import to finish', async () => {
      const shown = await call(`/v2/images/${image.id}`, { token });
      return shown.body.status === 'active' ? shown.body : undefined;
    });
    expect(active).toMatchObject({ size: data.length, checksum: md5(data) });
  });

  it('refuses a forged token with the API\'s 401, reading none of the body, and the image stays queued', async () => {
    const token = await tokenFor(uniqueProject('front'));
    const image = await createImage(token, RAW);
    const [header, payload] = token.split('.');
    const forged = `${header}.${payload}.${Buffer.from('not the signature').toString('base64url')}`;
    const put = await callAt(frontUrl, `/v2/images/${image.id}/file`, { method: 'PUT', token: forged, body: randomBytes(MiB), headers: { 'Content-Type': 'application/octet-stream' } });
    expect(put.status).toBe(401);
    expect(put.body).toEqual({ error: { code: 401, title: 'Unauthorized', message: expect.any(String) } });
    expect(put.headers.get('www-authenticate')).toBe('Bearer');
    expect((await call(`/v2/images/${image.id}`, { token })).body.status).toBe('queued');
  });

  it('answers another method on its paths as the API does (405 with Allow), and an API route it does not serve 404', async () => {
    const token = await tokenFor(uniqueProject('front'));
    const image = await createImage(token, RAW);
    const post = await callAt(frontUrl, `/v2/images/${image.id}/file`, { method: 'POST', token });
    expect(post.status).toBe(405);
    expect(post.headers.get('allow')).toBe('GET, PUT');
    expect((await callAt(frontUrl, `/v2/images/${image.id}`, { token })).status).toBe(404);
  });

  // Last: it stops the front.
  it('on SIGTERM stops taking connections but lets an upload in flight finish to active, then exits 0', async () => {
    const token = await tokenFor(uniqueProject('front'));
    const image = await createImage(token, RAW);
    const data = randomBytes(12 * MiB);
    const chunks = Array.from({ length: 12 }, (_, i) => data.subarray(i * MiB, (i + 1) * MiB));
    const put = putChunked(`/v2/images/${image.id}/file`, token, chunks, async () => {
      // The front has taken the upload (queued → saving) before it is told to stop.
      await until('the upload to start', async () => ((await call(`/v2/images/${image.id}`, { token })).body.status === 'saving' ? true : undefined));
      front.kill('SIGTERM');
      await until('the front to stop listening', async () => (await callAt(frontUrl, '/healthz').then(() => undefined, () => true)));
    });
    expect(await put).toEqual({ status: 204, body: undefined });
    expect(await exited).toBe(0);
    expect((await call(`/v2/images/${image.id}`, { token })).body).toMatchObject({ status: 'active', checksum: md5(data) });
  });
});
