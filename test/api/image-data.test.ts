import { execFileSync } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ListObjectsV2Command } from '@aws-sdk/client-s3';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { storeClient } from './behind-the-api.js';
import { call, createImage, tokenFor, uniqueProject } from './client.js';
import { download, MiB, putParts, settled, type PartUrl } from './data-helpers.js';
import { seedActive } from './seed.js';

const md5 = (b: Uint8Array) => createHash('md5').update(b).digest('hex');
const RAW = { disk_format: 'raw', container_format: 'bare' };
const OCTETS = { 'Content-Type': 'application/octet-stream' };

function putFile(token: string, id: string, body: Buffer, headers: Record<string, string> = {}) {
  return call(`/v2/images/${id}/file`, { method: 'PUT', token, body, headers: { ...OCTETS, ...headers } });
}

describe('Glance data paths for small bodies', () => {
  it('PUT /file makes the image active with Glance\'s hashes; a second upload is 409', async () => {
    const token = await tokenFor(uniqueProject());
    const image = await createImage(token, RAW);
    const data = randomBytes(300_000);
    const res = await putFile(token, image.id, data, { 'x-openstack-image-size': String(data.length) });
    expect(res.status).toBe(204);
    expect((await call(`/v2/images/${image.id}`, { token })).body).toMatchObject({
      status: 'active', size: data.length, virtual_size: data.length, checksum: md5(data),
      os_hash_algo: 'sha512', os_hash_value: createHash('sha512').update(data).digest('hex'),
    });
    const again = await putFile(token, image.id, data);
    expect(again.status).toBe(409);
    expect(again.body.message).toBe('Image status transition from active to saving is not allowed');
    expect((await download(token, image.id)).bytes).toEqual(data);
  });

  // Bodies over the API tier's limit stream through the local data front (streamed-data.test.ts);
  // the serverless stack's 413 for them is test/unit/gateway-responses.test.ts.
  it('refuses a mismatched x-openstack-image-size and missing formats', async () => {
    const token = await tokenFor(uniqueProject());
    const image = await createImage(token, RAW);
    expect((await putFile(token, image.id, randomBytes(10), { 'x-openstack-image-size': '11' })).status).toBe(400);
    const bare = await createImage(token, {});
    expect((await putFile(token, bare.id, randomBytes(10))).status).toBe(400);
    expect((await call(`/v2/images/${image.id}`, { token })).body.status).toBe('queued');
  });

  it('stages and imports with glance-direct', async () => {
    const token = await tokenFor(uniqueProject());
    const info = await call('/v2/info/import', { token });
    expect(info.body['import-methods'].value).toEqual(['glance-direct', 'web-download', 'copy-image']);
    const created = await call('/v2/images', { method: 'POST', token, json: RAW });
    expect(created.headers.get('openstack-image-import-methods')).toBe('glance-direct,web-download,copy-image');
    const image = created.body;
    expect((await call(`/v2/images/${image.id}/import`, { method: 'POST', token, json: { method: { name: 'glance-direct' } } })).status).toBe(409);
    const data = randomBytes(5000);
    expect((await call(`/v2/images/${image.id}/stage`, { method: 'PUT', token, body: data, headers: OCTETS })).status).toBe(204);
    const staged = (await call(`/v2/images/${image.id}`, { token })).body;
    expect(staged).toMatchObject({ status: 'uploading', size: data.length, checksum: null });
    expect((await call(`/v2/images/${image.id}/stage`, { method: 'PUT', token, body: data, headers: OCTETS })).status).toBe(409);
    for (const body of [{}, { method: { name: 'web-download' } }, { method: 'glance-direct' }]) {
      expect((await call(`/v2/images/${image.id}/import`, { method: 'POST', token, json: body })).status, JSON.stringify(body)).toBe(400);
    }
    const imported = await call(`/v2/images/${image.id}/import`, { method: 'POST', token, json: { method: { name: 'glance-direct' } } });
    expect(imported.status).toBe(202);
    expect(imported.text).toBe('');
    expect(await settled(token, image.id)).toMatchObject({ status: 'active', checksum: md5(data) });
  });
});

/** Every byte value, 16 times: what a UTF-8 decoding would turn into 8,192 bytes of something else. */
const ALL_BYTES = Buffer.from(Array.from({ length: 4096 }, (_, i) => i % 256));

