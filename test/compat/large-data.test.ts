import { createHash, randomBytes } from 'node:crypto';
import { createReadStream, mkdtempSync, openSync, closeSync, rmSync, writeSync, ftruncateSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ListMultipartUploadsCommand, ListObjectsV2Command, ListPartsCommand, PutObjectCommand } from '@aws-sdk/client-s3';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { storeClient } from '../api/behind-the-api.js';
import { call, createImage, tokenFor, uniqueProject } from '../api/client.js';
import { MiB, settled, until } from '../api/data-helpers.js';
import { ok, parseDict, stockClients, UUID } from './cli.js';

/**
 * Images of real size through the stock clients and the local data front (issue #10): a 1 GiB
 * raw file uploaded by each client ends active with the file's hashes, and that image downloads
 * through both clients with their own checksum verification passing; a client killed in the
 * middle of a chunked upload leaves the image queued and no multipart upload open. Each 1 GiB
 * transfer runs once (CI time): one upload per client, both downloads of the same image.
 */
const GiB = 1024 * MiB;
const TRANSFER_MS = 300_000;
const { glance, openstack, openstackJson, spawnGlance } = stockClients({ commandTimeoutMs: TRANSFER_MS });
const RAW = ['--disk-format', 'raw', '--container-format', 'bare'];

interface Hashed {
  size: number;
  md5: string;
  sha512: string;
}

/** The file's size, MD5 and SHA-512, read once. */
async function hashFile(path: string): Promise<Hashed> {
  const md5 = createHash('md5');
  const sha512 = createHash('sha512');
  let size = 0;
  for await (const chunk of createReadStream(path, { highWaterMark: 4 * MiB }) as AsyncIterable<Buffer>) {
    md5.update(chunk);
    sha512.update(chunk);
    size += chunk.length;
  }
  return { size, md5: md5.digest('hex'), sha512: sha512.digest('hex') };
}

/**
 * A sparse 1 GiB file with 4 KiB of random bytes at the start of every MiB: cheap to make and to
 * store, yet a part lost, repeated or out of order anywhere changes its hashes.
 */
function sparseGiB(path: string): void {
  const fd = openSync(path, 'w');
  try {
    ftruncateSync(fd, GiB);
    for (let offset = 0; offset < GiB; offset += MiB) writeSync(fd, randomBytes(4096), 0, 4096, offset);
  } finally {
    closeSync(fd);
  }
}

async function openUploads(imageId: string) {
  const out = await storeClient().send(new ListMultipartUploadsCommand({ Bucket: inject('bucket'), Prefix: `images/${imageId}/` }));
  return out.Uploads ?? [];
}

async function storedKeys(imageId: string): Promise<string[]> {
  const out = await storeClient().send(new ListObjectsV2Command({ Bucket: inject('bucket'), Prefix: `images/${imageId}/` }));
  return (out.Contents ?? []).map((object) => object.Key ?? '');
}

