import { createHash, randomBytes } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { call, tokenFor, uniqueProject } from '../api/client.js';
import { MiB, settled, until } from '../api/data-helpers.js';
import { startSourceServer } from '../api/source-server.js';
import { parseTable, skyglass, workDir } from './cli.js';

const md5 = (b: Uint8Array) => createHash('md5').update(b).digest('hex');
const sha512 = (b: Uint8Array) => createHash('sha512').update(b).digest('hex');
const RAW = ['--disk-format', 'raw', '--container-format', 'bare'];
/** The names of the images a project owns (the runtime is shared with suites that publish public images). */
const names = async (token: string, project: string) => ((await call(`/v2/images?owner=${project}`, { token })).body.images as Array<{ name: string }>).map((i) => i.name);

function imageFile(name: string, bytes: number): { path: string; data: Buffer } {
  const data = randomBytes(bytes);
  const path = join(workDir(), name);
  writeFileSync(path, data);
  return { path, data };
}

describe('skyglass imports (glance-direct through staged parts)', () => {
  it('image-create-via-import --file stages the data in parts, imports it and ends active with its checksums', async () => {
    const token = await tokenFor(uniqueProject());
    const { path, data } = imageFile('via-import.raw', 9 * MiB + 7);
    const run = await skyglass(token, 'image-create-via-import', '--name', 'imported', ...RAW, '--file', path, '--parallel', '2', '--json');
    expect(run.code, run.stderr).toBe(0);
    const image = JSON.parse(run.stdout);
    expect(image).toMatchObject({ name: 'imported', status: 'active', size: data.length, checksum: md5(data), os_hash_value: sha512(data) });
    expect(run.stderr).toMatch(/upload [0-9a-f-]+: 2 parts of 8388608 bytes; if interrupted, run: skyglass image-stage --resume/);
    expect((await call(`/v2/images/${image.id}`, { token })).body).toMatchObject({ status: 'active', checksum: md5(data) });
  });

  it('image-stage leaves the image uploading; image-import --wait takes it to active; importing a queued image is refused', async () => {
    const token = await tokenFor(uniqueProject());
    const { path, data } = imageFile('staged.raw', 3 * MiB);
    const created = JSON.parse((await skyglass(token, 'image-create', '--name', 'staged', ...RAW, '--json')).stdout);

    const early = await skyglass(token, 'image-import', created.id);
    expect(early.code).toBe(1);
    expect(early.stderr).toBe("The 'glance-direct' import method can only be applied to an image in status 'uploading'\n");

    const staged = await skyglass(token, 'image-stage', created.id, '--file', path);
    expect(staged.code, staged.stderr).toBe(0);
    expect(parseTable(staged.stdout)).toMatchObject({ id: created.id, status: 'uploading', size: String(data.length) });

    const imported = await skyglass(token, 'image-import', created.id, '--import-method', 'glance-direct', '--wait');
    expect(imported.code, imported.stderr).toBe(0);
    expect(parseTable(imported.stdout)).toMatchObject({ status: 'active', checksum: md5(data), os_hash_value: sha512(data) });
  });

  it('image-create-via-import --import-method web-download --uri: the service fetches it and it ends active', async () => {
    const source = await startSourceServer();
    try {
      const data = randomBytes(3 * MiB + 5);
      source.serve('web.raw', data);
      const token = await tokenFor(uniqueProject());
      const run = await skyglass(token, 'image-create-via-import', '--name', 'web', ...RAW, '--import-method', 'web-download', '--uri', `${source.base}/file/web.raw`, '--json');
      expect(run.code, run.stderr).toBe(0);
      const image = JSON.parse(run.stdout);
      expect(await settled(token, image.id)).toMatchObject({ name: 'web', status: 'active', size: data.length, checksum: md5(data), os_hash_value: sha512(data) });
    } finally {
      await source.close();
    }
  });

  it('refuses methods the service does not list, as glance does, before creating anything; stores-info lists the stores', async () => {
    const project = uniqueProject();
    const token = await tokenFor(project);
    const remote = await skyglass(token, 'image-create-via-import', '--name', 'remote', ...RAW, '--import-method', 'glance-download');
    expect(remote.code).toBe(1);
    expect(remote.stderr).toBe("Import method 'glance-download' is not valid for this cloud. Valid values can be retrieved with import-info command.\n");
    const copy = await skyglass(token, 'image-create-via-import', '--name', 'copy', '--import-method', 'copy-image');
    expect(copy.code).toBe(1);
    expect(copy.stderr).toBe("Import method 'copy-image' cannot be used while creating the image.\n");
    const noFile = await skyglass(token, 'image-create-via-import', '--name', 'nofile', ...RAW, '--import-method', 'glance-direct');
    expect(noFile.code).toBe(2);
    expect(noFile.stderr).toBe('You must specify a --file for the glance-direct import method.\n');
    expect(await names(token, project)).toEqual([]);

    // Without an import method or data, a record is created (queued), as glance's.
    const record = await skyglass(token, 'image-create-via-import', '--name', 'record', '--json');
    expect(record.code, record.stderr).toBe(0);
    expect(JSON.parse(record.stdout)).toMatchObject({ name: 'record', status: 'queued' });

    // The local runtime has two stores (issue #15): listed as glance lists them, the default flagged.
    const stores = await skyglass(token, 'stores-info', '--json');
    expect(stores.code, stores.stderr).toBe(0);
    expect(JSON.parse(stores.stdout)).toEqual({ stores: [expect.objectContaining({ id: 'us', default: 'true' }), expect.objectContaining({ id: 'eu' })] });
    const table = await skyglass(token, 'stores-info');
    expect(table.stdout).toContain('"id": "eu"');
  });

  it('image-import --import-method copy-image --stores eu (an admin) copies an active image into eu; without stores it is refused before sending', async () => {
    const project = uniqueProject();
    const admin = await tokenFor(project, ['admin', 'member', 'reader']);
    const { path, data } = imageFile('copy.raw', 2 * MiB + 3);
    const created = JSON.parse((await skyglass(admin, 'image-create-via-import', '--name', 'copy', ...RAW, '--file', path, '--json')).stdout);
    expect(created).toMatchObject({ status: 'active', stores: 'us' });

    const bare = await skyglass(admin, 'image-import', created.id, '--import-method', 'copy-image');
    expect(bare.code).toBe(2);
    expect(bare.stderr).toBe("Provide either --stores or --all-stores for 'copy-image' import method.\n");
    const both = await skyglass(admin, 'image-import', created.id, '--import-method', 'copy-image', '--stores', 'eu', '--all-stores', 'true');
    expect(both.code).toBe(2);
    expect(both.stderr).toBe('Only one of --store, --stores and --all-stores can be provided\n');

    const unknown = await skyglass(admin, 'image-import', created.id, '--import-method', 'copy-image', '--stores', 'eu,nowhere');
    expect(unknown.code).toBe(1);
    expect(unknown.stderr).toBe("Store 'nowhere' is not valid for this cloud. Valid values can be retrieved with stores-info command.\n");

    const run = await skyglass(admin, 'image-import', created.id, '--import-method', 'copy-image', '--stores', 'eu', '--wait', '--json');
    expect(run.code, run.stderr).toBe(0);
    const image = await until('the copy into eu', async () => {
      const now = (await call(`/v2/images/${created.id}`, { token: admin })).body;
      return now.stores === 'eu,us' && now.os_glance_importing_to_stores === '' ? now : undefined;
    }, 60_000);
    expect(image).toMatchObject({ status: 'active', checksum: md5(data), os_glance_failed_import: '' });
    // Already in every store: --all-stores has nothing left to copy, and the service says so by doing nothing.
    const again = await skyglass(admin, 'image-import', created.id, '--import-method', 'copy-image', '--all-stores', 'true', '--allow-failure', 'false');
    expect(again.code, again.stderr).toBe(0);
  });
});