async function storedKeys(imageId: string): Promise<string[]> {
  const out = await storeClient().send(new ListObjectsV2Command({ Bucket: inject('bucket'), Prefix: `images/${imageId}/` }));
  return (out.Contents ?? []).map((o) => o.Key ?? '');
}

describe('image data through the API is taken byte for byte, and only as application/octet-stream', () => {
  it.each([
    ['text/plain', { 'Content-Type': 'text/plain' }],
    ['application/json', { 'Content-Type': 'application/json' }],
    ['a form', { 'Content-Type': 'application/x-www-form-urlencoded' }],
    ['no Content-Type at all', {}],
  ])('PUT /file and PUT /stage with %s: 415 as Glance answers, and nothing written', async (_what, headers: Record<string, string>) => {
    const token = await tokenFor(uniqueProject());
    for (const route of ['file', 'stage']) {
      const image = await createImage(token, RAW);
      const res = await call(`/v2/images/${image.id}/${route}`, { method: 'PUT', token, body: ALL_BYTES, headers });
      expect(res.status, route).toBe(415);
      expect(res.body).toMatchObject({ code: '415 Unsupported Media Type', title: 'Unsupported Media Type' });
      expect(res.body.message).toContain('application/octet-stream');
      expect((await call(`/v2/images/${image.id}`, { token })).body).toMatchObject({ status: 'queued', size: null, checksum: null });
      expect(await storedKeys(image.id)).toEqual([]);
    }
  });

  it('keeps all 256 byte values through PUT /file and through PUT /stage + import: size, checksum and download are of the bytes sent', async () => {
    const token = await tokenFor(uniqueProject());
    const direct = await createImage(token, RAW);
    // Media types are case-insensitive and may carry parameters (RFC 9110 §8.3.1).
    expect((await putFile(token, direct.id, ALL_BYTES, { 'Content-Type': 'Application/Octet-Stream; charset=binary' })).status).toBe(204);
    expect((await call(`/v2/images/${direct.id}`, { token })).body).toMatchObject({ status: 'active', size: 4096, checksum: md5(ALL_BYTES) });
    expect((await download(token, direct.id)).bytes).toEqual(ALL_BYTES);

    const staged = await createImage(token, RAW);
    expect((await call(`/v2/images/${staged.id}/stage`, { method: 'PUT', token, body: ALL_BYTES, headers: OCTETS })).status).toBe(204);
    expect((await call(`/v2/images/${staged.id}`, { token })).body).toMatchObject({ status: 'uploading', size: 4096 });
    expect((await call(`/v2/images/${staged.id}/import`, { method: 'POST', token, json: { method: { name: 'glance-direct' } } })).status).toBe(202);
    expect(await settled(token, staged.id)).toMatchObject({ status: 'active', size: 4096, checksum: md5(ALL_BYTES) });
    expect((await download(token, staged.id)).bytes).toEqual(ALL_BYTES);
  });
});

