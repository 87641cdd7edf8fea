import { execFileSync } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { call, createImage, tokenFor, uniqueProject } from '../api/client.js';
import { MiB, settled } from '../api/data-helpers.js';
import { ok, parseDict, stockClients, UUID } from './cli.js';

/**
 * The stock clients moving real bytes: uploads through the API tier (PUT /file), staging and
 * glance-direct import, and downloads, which Skyglass answers with a 302 to a presigned URL on
 * the store that both clients follow. Checked on what a user sees: exit codes, the files they
 * get back, and the image going active with Glance's checksums.
 */
const { dir, glance, glanceBinary, openstack, openstackJson } = stockClients();

const md5 = (data: Uint8Array) => createHash('md5').update(data).digest('hex');
const sha512 = (data: Uint8Array) => createHash('sha512').update(data).digest('hex');
const RAW = ['--disk-format', 'raw', '--container-format', 'bare'];
const QCOW2 = ['--disk-format', 'qcow2', '--container-format', 'bare'];

/** About 1 MiB of random bytes in a file under the private directory. */
function imageFile(name: string, size = 1024 * 1024): { path: string; data: Buffer } {
  const data = randomBytes(size);
  const path = join(dir(), name);
  writeFileSync(path, data);
  return { path, data };
}

/** The disk qemu-img's qcow2 of a 40 MiB disk holds, in bytes: what virtual_size must say. */
const QCOW2_DISK_SIZE = 40 * MiB;
let qcow2: { path: string; data: Buffer } | undefined;

/**
 * A real qcow2 of about 40 MB, made once per run with qemu-img from a disk of random data (so
 * it is not all header), as the classic install guides' cirros image is a qcow2.
 */
function qcow2File(): { path: string; data: Buffer } {
  if (!qcow2) {
    const disk = imageFile('disk-40m.raw', QCOW2_DISK_SIZE);
    const path = join(dir(), 'disk-40m.qcow2');
    execFileSync('qemu-img', ['convert', '-q', '-f', 'raw', '-O', 'qcow2', disk.path, path]);
    qcow2 = { path, data: readFileSync(path) };
  }
  return qcow2;
}

/** The image as the API shows it, expected active with the file's size and hashes. */
async function expectActiveWith(token: string, id: string, data: Buffer, virtualSize = data.length) {
  const image = await settled(token, id);
  expect(image).toMatchObject({
    status: 'active',
    size: data.length,
    virtual_size: virtualSize,
    checksum: md5(data),
    os_hash_algo: 'sha512',
    os_hash_value: sha512(data),
  });
}

/** `glance image-download --file`, and the bytes it wrote. */
async function glanceDownload(token: string, id: string, name: string): Promise<Buffer> {
  const out = join(dir(), name);
  const result = ok(await glance(token, 'image-download', '--file', out, id));
  expect(result.stdout.trim()).toBe('');
  return readFileSync(out);
}

