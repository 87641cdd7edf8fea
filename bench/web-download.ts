import { spawn } from 'node:child_process';
import { createReadStream, mkdtempSync, rmSync, statSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { S3Client } from '@aws-sdk/client-s3';
import { Upload } from '@aws-sdk/lib-storage';
import type { LocalRuntime } from '../infra/local/server.js';
import { writeRandomFile } from './random-file.js';
import { check, heading, median, printTable, progress } from './report.js';

/**
 * Section `web-download` (issue #15): a 1 GiB web-download import on the local runtime, from a
 * local HTTP server that takes ranges, timed from the import's 202 to the image active, against
 * `curl -o` of the same URL to a file in the same run (the goal: the fetch within 1.2x of curl).
 * The import's time includes the verifier's read of the stored bytes (hashes, format
 * inspection), so the same bytes are also staged and imported with glance-direct, whose
 * import-to-active is that verification alone: the fetch is the difference. lib-storage's Upload
 * of the file into the same local S3 shows what the store itself takes.
 */
const MiB = 1024 * 1024;
const BYTES = 1024 * MiB;
const ROUNDS = 2;
const GOAL = 1.2;

export interface WebDownloadResult {
  curlSeconds: number[];
  /** lib-storage's Upload of the same file into the same local S3 (8 MiB parts, 4 in flight): what the store takes. */
  storeWriteSeconds: number[];
  webDownloadSeconds: number[];
  glanceDirectSeconds: number[];
}

/** The file at /image, with Content-Length, Accept-Ranges and one byte range per request (206), as a mirror serves it. */
function fileServer(path: string): Promise<Server> {
  const size = statSync(path).size;
  const server = createServer((req, res) => {
    if (req.url !== '/image') return void res.writeHead(404).end();
    const range = /^bytes=(\d+)-(\d+)?$/.exec(req.headers.range ?? '');
    const headers = { 'Content-Type': 'application/octet-stream', 'Accept-Ranges': 'bytes', ETag: '"bench"' };
    if (!range) {
      res.writeHead(200, { ...headers, 'Content-Length': size });
      return void createReadStream(path, { highWaterMark: MiB }).pipe(res);
    }
    const start = Number(range[1]);
    const end = Math.min(range[2] === undefined ? size - 1 : Number(range[2]), size - 1);
    res.writeHead(206, { ...headers, 'Content-Length': end - start + 1, 'Content-Range': `bytes ${start}-${end}/${size}` });
    createReadStream(path, { start, end, highWaterMark: MiB }).pipe(res);
  });
  return new Promise((resolve) => server.listen(0, '127.0.0.1', () => resolve(server)));
}

async function api(runtime: LocalRuntime, token: string, path: string, init: { method?: string; json?: unknown; body?: ReturnType<typeof createReadStream>; contentType?: string } = {}) {
  const headers: Record<string, string> = { 'X-Auth-Token': token };
  let body: string | ReturnType<typeof createReadStream> | undefined = init.body;
  if (init.json !== undefined) {
    body = JSON.stringify(init.json);
    headers['Content-Type'] = 'application/json';
  } else if (init.contentType) headers['Content-Type'] = init.contentType;
  const res = await fetch(`${runtime.url}${path}`, { method: init.method ?? 'GET', headers, body: body as never, ...(init.body ? { duplex: 'half' } : {}) } as RequestInit);
  const text = await res.text();
  return { status: res.status, body: text ? (JSON.parse(text) as Record<string, any>) : undefined };
}

/** Seconds from `started` until the image is active; throws if it ends otherwise. */
async function untilActive(runtime: LocalRuntime, token: string, id: string, started: number): Promise<number> {
  for (;;) {
    const image = (await api(runtime, token, `/v2/images/${id}`)).body!;
    if (image.status === 'active') return (performance.now() - started) / 1000;
    if (image.status !== 'importing' && image.status !== 'uploading') throw new Error(`image ${id} ended ${image.status}: ${image.os_skyglass_failure ?? image.os_glance_failed_import ?? ''}`);
    await new Promise((resolve) => setTimeout(resolve, 250));
  }
}

export async function measureWebDownload(): Promise<WebDownloadResult> {
  const dir = mkdtempSync(join(tmpdir(), 'skyglass-bench-webdl-'));
  let server: Server | undefined;
  let runtime: LocalRuntime | undefined;
  try {
    const file = join(dir, 'image.raw');
    progress('web-download: writing a 1 GiB random file');
    writeRandomFile(file, BYTES);
    server = await fileServer(file);
    const port = (server.address() as AddressInfo).port;
    const url = `http://127.0.0.1:${port}/image`;
    // The local runtime reaches loopback by default; the source's port must be allowed too.
    process.env.SKYGLASS_IMPORT_ALLOWED_PORTS = `80,443,${port}`;
    const { startLocalRuntime } = await import('../infra/local/server.js');
    const { mintToken } = await import('../infra/local/dev-key.js');
    runtime = await startLocalRuntime({ port: 0, dataDir: join(dir, 'runtime'), inMemory: true });
    const token = await mintToken(join(dir, 'runtime'), { project: 'bench-webdl', roles: ['member', 'reader'] });
    const result: WebDownloadResult = { curlSeconds: [], storeWriteSeconds: [], webDownloadSeconds: [], glanceDirectSeconds: [] };
    const s3 = new S3Client({ region: 'us-east-1', endpoint: runtime.s3Endpoint, forcePathStyle: true, credentials: { accessKeyId: 'local', secretAccessKey: 'local' }, requestChecksumCalculation: 'WHEN_REQUIRED', responseChecksumValidation: 'WHEN_REQUIRED' });
    for (let round = 1; round <= ROUNDS; round++) {
      progress(`web-download: round ${round}/${ROUNDS}: curl -o`);
      const curlStarted = performance.now();
      // Spawned, not spawnSync: the source server runs in this process and must keep serving.
      await new Promise<void>((resolve, reject) => {
        const curl = spawn('curl', ['-sS', '-o', join(dir, 'curl.out'), url], { stdio: ['ignore', 'ignore', 'inherit'] });
        curl.on('error', reject);
        curl.on('exit', (code) => (code === 0 ? resolve() : reject(new Error(`curl exited ${code}`))));
      });
      result.curlSeconds.push((performance.now() - curlStarted) / 1000);
      rmSync(join(dir, 'curl.out'), { force: true });

      progress(`web-download: round ${round}/${ROUNDS}: lib-storage Upload of the file into the local S3`);
      const storeStarted = performance.now();
      await new Upload({ client: s3, params: { Bucket: runtime.bucket, Key: `bench/webdl-${round}`, Body: createReadStream(file), ContentType: 'application/octet-stream' }, partSize: 8 * MiB, queueSize: 4 }).done();
      result.storeWriteSeconds.push((performance.now() - storeStarted) / 1000);

      progress(`web-download: round ${round}/${ROUNDS}: web-download import`);
      const fetched = (await api(runtime, token, '/v2/images', { method: 'POST', json: { name: `webdl-${round}`, disk_format: 'raw', container_format: 'bare' } })).body!;
      const started = performance.now();
      const imported = await api(runtime, token, `/v2/images/${fetched.id}/import`, { method: 'POST', json: { method: { name: 'web-download', uri: url } } });
      if (imported.status !== 202) throw new Error(`web-download import: ${imported.status} ${JSON.stringify(imported.body)}`);
      result.webDownloadSeconds.push(await untilActive(runtime, token, fetched.id, started));

      progress(`web-download: round ${round}/${ROUNDS}: the same bytes staged, then glance-direct (verification alone)`);
      const staged = (await api(runtime, token, '/v2/images', { method: 'POST', json: { name: `direct-${round}`, disk_format: 'raw', container_format: 'bare' } })).body!;
      const stage = await api(runtime, token, `/v2/images/${staged.id}/stage`, { method: 'PUT', body: createReadStream(file, { highWaterMark: MiB }), contentType: 'application/octet-stream' });
      if (stage.status !== 204) throw new Error(`stage: ${stage.status} ${JSON.stringify(stage.body)}`);
      const directStarted = performance.now();
      const direct = await api(runtime, token, `/v2/images/${staged.id}/import`, { method: 'POST', json: { method: { name: 'glance-direct' } } });
      if (direct.status !== 202) throw new Error(`glance-direct import: ${direct.status}`);
      result.glanceDirectSeconds.push(await untilActive(runtime, token, staged.id, directStarted));
    }
    return result;
  } finally {
    await runtime?.stop();
    server?.close();
    delete process.env.SKYGLASS_IMPORT_ALLOWED_PORTS;
    rmSync(dir, { recursive: true, force: true });
  }
}

export function reportWebDownload(result: WebDownloadResult): void {
  heading(`web-download: 1 GiB from a local HTTP server (ranges), ${ROUNDS} rounds`);
  const curl = median(result.curlSeconds);
  const store = median(result.storeWriteSeconds);
  const whole = median(result.webDownloadSeconds);
  const verification = median(result.glanceDirectSeconds);
  const fetch = Math.max(whole - verification, 0);
  const mibps = (seconds: number) => (BYTES / MiB / seconds).toFixed(0);
  printTable(
    ['measure', '>seconds (median)', '>MiB/s', '>ratio to curl', 'result'],
    [
      ['curl -o (reference)', curl.toFixed(1), mibps(curl), '1.00x', ''],
      ['lib-storage Upload of the file into the same local S3 (the store\'s own speed)', store.toFixed(1), mibps(store), `${(store / curl).toFixed(2)}x`, 'info'],
      ['web-download, import to active', whole.toFixed(1), mibps(whole), `${(whole / curl).toFixed(2)}x`, 'info'],
      ['glance-direct of the same bytes, import to active (verification alone)', verification.toFixed(1), mibps(verification), `${(verification / curl).toFixed(2)}x`, 'info'],
      ['web-download fetch (the difference)', fetch.toFixed(1), fetch > 0 ? mibps(fetch) : '-', `${(fetch / curl).toFixed(2)}x`, check('web-download', `fetch within ${GOAL}x of curl`, fetch / curl <= GOAL)],
    ],
  );
  console.log(`The fetch against the store's own speed: ${(fetch / store).toFixed(2)}x (locally the emulated S3, not the source, bounds both; in AWS, S3 takes parts far faster).`);
  console.log(`(runs: curl ${result.curlSeconds.map((s) => s.toFixed(1)).join(', ')} s; web-download ${result.webDownloadSeconds.map((s) => s.toFixed(1)).join(', ')} s; glance-direct ${result.glanceDirectSeconds.map((s) => s.toFixed(1)).join(', ')} s)`);
}
