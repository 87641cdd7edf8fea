import { spawnSync } from 'node:child_process';
import { createReadStream, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { CopyObjectCommand, S3Client } from '@aws-sdk/client-s3';
import type { LocalRuntime } from '../infra/local/server.js';
import { writeRandomFile } from './random-file.js';
import { heading, median, printTable, progress } from './report.js';

/**
 * Section `copy-image` (issue #15): an active 1 GiB image copied by a copy-image import from the
 * local runtime's default store `us` to `eu`, timed from the import's 202 until the image lists
 * `eu` (Glance's os_glance_importing_to_stores empty), against references measured in the same
 * run: `cp` of the same bytes as a file, and the emulated S3's own CopyObject of the same object
 * into the other bucket through the SDK (what one server-side copy costs locally). The import
 * takes the multipart path (8 UploadPartCopy parts of 128 MiB, all in flight), the path
 * deployed images over 5 GiB take; each round then removes the `eu` copy again
 * (DELETE /v2/stores/eu/{id}).
 */
const MiB = 1024 * 1024;
const BYTES = 1024 * MiB;
const ROUNDS = 2;
const PART_BYTES = 128 * MiB;

export interface CopyImageResult {
  cpSeconds: number[];
  copyObjectSeconds: number[];
  copyImageSeconds: number[];
}

async function api(runtime: LocalRuntime, token: string, path: string, init: { method?: string; json?: unknown; body?: ReturnType<typeof createReadStream> } = {}) {
  const headers: Record<string, string> = { 'X-Auth-Token': token };
  let body: string | ReturnType<typeof createReadStream> | undefined = init.body;
  if (init.json !== undefined) {
    body = JSON.stringify(init.json);
    headers['Content-Type'] = 'application/json';
  } else if (init.body) headers['Content-Type'] = 'application/octet-stream';
  const res = await fetch(`${runtime.url}${path}`, { method: init.method ?? 'GET', headers, body: body as never, ...(init.body ? { duplex: 'half' } : {}) } as RequestInit);
  const text = await res.text();
  return { status: res.status, body: text ? (JSON.parse(text) as Record<string, any>) : undefined };
}

/** Polls the image until `done` says so (every 100 ms); throws if it fails. */
async function until(runtime: LocalRuntime, token: string, id: string, done: (image: Record<string, any>) => boolean): Promise<Record<string, any>> {
  for (;;) {
    const image = (await api(runtime, token, `/v2/images/${id}`)).body!;
    if (done(image)) return image;
    if (image.status === 'queued' || image.status === 'killed') throw new Error(`image ${id} ended ${image.status}: ${image.os_skyglass_failure ?? ''}`);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

export async function measureCopyImage(): Promise<CopyImageResult> {
  const dir = mkdtempSync(join(tmpdir(), 'skyglass-bench-copy-'));
  let runtime: LocalRuntime | undefined;
  // Read once by the runtime's functions (shared/app/config.ts copySettings): the multipart path for 1 GiB.
  const settings = { SKYGLASS_COPY_SINGLE_MAX_BYTES: String(PART_BYTES), SKYGLASS_COPY_PART_BYTES: String(PART_BYTES), SKYGLASS_COPY_PARTS_IN_FLIGHT: '8' };
  Object.assign(process.env, settings);
  try {
    const file = join(dir, 'image.raw');
    progress('copy-image: writing a 1 GiB random file');
    writeRandomFile(file, BYTES);
    const { startLocalRuntime } = await import('../infra/local/server.js');
    const { mintToken } = await import('../infra/local/dev-key.js');
    runtime = await startLocalRuntime({ port: 0, dataDir: join(dir, 'runtime'), inMemory: true });
    const admin = await mintToken(join(dir, 'runtime'), { project: 'bench-copy', roles: ['admin', 'member', 'reader'] });
    const detail = (await api(runtime, admin, '/v2/info/stores/detail')).body!.stores as Array<{ id: string; properties: { bucket: string } }>;
    const bucket = (id: string) => detail.find((s) => s.id === id)!.properties.bucket;

    progress('copy-image: uploading the 1 GiB image (PUT /file, then verification)');
    const image = (await api(runtime, admin, '/v2/images', { method: 'POST', json: { name: 'copy-bench', disk_format: 'raw', container_format: 'bare' } })).body!;
    const put = await api(runtime, admin, `/v2/images/${image.id}/file`, { method: 'PUT', body: createReadStream(file, { highWaterMark: MiB }) });
    if (put.status !== 204) throw new Error(`PUT /file: ${put.status} ${JSON.stringify(put.body)}`);
    const active = await until(runtime, admin, image.id, (i) => i.status === 'active');
    if (active.stores !== 'us') throw new Error(`the image is in ${active.stores}, not us alone`);
    const { location } = (await (await import('../shared/app/read-services.js')).imageRepository().get(image.id))!;

    const s3 = new S3Client({ region: 'us-east-1', endpoint: runtime.s3Endpoint, forcePathStyle: true, credentials: { accessKeyId: 'local', secretAccessKey: 'local' }, requestChecksumCalculation: 'WHEN_REQUIRED', responseChecksumValidation: 'WHEN_REQUIRED' });
    const result: CopyImageResult = { cpSeconds: [], copyObjectSeconds: [], copyImageSeconds: [] };
    for (let round = 1; round <= ROUNDS; round++) {
      progress(`copy-image: round ${round}/${ROUNDS}: cp`);
      const cpStarted = performance.now();
      const cp = spawnSync('cp', [file, join(dir, 'copy.raw')], { stdio: 'inherit' });
      if (cp.status !== 0) throw new Error(`cp exited ${cp.status}`);
      result.cpSeconds.push((performance.now() - cpStarted) / 1000);
      rmSync(join(dir, 'copy.raw'), { force: true });

      progress(`copy-image: round ${round}/${ROUNDS}: the local S3's CopyObject us → eu through the SDK`);
      const copyStarted = performance.now();
      await s3.send(new CopyObjectCommand({ Bucket: bucket('eu'), Key: `bench/copy-${round}`, CopySource: `${bucket('us')}/${location}` }));
      result.copyObjectSeconds.push((performance.now() - copyStarted) / 1000);

      progress(`copy-image: round ${round}/${ROUNDS}: copy-image import us → eu`);
      const started = performance.now();
      const imported = await api(runtime, admin, `/v2/images/${image.id}/import`, { method: 'POST', json: { method: { name: 'copy-image' }, stores: ['eu'] } });
      if (imported.status !== 202) throw new Error(`copy-image import: ${imported.status} ${JSON.stringify(imported.body)}`);
      const copied = await until(runtime, admin, image.id, (i) => i.os_glance_importing_to_stores === '');
      result.copyImageSeconds.push((performance.now() - started) / 1000);
      if (copied.stores !== 'eu,us' || copied.os_glance_failed_import !== '') throw new Error(`copy-image ended with stores ${copied.stores}, failed ${copied.os_glance_failed_import}`);
      const removed = await api(runtime, admin, `/v2/stores/eu/${image.id}`, { method: 'DELETE' });
      if (removed.status !== 204) throw new Error(`DELETE /v2/stores/eu: ${removed.status}`);
    }
    return result;
  } finally {
    await runtime?.stop();
    for (const name of Object.keys(settings)) delete process.env[name];
    rmSync(dir, { recursive: true, force: true });
  }
}

export function reportCopyImage(result: CopyImageResult): void {
  heading(`copy-image: an active 1 GiB image copied us → eu (local stores), ${ROUNDS} rounds`);
  const cp = median(result.cpSeconds);
  const copyObject = median(result.copyObjectSeconds);
  const copy = median(result.copyImageSeconds);
  const mibps = (seconds: number) => (BYTES / MiB / seconds).toFixed(0);
  printTable(
    ['measure', '>seconds (median)', '>MiB/s', '>ratio to cp', '>ratio to CopyObject', 'result'],
    [
      ['cp of the same bytes (reference)', cp.toFixed(1), mibps(cp), '1.00x', `${(cp / copyObject).toFixed(2)}x`, ''],
      ["the local S3's own CopyObject us → eu through the SDK (reference)", copyObject.toFixed(1), mibps(copyObject), `${(copyObject / cp).toFixed(2)}x`, '1.00x', ''],
      [`copy-image, 202 to copied (8 UploadPartCopy parts of ${PART_BYTES / MiB} MiB in flight)`, copy.toFixed(1), mibps(copy), `${(copy / cp).toFixed(2)}x`, `${(copy / copyObject).toFixed(2)}x`, 'info'],
    ],
  );
  console.log(`(runs: cp ${result.cpSeconds.map((s) => s.toFixed(1)).join(', ')} s; CopyObject ${result.copyObjectSeconds.map((s) => s.toFixed(1)).join(', ')} s; copy-image ${result.copyImageSeconds.map((s) => s.toFixed(1)).join(', ')} s)`);
}