describe('part URLs bind their part\'s length', () => {
  it('a session for 16 bytes: its part URL refuses 6 MiB and 15 bytes at the store (nothing kept), takes the 16 from curl -T', async () => {
    const token = await tokenFor(uniqueProject());
    const image = await createImage(token, RAW);
    const data = randomBytes(16);
    const session = await call(`/v2/images/${image.id}/uploads`, { method: 'POST', token, json: { size: 16 } });
    expect(session.status).toBe(201);
    const [part] = session.body.parts;
    expect(part).toMatchObject({ part_number: 1, offset: 0, length: 16 });
    for (const size of [6 * MiB, 15]) {
      const refused = await fetch(part.url, { method: 'PUT', body: randomBytes(size) });
      expect(refused.status, `${size} bytes`).toBe(403);
      expect(await refused.text()).toContain('<Code>SignatureDoesNotMatch</Code>');
    }
    expect((await call(`/v2/images/${image.id}/uploads/${session.body.upload_id}`, { token })).body.parts_done).toEqual([]);

    // The README's shell client: curl -T sends the file with its Content-Length.
    const dir = mkdtempSync(join(tmpdir(), 'skyglass-part-'));
    try {
      writeFileSync(join(dir, 'part.00000'), data);
      const status = execFileSync('curl', ['-s', '-T', join(dir, 'part.00000'), part.url, '-o', '/dev/null', '-w', '%{http_code}']).toString();
      expect(status).toBe('200');
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
    expect((await call(`/v2/images/${image.id}/uploads/${session.body.upload_id}/complete`, { method: 'POST', token })).status).toBe(202);
    expect(await settled(token, image.id)).toMatchObject({ status: 'active', size: 16, checksum: md5(data) });
  });

  it('every part URL, and the fresh ones a resume gives, takes exactly its part\'s length (the last part is shorter)', async () => {
    const token = await tokenFor(uniqueProject());
    const image = await createImage(token, RAW);
    const data = randomBytes(12 * MiB);
    const session = await call(`/v2/images/${image.id}/uploads`, { method: 'POST', token, json: { size: data.length, part_size: 5 * MiB } });
    const parts: PartUrl[] = session.body.parts;
    expect(parts.map((p) => p.length)).toEqual([5 * MiB, 5 * MiB, 2 * MiB]);
    expect((await fetch(parts[2]!.url, { method: 'PUT', body: data.subarray(0, 5 * MiB) })).status).toBe(403);
    await putParts(data, parts.slice(0, 1));
    const resumed = await call(`/v2/images/${image.id}/uploads/${session.body.upload_id}`, { token });
    const fresh: PartUrl[] = resumed.body.parts;
    expect(fresh.map((p) => [p.part_number, p.length])).toEqual([[2, 5 * MiB], [3, 2 * MiB]]);
    expect((await fetch(fresh[0]!.url, { method: 'PUT', body: data.subarray(0, 2 * MiB) })).status).toBe(403);
    await putParts(data, fresh);
    expect((await call(`/v2/images/${image.id}/uploads/${session.body.upload_id}/complete`, { method: 'POST', token })).status).toBe(202);
    expect(await settled(token, image.id)).toMatchObject({ status: 'active', size: data.length, checksum: md5(data) });
  });
});

describe('download rules', () => {
  it('204 without data, 403 for a non-admin on a deactivated image, 404 across projects', async () => {
    const project = uniqueProject();
    const token = await tokenFor(project);
    const admin = await tokenFor(project, ['admin']);
    const image = await createImage(token, RAW);
    const empty = await call(`/v2/images/${image.id}/file`, { token });
    expect(empty.status).toBe(204);
    expect(empty.text).toBe('');
    await putFile(token, image.id, randomBytes(100));
    expect((await call(`/v2/images/${image.id}/file`, { token: await tokenFor(uniqueProject()) })).status).toBe(404);
    await call(`/v2/images/${image.id}/actions/deactivate`, { method: 'POST', token: admin });
    const refused = await call(`/v2/images/${image.id}/file`, { token });
    expect(refused.status).toBe(403);
    expect(refused.body.message).toBe('The requested image has been deactivated. Image data download is forbidden.');
    expect((await call(`/v2/images/${image.id}/file`, { token: admin })).status).toBe(302);
  });

  it('a seeded active image without bytes answers 204, never a broken redirect', async () => {
    const token = await tokenFor(uniqueProject());
    const image = await createImage(token, RAW);
    await seedActive(image.id);
    expect((await call(`/v2/images/${image.id}/file`, { token })).status).toBe(204);
  });
});

describe('format inspection on upload', () => {
  let dir: string;
  const img = (name: string) => readFileSync(join(dir, name));
  const qemuImg = (...args: string[]) => execFileSync('qemu-img', args, { cwd: dir, stdio: 'pipe' });

  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), 'skyglass-formats-'));
    try {
      qemuImg('--version');
    } catch {
      throw new Error('qemu-img is missing: apt-get install -y qemu-utils (CI installs it)');
    }
    qemuImg('create', '-f', 'qcow2', 'good.qcow2', '64M');
    qemuImg('create', '-f', 'qcow2', 'base.qcow2', '64M');
    qemuImg('create', '-f', 'qcow2', '-b', 'base.qcow2', '-F', 'qcow2', 'backed.qcow2');
    qemuImg('create', '-f', 'qcow2', '-o', 'data_file=data.raw', 'external.qcow2', '64M');
    qemuImg('create', '-f', 'vmdk', '-o', 'subformat=monolithicFlat', 'flat.vmdk', '16M');
    qemuImg('create', '-f', 'qed', '-b', '/etc/shadow', '-F', 'raw', 'shadow.qed');
    // LUKS data (cryptsetup, Debian package cryptsetup-bin), as an encrypted volume exported raw would be.
    execFileSync('truncate', ['-s', '3M', join(dir, 'luks1.img')]);
    execFileSync('cryptsetup', ['luksFormat', '--batch-mode', '--type', 'luks1', '--pbkdf-force-iterations', '1000', '--key-file', '-', join(dir, 'luks1.img')], {
      input: 'not-a-secret',
      stdio: ['pipe', 'ignore', 'pipe'],
    });
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  async function upload(diskFormat: string, data: Buffer) {
    const token = await tokenFor(uniqueProject());
    const image = await createImage(token, { disk_format: diskFormat, container_format: 'bare' });
    const res = await putFile(token, image.id, data);
    const shown = (await call(`/v2/images/${image.id}`, { token })).body;
    return { res, shown };
  }

  it('accepts a real qcow2 and records its virtual size', async () => {
    const { res, shown } = await upload('qcow2', img('good.qcow2'));
    expect(res.status).toBe(204);
    expect(shown).toMatchObject({ status: 'active', virtual_size: 64 * 1024 * 1024 });
  });

  it.each([
    ['a qcow2 with a backing file', 'qcow2', 'backed.qcow2', /backing/i],
    ['a qcow2 with an external data file', 'qcow2', 'external.qcow2', /data file/i],
    ['a VMDK descriptor (monolithicFlat)', 'vmdk', 'flat.vmdk', /createType|monolithicFlat|descriptor/i],
    ['a qcow2 labelled raw', 'raw', 'good.qcow2', /qcow2/i],
  ])('refuses %s: 400, data gone, reason on the image', async (_what, diskFormat, file, reason) => {
    const { res, shown } = await upload(diskFormat, img(file));
    expect(res.status).toBe(400);
    expect(res.body.message).toMatch(reason);
    expect(shown).toMatchObject({ status: 'queued', size: null, checksum: null });
    expect(shown.os_skyglass_failure).toMatch(reason);
  });

  /** Sends `data` as a raw image by one of the three ways data arrives; the image as it ends up. */
  async function sendAsRaw(path: 'PUT /file' | 'uploads' | 'stage + import', data: Buffer) {
    const token = await tokenFor(uniqueProject());
    const image = await createImage(token, RAW);
    if (path === 'PUT /file') {
      const res = await putFile(token, image.id, data);
      expect(res.status).toBe(400);
    } else if (path === 'uploads') {
      const session = await call(`/v2/images/${image.id}/uploads`, { method: 'POST', token, json: { size: data.length } });
      await putParts(data, session.body.parts);
      expect((await call(`/v2/images/${image.id}/uploads/${session.body.upload_id}/complete`, { method: 'POST', token })).status).toBe(202);
    } else {
      expect((await call(`/v2/images/${image.id}/stage`, { method: 'PUT', token, body: data, headers: OCTETS })).status).toBe(204);
      expect((await call(`/v2/images/${image.id}/import`, { method: 'POST', token, json: { method: { name: 'glance-direct' } } })).status).toBe(202);
    }
    return { image: await settled(token, image.id), keys: await storedKeys(image.id) };
  }

  const unsafe: Array<[string, string, RegExp]> = [
    ['a QED image backed by /etc/shadow', 'shadow.qed', /safety checks: QED images are not allowed/],
    ['LUKS data', 'luks1.img', /disk_format raw does not match the uploaded data, which is luks/],
  ];
  it.each(unsafe.flatMap(([what, name, reason]) => (['PUT /file', 'uploads', 'stage + import'] as const).map((path) => [what, path, name, reason] as const)))(
    'refuses %s declared raw through %s: queued with the reason, bytes gone',
    async (_what, path, name, reason) => {
      const { image, keys } = await sendAsRaw(path, img(name));
      expect(image).toMatchObject({ status: 'queued', size: null, checksum: null });
      expect(image.os_skyglass_failure).toMatch(reason);
      expect(keys).toEqual([]);
    },
  );

  it('refuses garbage claiming to be qcow2 and a truncated qcow2 header', async () => {
    const garbage = await upload('qcow2', randomBytes(4096));
    expect(garbage.res.status).toBe(400);
    expect(garbage.shown.status).toBe('queued');
    const truncated = await upload('qcow2', img('good.qcow2').subarray(0, 40));
    expect(truncated.res.status).toBe(400);
    expect(truncated.shown.os_skyglass_failure).toMatch(/truncated/i);
  });
});