describe('glance (python3-glanceclient) with image data', () => {
  let token: string;

  beforeAll(async () => {
    token = await tokenFor(uniqueProject('glance-data'));
  });

  describe('image-create --file, then image-download', () => {
    let file: { path: string; data: Buffer };
    let id: string;

    it('image-create --file uploads the file and shows the image active with its checksum', async () => {
      file = imageFile('create.raw');
      const shown = parseDict(ok(await glance(token, 'image-create', '--name', 'compat-data-create', ...RAW, '--file', file.path)).stdout);
      expect(shown).toMatchObject({
        name: 'compat-data-create',
        status: 'active',
        size: String(file.data.length),
        virtual_size: String(file.data.length),
        checksum: md5(file.data),
        os_hash_algo: 'sha512',
      });
      // print_dict wraps the 128-digit hash over two rows.
      expect(shown.os_hash_value?.replace(/\s/g, '')).toBe(sha512(file.data));
      expect(shown.id).toMatch(UUID);
      id = shown.id as string;
      await expectActiveWith(token, id, file.data);
    });

    it('image-download --file follows the redirect to the store and writes the same bytes', async () => {
      // The API tier only redirects; the client fetches the bytes from the store itself
      // (and checks them against os_hash_value from the image record).
      expect((await call(`/v2/images/${id}/file`, { token })).status).toBe(302);
      const bytes = await glanceDownload(token, id, 'create.out');
      expect(bytes.length).toBe(file.data.length);
      expect(md5(bytes)).toBe(md5(file.data));
      expect(bytes.equals(file.data)).toBe(true);
    });

    it('image-download without --file writes the bytes to a piped stdout', async () => {
      const result = ok(await glanceBinary(token, 'image-download', id));
      expect(md5(result.stdout)).toBe(md5(file.data));
      expect(result.stdout.equals(file.data)).toBe(true);
    });
  });

  it('image-upload puts a file onto a queued image, which becomes active', async () => {
    const file = imageFile('upload.raw');
    const { id } = await createImage(token, { name: 'compat-data-upload', disk_format: 'raw', container_format: 'bare' });
    const result = ok(await glance(token, 'image-upload', '--file', file.path, id));
    expect(result.stdout.trim()).toBe('');
    await expectActiveWith(token, id, file.data);
    expect((await glanceDownload(token, id, 'upload.out')).equals(file.data)).toBe(true);
  });

  it('image-download of an image without data says so (the API answers 204)', async () => {
    const { id } = await createImage(token, { name: 'compat-data-empty', disk_format: 'raw', container_format: 'bare' });
    const result = await glance(token, 'image-download', '--file', join(dir(), 'empty.out'), id);
    expect(result.code).toBe(1);
    expect(result.stderr).toContain(`Image ${id} has no data.`);
  });

  it('image-stage, then image-import --import-method glance-direct, ends active', async () => {
    const file = imageFile('stage.raw');
    const { id } = await createImage(token, { name: 'compat-data-stage', disk_format: 'raw', container_format: 'bare' });
    ok(await glance(token, 'image-stage', '--file', file.path, id));
    expect(parseDict(ok(await glance(token, 'image-show', id)).stdout)).toMatchObject({
      status: 'uploading',
      size: String(file.data.length),
      checksum: 'None',
    });
    const imported = parseDict(ok(await glance(token, 'image-import', '--import-method', 'glance-direct', id)).stdout);
    expect(imported.id).toBe(id);
    expect(['importing', 'active']).toContain(imported.status);
    await expectActiveWith(token, id, file.data);
    expect((await glanceDownload(token, id, 'stage.out')).equals(file.data)).toBe(true);
  });

  // Staged through the data front: 40 MB is over the API tier's limit for PUT /stage too.
  it('image-create-via-import --file with a 40 MB file (stdin closed) stages, imports with glance-direct and ends active', async () => {
    const file = imageFile('via-import.raw', 40_000_000);
    const shown = parseDict(
      ok(await glance(token, 'image-create-via-import', '--name', 'compat-data-via-import', ...RAW, '--file', file.path)).stdout,
    );
    expect(shown).toMatchObject({ name: 'compat-data-via-import', size: String(file.data.length) });
    expect(['importing', 'active']).toContain(shown.status);
    const id = shown.id as string;
    expect(id).toMatch(UUID);
    await expectActiveWith(token, id, file.data);
    expect((await glanceDownload(token, id, 'via-import.out')).equals(file.data)).toBe(true);
  });

  // As Glance: any size through PUT /file. glanceclient sends the file chunked, so the local
  // runtime's data front streams it (shared/http/data-front.ts); the deployed stack without a
  // data front still stops at the API tier's limit (test/unit/gateway-responses.test.ts).
  it('image-create --file with a real 40 MB qcow2 (over the API tier\'s limit) ends active with its hashes and virtual size', async () => {
    const file = qcow2File();
    const shown = parseDict(ok(await glance(token, 'image-create', '--name', 'compat-data-big', ...QCOW2, '--file', file.path)).stdout);
    expect(shown).toMatchObject({
      name: 'compat-data-big',
      status: 'active',
      disk_format: 'qcow2',
      size: String(file.data.length),
      virtual_size: String(QCOW2_DISK_SIZE),
      checksum: md5(file.data),
    });
    expect(shown.os_hash_value?.replace(/\s/g, '')).toBe(sha512(file.data));
    await expectActiveWith(token, shown.id as string, file.data, QCOW2_DISK_SIZE);
  });
});

describe('openstack image (python3-openstackclient) with image data', () => {
  let token: string;

  beforeAll(async () => {
    token = await tokenFor(uniqueProject('osc-data'));
  });

  describe('image create --file, then image save', () => {
    let file: { path: string; data: Buffer };
    let id: string;

    it('image create --file uploads the file; image show shows it active with its checksum', async () => {
      file = imageFile('osc-create.raw');
      // The SDK prints the record it created before the upload, as against Glance: still queued.
      const created = await openstackJson(token, 'image', 'create', ...RAW, '--file', file.path, 'compat-data-osc');
      expect(created).toMatchObject({ name: 'compat-data-osc', disk_format: 'raw', container_format: 'bare' });
      expect(created.id).toMatch(UUID);
      id = created.id;
      const shown = await openstackJson(token, 'image', 'show', id);
      expect(shown).toMatchObject({
        id,
        status: 'active',
        size: file.data.length,
        checksum: md5(file.data),
        properties: { os_hash_algo: 'sha512', os_hash_value: sha512(file.data) },
      });
      await expectActiveWith(token, id, file.data);
    });

    it('image save --file follows the redirect to the store and writes the same bytes', async () => {
      const out = join(dir(), 'osc-create.out');
      const result = ok(await openstack(token, 'image', 'save', '--file', out, id));
      expect(result.stdout.trim()).toBe('');
      const bytes = readFileSync(out);
      expect(md5(bytes)).toBe(md5(file.data));
      expect(bytes.equals(file.data)).toBe(true);
    });
  });

  it('image create --import --file stages and imports with glance-direct; image save gets the bytes back', async () => {
    const file = imageFile('osc-import.raw');
    const created = await openstackJson(token, 'image', 'create', ...RAW, '--import', '--file', file.path, 'compat-data-osc-import');
    expect(created.id).toMatch(UUID);
    await expectActiveWith(token, created.id, file.data);
    const out = join(dir(), 'osc-import.out');
    ok(await openstack(token, 'image', 'save', '--file', out, created.id));
    expect(readFileSync(out).equals(file.data)).toBe(true);
  });

  it('image create --file with a real 40 MB qcow2 (over the API tier\'s limit) ends active with its hashes and virtual size, through the data front', async () => {
    const file = qcow2File();
    const created = await openstackJson(token, 'image', 'create', ...QCOW2, '--file', file.path, 'compat-data-osc-big');
    expect(created.id).toMatch(UUID);
    const shown = await openstackJson(token, 'image', 'show', created.id);
    expect(shown).toMatchObject({
      status: 'active',
      disk_format: 'qcow2',
      size: file.data.length,
      virtual_size: QCOW2_DISK_SIZE,
      checksum: md5(file.data),
      properties: { os_hash_value: sha512(file.data) },
    });
    await expectActiveWith(token, created.id, file.data, QCOW2_DISK_SIZE);
  });
});