describe('1 GiB through glance and openstack, and a client killed midway', () => {
  let dir: string;
  let bigPath: string;
  let big: Hashed;
  let token: string;
  /** The image glance uploaded, which both clients then download. */
  let glanceImage: string;

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'skyglass-gib-'));
    bigPath = join(dir, 'one-gib.raw');
    sparseGiB(bigPath);
    big = await hashFile(bigPath);
    token = await tokenFor(uniqueProject('gib'));
  });

  afterAll(() => {
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  const expectActive = (image: Record<string, any>) =>
    expect(image).toMatchObject({ status: 'active', size: big.size, virtual_size: big.size, checksum: big.md5, os_hash_algo: 'sha512', os_hash_value: big.sha512 });

  it('glance image-create --file with a 1 GiB raw file (sent chunked) ends active with its checksum and os_hash_value', async () => {
    const shown = parseDict(ok(await glance(token, 'image-create', '--name', 'compat-gib-glance', ...RAW, '--file', bigPath)).stdout);
    expect(shown).toMatchObject({ name: 'compat-gib-glance', status: 'active', size: String(big.size), checksum: big.md5, os_hash_algo: 'sha512' });
    expect(shown.os_hash_value?.replace(/\s/g, '')).toBe(big.sha512);
    expect(shown.id).toMatch(UUID);
    glanceImage = shown.id as string;
    expectActive(await settled(token, glanceImage));
    expect(await openUploads(glanceImage)).toEqual([]);
  }, TRANSFER_MS);

  it('openstack image create --file with the same 1 GiB file ends active with its checksum and os_hash_value', async () => {
    const created = await openstackJson(token, 'image', 'create', ...RAW, '--file', bigPath, 'compat-gib-osc');
    expect(created.id).toMatch(UUID);
    const shown = await openstackJson(token, 'image', 'show', created.id);
    expect(shown).toMatchObject({ status: 'active', size: big.size, checksum: big.md5, properties: { os_hash_algo: 'sha512', os_hash_value: big.sha512 } });
    expectActive(await settled(token, created.id));
    expect(await openUploads(created.id)).toEqual([]);
    // The second gibibyte is not needed again: the emulated store holds it in memory.
    expect((await call(`/v2/images/${created.id}`, { method: 'DELETE', token })).status).toBe(204);
  }, TRANSFER_MS);

  it('glance image-download --file of the 1 GiB image passes glanceclient\'s os_hash_value check and writes the same bytes', async () => {
    const out = join(dir, 'glance.out');
    const result = ok(await glance(token, 'image-download', '--file', out, glanceImage));
    expect(result.stdout.trim()).toBe('');
    expect(await hashFile(out)).toEqual(big);
    rmSync(out);
  }, TRANSFER_MS);

  it('openstack image save --file of the same image passes openstacksdk\'s checksum check and writes the same bytes', async () => {
    const out = join(dir, 'osc.out');
    const result = ok(await openstack(token, 'image', 'save', '--file', out, glanceImage));
    expect(result.stdout.trim()).toBe('');
    expect(await hashFile(out)).toEqual(big);
    rmSync(out);
    expect((await call(`/v2/images/${glanceImage}`, { method: 'DELETE', token })).status).toBe(204);
  }, TRANSFER_MS);

  it('both downloads check the bytes they get: stored bytes that no longer match the record make each client fail', async () => {
    // What makes the passing 1 GiB downloads above mean something: each client's own verification
    // is on in this path (a 302 to the store), and refuses bytes that differ from the image's hashes.
    const { id } = await createImage(token, { name: 'compat-tampered', disk_format: 'raw', container_format: 'bare' });
    const data = randomBytes(MiB);
    expect((await call(`/v2/images/${id}/file`, { method: 'PUT', token, body: data, headers: { 'Content-Type': 'application/octet-stream' } })).status).toBe(204);
    const [key] = await storedKeys(id);
    const tampered = Buffer.from(data);
    tampered.writeUInt8(tampered.readUInt8(0) ^ 0xff, 0);
    await storeClient().send(new PutObjectCommand({ Bucket: inject('bucket'), Key: key, Body: tampered }));

    const glanceResult = await glance(token, 'image-download', '--file', join(dir, 'tampered-glance.out'), id);
    expect(glanceResult.code, glanceResult.stderr).not.toBe(0);
    const sha512 = (bytes: Buffer) => createHash('sha512').update(bytes).digest('hex');
    expect(glanceResult.stderr).toContain(`Corrupt image download. Hash was ${sha512(tampered)} expected ${sha512(data)}`);
    const oscResult = await openstack(token, 'image', 'save', '--file', join(dir, 'tampered-osc.out'), id);
    expect(oscResult.code, oscResult.stderr).not.toBe(0);
    // openstacksdk's _verify_checksum raises InvalidResponse ("checksum mismatch"), which the CLI prints by class name.
    expect(oscResult.stderr).toContain('Unable to download image: InvalidResponse');
  });

  it('glance image-upload killed midway through a chunked upload leaves the image queued with the reason and no multipart upload open', async () => {
    const { id } = await createImage(token, { name: 'compat-killed', disk_format: 'raw', container_format: 'bare' });
    // Image data from a pipe: glanceclient sends it chunked, as much as the test writes.
    const client = spawnGlance(token, 'image-upload', id);
    let stderr = '';
    client.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    const exited = new Promise<NodeJS.Signals | number | null>((resolve) => client.on('exit', (code, signal) => resolve(signal ?? code)));
    client.stdin.on('error', () => undefined); // EPIPE once the client is gone
    for (let i = 0; i < 24; i++) client.stdin.write(randomBytes(MiB));

    // Midway: the image is saving and its multipart upload open with parts in the store.
    const upload = await until('a part of the upload in the store', async () => {
      const [open] = await openUploads(id);
      if (!open) return undefined;
      const parts = await storeClient().send(new ListPartsCommand({ Bucket: inject('bucket'), Key: open.Key, UploadId: open.UploadId }));
      return (parts.Parts ?? []).length > 0 ? open : undefined;
    }, 60_000);
    expect(upload.Key).toContain(`images/${id}/`);
    expect((await call(`/v2/images/${id}`, { token })).body.status).toBe('saving');

    client.kill('SIGKILL');
    expect(await exited, stderr).toBe('SIGKILL');

    const queued = await until('the image queued again', async () => {
      const shown = parseDict(ok(await glance(token, 'image-show', id)).stdout);
      return shown.status === 'queued' ? shown : undefined;
    }, 60_000);
    expect(queued).toMatchObject({ status: 'queued', size: 'None', checksum: 'None' });
    expect(queued.os_skyglass_failure).toMatch(/broke off/);
    expect(await openUploads(id)).toEqual([]);
    expect(await storedKeys(id)).toEqual([]);
  }, TRANSFER_MS);
});
