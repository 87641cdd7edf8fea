import { createHash, randomBytes } from 'node:crypto';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { PutObjectCommand } from '@aws-sdk/client-s3';
import { describe, expect, inject, it } from 'vitest';
import { imageTable, storeClient } from '../api/behind-the-api.js';
import { call, createImage, tokenFor, uniqueProject } from '../api/client.js';
import { MiB, putParts, settled } from '../api/data-helpers.js';
import { finished, parseTable, skyglass, start, startPiped, stderrLine, workDir } from './cli.js';

const md5 = (b: Uint8Array) => createHash('md5').update(b).digest('hex');
const sha512 = (b: Uint8Array) => createHash('sha512').update(b).digest('hex');

/** An active image of `bytes` random bytes, uploaded through the API (not the CLI under test). */
async function activeImage(token: string, bytes: number) {
  const image = await createImage(token, { disk_format: 'raw', container_format: 'bare' });
  const data = randomBytes(bytes);
  const session = await call(`/v2/images/${image.id}/uploads`, { method: 'POST', token, json: { size: data.length } });
  const parts = await putParts(data, session.body.parts);
  expect((await call(`/v2/images/${image.id}/uploads/${session.body.upload_id}/complete`, { method: 'POST', token, json: { parts } })).status).toBe(202);
  expect(await settled(token, image.id)).toMatchObject({ status: 'active' });
  return { id: image.id as string, data };
}

const leftovers = (name: string) => readdirSync(workDir()).filter((f) => f.startsWith(name));

describe('skyglass image-download', () => {
  it('downloads into --file and verifies the checksums, printing them (--json for scripts)', async () => {
    const token = await tokenFor(uniqueProject());
    const { id, data } = await activeImage(token, 9 * MiB + 5);
    const run = await skyglass(token, 'image-download', id, '--file', 'whole.raw', '--json');
    expect(run.code, run.stderr).toBe(0);
    expect(JSON.parse(run.stdout)).toMatchObject({ id, checksum: md5(data), os_hash_value: sha512(data), size: data.length });
    expect(sha512(readFileSync(join(workDir(), 'whole.raw')))).toBe(sha512(data));
    expect(leftovers('whole.raw')).toEqual(['whole.raw']);
    // Without --file, to a pipe: the bytes on stdout.
    const piped = start(token, ['image-download', id]);
    const chunks: Buffer[] = [];
    piped.stdout.on('data', (c: Buffer) => chunks.push(c));
    expect((await finished(piped)).code).toBe(0);
    expect(sha512(Buffer.concat(chunks))).toBe(sha512(data));
  });

  it('to a pipe whose reader stalls near the end: every byte arrives before the CLI exits', async () => {
    // A pipe takes 64 KiB; past that, Node queues stdout writes and process.exit() dropped the
    // queue: the reader stops 64 KiB + a few bytes before the end, so the last bytes wait in
    // the CLI while it finishes. It must flush them before exiting, whenever the reader resumes.
    const token = await tokenFor(uniqueProject());
    const { id, data } = await activeImage(token, 9 * MiB + 5);
    const blocks = Math.floor((data.length - 64 * 1024 - 5) / (64 * 1024));
    const out = join(workDir(), 'stalled.raw');
    const run = await finished(startPiped(token, ['image-download', id], `{ dd bs=65536 count=${blocks} iflag=fullblock status=none; sleep 1.5; cat; } > ${out}`));
    expect(run.code, run.stderr).toBe(0);
    expect(readFileSync(out).length).toBe(data.length);
    expect(sha512(readFileSync(out))).toBe(sha512(data));
  });

  it('to a reader that stops early (| head): the CLI ends quietly with 141, as cat would, no stack trace', async () => {
    const token = await tokenFor(uniqueProject());
    const { id, data } = await activeImage(token, 6 * MiB);
    const out = join(workDir(), 'head.raw');
    const run = await finished(startPiped(token, ['image-download', id], `head -c 100 > ${out}`));
    expect(readFileSync(out)).toEqual(data.subarray(0, 100));
    expect(run.stderr).toBe('');
    expect(run.code).toBe(141);
  });

  it('a download killed midway resumes with Range from the bytes already on disk', async () => {
    const token = await tokenFor(uniqueProject());
    const { id, data } = await activeImage(token, 48 * MiB);
    const first = start(token, ['image-download', id, '--file', 'resumed.raw', '--debug']);
    const ended = finished(first);
    await stderrLine(first, /^debug: received \d+ of/);
    first.kill('SIGKILL');
    expect((await ended).signal).toBe('SIGKILL');
    expect(existsSync(join(workDir(), 'resumed.raw')), 'an unfinished download does not take the final name').toBe(false);

    const again = await skyglass(token, 'image-download', id, '--file', 'resumed.raw');
    expect(again.code, again.stderr).toBe(0);
    const at = /resuming download at byte (\d+) of (\d+)/.exec(again.stderr);
    expect(at, again.stderr).not.toBeNull();
    expect(Number(at![1])).toBeGreaterThan(0);
    expect(Number(at![1])).toBeLessThan(data.length);
    expect(parseTable(again.stdout)).toMatchObject({ checksum: md5(data), os_hash_value: sha512(data) });
    expect(sha512(readFileSync(join(workDir(), 'resumed.raw')))).toBe(sha512(data));
    expect(leftovers('resumed.raw')).toEqual(['resumed.raw']);
  });

  it('data that does not match the image\'s checksums is an error (exit 4) and leaves no file behind', async () => {
    const token = await tokenFor(uniqueProject());
    const { id, data } = await activeImage(token, 6 * MiB);
    // Someone rewrites the object behind the service's back: same size, other bytes.
    const key = (await imageTable().get(id))!.location!;
    await storeClient().send(new PutObjectCommand({ Bucket: inject('bucket'), Key: key, Body: randomBytes(data.length) }));
    const run = await skyglass(token, 'image-download', id, '--file', 'tampered.raw');
    expect(run.code).toBe(4);
    expect(run.stderr).toContain(`Corrupt image download: checksum expected ${md5(data)} but got`);
    expect(run.stderr).toContain('os_hash_value expected');
    expect(leftovers('tampered.raw')).toEqual([]);
  });
});
