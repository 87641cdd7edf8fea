import { createHash, randomBytes } from 'node:crypto';
import { readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { call, createImage, tokenFor, uniqueProject } from '../api/client.js';
import { MiB } from '../api/data-helpers.js';
import { injectFault } from '../api/faults.js';
import { finished, parseTable, skyglass, start, stderrLine, workDir } from './cli.js';

const md5 = (b: Uint8Array) => createHash('md5').update(b).digest('hex');
const sha512 = (b: Uint8Array) => createHash('sha512').update(b).digest('hex');
const RAW = { disk_format: 'raw', container_format: 'bare' };

function imageFile(name: string, bytes: number): { path: string; data: Buffer } {
  const data = randomBytes(bytes);
  const path = join(workDir(), name);
  writeFileSync(path, data);
  return { path, data };
}

const imageStatus = async (token: string, id: string) => {
  const image = (await call(`/v2/images/${id}`, { token })).body;
  return image.status as string;
};

describe('skyglass uploads (the uploads extension)', () => {
  it('image-create --file uploads in parallel parts and ends with the active image and its checksums', async () => {
    const token = await tokenFor(uniqueProject());
    const { path, data } = imageFile('create.raw', 20 * MiB + 123);
    const run = await skyglass(token, 'image-create', '--name', 'cirros', '--disk-format', 'raw', '--container-format', 'bare', '--file', path, '--parallel', '3', '--progress');
    expect(run.code, run.stderr).toBe(0);
    const shown = parseTable(run.stdout);
    expect(shown).toMatchObject({ name: 'cirros', status: 'active', size: String(data.length), checksum: md5(data), os_hash_algo: 'sha512', os_hash_value: sha512(data) });
    // Not a terminal: no progress bar, only the lines that say what happened.
    expect(run.stderr).not.toContain('\r');
    expect(run.stderr).toMatch(/upload [0-9a-f-]+: 3 parts of 8388608 bytes/);
    expect((await call(`/v2/images/${shown.id}`, { token })).body).toMatchObject({ status: 'active', checksum: md5(data) });
  });

  it('an upload whose process was killed resumes when run again, sending only the missing parts', async () => {
    const token = await tokenFor(uniqueProject());
    const image = await createImage(token, RAW);
    const { path, data } = imageFile('killed.raw', 48 * MiB);
    const first = start(token, ['image-upload', image.id, '--file', path, '--parallel', '1', '--debug']);
    const ended = finished(first);
    await stderrLine(first, /^debug: part 1 stored/);
    first.kill('SIGKILL');
    expect((await ended).signal).toBe('SIGKILL');
    expect(await imageStatus(token, image.id)).toBe('saving');

    const again = await skyglass(token, 'image-upload', image.id, '--file', path, '--debug');
    expect(again.code, again.stderr).toBe(0);
    const resumed = /resuming upload [0-9a-f-]+: (\d+) of 6 parts already stored/.exec(again.stderr);
    expect(resumed, again.stderr).not.toBeNull();
    const already = Number(resumed![1]);
    expect(already).toBeGreaterThanOrEqual(1);
    expect(already).toBeLessThan(6);
    // Only the missing parts went again.
    expect(again.stderr.match(/^debug: part \d+ stored/gm)).toHaveLength(6 - already);
    // Then, in order, the complete of all six parts and the wait for verification (the bench times these phases).
    const steps = again.stderr.split('\n').filter((line) => line.startsWith('debug: '));
    expect(steps.slice(-2)).toEqual(['debug: every part stored (6); completing', 'debug: complete accepted; waiting for verification']);
    expect(parseTable(again.stdout)).toMatchObject({ status: 'active', checksum: md5(data), os_hash_value: sha512(data), size: String(data.length) });
    // The state file is gone once the upload completed.
    expect(readdirSync(join(workDir(), 'state')).filter((f) => f.endsWith('.json'))).toEqual([]);
  });

  it('Ctrl-C mid-upload exits 130 saying how to resume; image-upload --resume finishes it', async () => {
    const token = await tokenFor(uniqueProject());
    const image = await createImage(token, RAW);
    const { path, data } = imageFile('interrupted.raw', 48 * MiB);
    const first = start(token, ['image-upload', image.id, '--file', path, '--parallel', '1', '--debug']);
    const ended = finished(first);
    await stderrLine(first, /^debug: part 1 stored/);
    first.kill('SIGINT');
    const interrupted = await ended;
    expect(interrupted.code, interrupted.stderr).toBe(130);
    expect(interrupted.stderr).toMatch(/Interrupted: \d of 6 parts stored\. Resume with: skyglass image-upload --resume --file .*interrupted\.raw /);

    const resumed = await skyglass(token, 'image-upload', '--resume', image.id, '--file', path);
    expect(resumed.code, resumed.stderr).toBe(0);
    expect(parseTable(resumed.stdout)).toMatchObject({ status: 'active', checksum: md5(data), os_hash_value: sha512(data) });
    // Nothing left to resume.
    const nothing = await skyglass(token, 'image-upload', '--resume', image.id, '--file', path);
    expect(nothing.code).toBe(2);
    expect(nothing.stderr).toContain('Nothing to resume');
  });

  it('a complete that fails on the service side (a 5xx: S3 failed, or the gateway timed out) is tried again, and the upload ends active', async () => {
    const token = await tokenFor(uniqueProject());
    const image = await createImage(token, RAW);
    const { path, data } = imageFile('complete-retried.raw', 6 * MiB);
    injectFault({ command: 'CompleteMultipartUpload', key: `images/${image.id}/`, times: 1, error: 'InternalError' });
    const run = await skyglass(token, 'image-upload', image.id, '--file', path, '--debug');
    expect(run.code, run.stderr).toBe(0);
    expect(run.stderr).toMatch(/complete try 1 failed \(HTTP 503 Service Unavailable: The object store did not complete/);
    expect(parseTable(run.stdout)).toMatchObject({ status: 'active', checksum: md5(data) });
  });
});
