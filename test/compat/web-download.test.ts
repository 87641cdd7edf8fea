import { createHash, randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { tokenFor, uniqueProject } from '../api/client.js';
import { MiB, settled } from '../api/data-helpers.js';
import { startSourceServer, type SourceServer } from '../api/source-server.js';
import { ok, parseDict, stockClients, UUID } from './cli.js';

/** Stock glanceclient's web-download import against a local HTTP server on 127.0.0.1. */
const { glance } = stockClients();
const md5 = (data: Uint8Array) => createHash('md5').update(data).digest('hex');
const sha512 = (data: Uint8Array) => createHash('sha512').update(data).digest('hex');

describe('glance image-create-via-import --import-method web-download', () => {
  let source: SourceServer;
  let token: string;
  const data = randomBytes(2 * MiB + 777);

  beforeAll(async () => {
    source = await startSourceServer();
    source.serve('disk.raw', data);
    token = await tokenFor(uniqueProject('glance-webdl'));
  });
  afterAll(async () => {
    await source?.close();
  });

  it('creates the image, imports the URL and it ends active with the bytes\' size and hashes', async () => {
    const shown = parseDict(
      ok(await glance(token, 'image-create-via-import', '--name', 'compat-web-download', '--disk-format', 'raw', '--container-format', 'bare',
        '--import-method', 'web-download', '--uri', `${source.base}/file/disk.raw`)).stdout,
    );
    expect(shown.id).toMatch(UUID);
    expect(['queued', 'importing', 'active']).toContain(shown.status);
    expect(await settled(token, shown.id as string)).toMatchObject({
      status: 'active', size: data.length, checksum: md5(data), os_hash_algo: 'sha512', os_hash_value: sha512(data),
    });
    expect(source.requests.get('/file/disk.raw')).toBe(1);
  });
});
