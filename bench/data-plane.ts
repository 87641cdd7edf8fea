import { spawnSync, fork } from 'node:child_process';
import { createHash } from 'node:crypto';
import { closeSync, createReadStream, mkdtempSync, openSync, readSync, rmSync } from 'node:fs';
import { open } from 'node:fs/promises';
import { cpus, loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { S3Client, HeadObjectCommand } from '@aws-sdk/client-s3';
import { Upload } from '@aws-sdk/lib-storage';
import { FormatInspector } from '../shared/domain/format-inspector.js';
import type { LocalRuntime } from '../infra/local/server.js';
import type { Image } from '../shared/domain/image.js';
import { singleStore, type BlobStore } from '../shared/ports/blob-store.js';
import type { ImageRepository } from '../shared/ports/image-repository.js';
import { ImageVerifier } from '../shared/app/verify-image.js';
import { sampleImage } from '../test/support/sample-image.js';
import { writeRandomFile } from './random-file.js';
import { check, heading, printTable, progress as say } from './report.js';

/**
 * Section 4 of `npm run bench`: the data plane, each figure a ratio against a reference measured
 * in the same run on the same files.
 *
 * 4.1 parallel part upload (POST /uploads, presigned PUTs, complete) against the SDK's own
 *     `@aws-sdk/lib-storage` Upload of the same file to the same local S3;
 * 4.2 the verifier's one pass (the production ImageVerifier.verify loop: MD5 + SHA-512 + format
 *     inspector) over a 512 MiB file, against `sha512sum` on the same file;
 * 4.3 upload start to `active` for 1 GiB through the local runtime, against `cp` and lib-storage.
 *
 * It runs in a child process of its own: the handlers keep their clients and configuration in
 * module singletons for the life of the process (as in Lambda), bound to the first local
 * runtime's endpoints, so a second runtime in the bench process (section 3 has one) would leave
 * them talking to stopped emulators.
 */

const KiB = 1024;
const MiB = 1024 * KiB;

/** 4.1: the file both clients upload. */
export const UPLOAD_BYTES = 256 * MiB;
/**
 * 4.2: the file hashed. 512 MiB rather than 1 GiB: three rounds of 512 MiB take less time than two
 * of 1 GiB and give the best-of a third sample (the passes are a few seconds each either way).
 */
export const HASH_BYTES = 512 * MiB;
/** 4.3: the file copied and uploaded to active. */
export const IMAGE_BYTES = 1024 * MiB;
/** Skyglass's default part size, given to both clients. */
export const PART_SIZE = 8 * MiB;
/** Parts in flight, both clients (lib-storage's queueSize). */
export const CONCURRENCY = 4;
/** Chunks the verifier is fed in 4.2 (budgeted): the default of fs and http streams, the order of what an S3 GetObject body yields. */
export const READ_CHUNK = 64 * KiB;
/** The same pass fed 1 MiB chunks (info): fewer reads, so less of the stub's own reading. */
export const LARGE_READ_CHUNK = MiB;
export const ROUNDS = 2;
export const HASH_ROUNDS = 3;
export const UPLOAD_GOAL = 0.9;
export const HASH_GOAL = 0.8;
const POLL_MS = 100;

const CHILD_FLAG = 'SKYGLASS_BENCH_DATA_PLANE_CHILD';

const sectionStart = performance.now();
const progress = (message: string) => say(`[data ${((performance.now() - sectionStart) / 1000).toFixed(0)} s] ${message}`);

/** Wall time, and the CPU time (user + sys) of the process doing the work. */
interface Timing {
  wall: number;
  cpu: number;
}

/** Where a Skyglass upload's time went, in seconds. */
interface Steps {
  session: number;
  parts: number;
  complete: number;
  completeStatus: number;
}

interface Run {
  seconds: number;
  /** CPU time of the whole bench process (client, API, S3 front and s3rver all run in it). */
  cpuSeconds: number;
  /** Share of the wall time the process's one JavaScript thread was busy. */
  eventLoop: number;
}

export interface DataPlaneResult {
  machine: { cpus: number; loadAtStart: number };
  upload: { bytes: number; skyglass: Array<Run & { steps: Steps }>; libStorage: Run[]; libStorageUnsigned: Run[] };
  hashing: {
    bytes: number;
    sha512sum: Timing[];
    md5sum: Timing[];
    verifier: Timing[];
    verifierLargeChunks: Timing[];
    /** One pass each, same chunks, over the 4.1 file (smaller, to save time): what the verifier's loop is made of. */
    parts: { bytes: number; read: Timing; inspector: Timing; md5: Timing; sha512: Timing };
  };
  active: {
    bytes: number;
    phases: { session: number; parts: number; complete: number; verify: number };
    /** 202, or the 5xx of a complete that ran out of the function's time (the work finished behind it). */
    completeStatus: number;
    total: number;
    cp: number;
    libStorage: number;
  };
}

// ---- measuring -------------------------------------------------------------------------------

async function timed(action: () => Promise<unknown>): Promise<Run> {
  const elu = performance.eventLoopUtilization();
  const cpu = process.cpuUsage();
  const start = performance.now();
  await action();
  const seconds = (performance.now() - start) / 1000;
  const used = process.cpuUsage(cpu);
  return { seconds, cpuSeconds: (used.user + used.system) / 1e6, eventLoop: performance.eventLoopUtilization(elu).utilization };
}

/** Runs a command under bash, whose `times` builtin reports the command's CPU time (user and sys). */
function timedCommand(command: string, args: string[]): Timing & { stdout: string } {
  const start = performance.now();
  const child = spawnSync('bash', ['-c', '"$@"; status=$?; times >&2; exit $status', 'bash', command, ...args], { encoding: 'utf8', maxBuffer: 1024 * 1024 });
  const wall = (performance.now() - start) / 1000;
  if (child.error) throw new Error(`${command}: ${child.error.message}`);
  if (child.status !== 0) throw new Error(`${command} ${args.join(' ')} exited ${child.status}: ${child.stderr}`);
  // `times` prints the shell's own user/sys, then its children's: "0m4.082s 0m0.302s".
  const children = child.stderr.trim().split('\n').at(-1) ?? '';
  const m = /^(\d+)m([\d.]+)s\s+(\d+)m([\d.]+)s$/.exec(children.trim());
  if (!m) throw new Error(`cannot read the CPU time of ${command} from ${JSON.stringify(child.stderr)}`);
  const cpu = Number(m[1]) * 60 + Number(m[2]) + Number(m[3]) * 60 + Number(m[4]);
  return { wall, cpu, stdout: child.stdout };
}

/** Wall and CPU time of work done in this process. */
async function timedHere<T>(action: () => Promise<T>): Promise<Timing & { value: T }> {
  const cpu = process.cpuUsage();
  const start = performance.now();
  const value = await action();
  const wall = (performance.now() - start) / 1000;
  const used = process.cpuUsage(cpu);
  return { wall, cpu: (used.user + used.system) / 1e6, value };
}

// ---- 4.2: the verifier over a file -----------------------------------------------------------

/**
 * A port with only what the hashing bench uses implemented; any other method throws when called.
 * (The ports grow with the product; the verifier uses `read`, `get` and `save`.)
 */
function stub<T extends object>(name: string, implemented: Partial<T>): T {
  return new Proxy(implemented, {
    get(target, property) {
      if (property in target) return (target as Record<PropertyKey, unknown>)[property];
      if (typeof property === 'symbol' || property === 'then') return undefined;
      return () => {
        throw new Error(`${name}.${property} is not used by the hashing bench`);
      };
    },
  }) as T;
}

/**
 * The file in `chunk`-sized pieces, read on the consuming thread between chunks, as sha512sum
 * reads, and as the verifier's HTTP(S) body is read in Lambda (socket and TLS work on the main
 * thread). fs.createReadStream would read ahead on libuv's threads: its reading would overlap the
 * hashing in wall time and add CPU time no single-threaded reference has.
 */
async function* fileChunks(file: string, chunk: number): AsyncGenerator<Buffer> {
  const fd = openSync(file, 'r');
  try {
    for (;;) {
      const buffer = Buffer.allocUnsafe(chunk);
      const n = readSync(fd, buffer, 0, chunk, null);
      if (n === 0) return;
      yield n < chunk ? buffer.subarray(0, n) : buffer;
    }
  } finally {
    closeSync(fd);
  }
}

/** The store the verifier reads from: the file, in `chunk`-sized pieces. */
const fileBlobStore = (file: string, chunk: number) => stub<BlobStore>('BlobStore', { read: async () => fileChunks(file, chunk) });

/** One image waiting for verification; the verifier's conditional write is recorded, not stored. */
function oneImageRepository(image: Image): { repo: ImageRepository; saved: () => Image | undefined } {
  let saved: Image | undefined;
  const repo = stub<ImageRepository>('ImageRepository', {
    get: async (id: string) => (id === image.id ? image : undefined),
    save: async (next: Image) => {
      saved = next;
    },
  });
  return { repo, saved: () => saved };
}

/** ImageVerifier.verify, the production code path, over the file; returns seconds and the hashes. */
async function verifyFile(file: string, bytes: number, chunk: number): Promise<Timing & { checksum: string; sha512: string }> {
  const key = 'bench/hashing';
  const image = sampleImage({ status: 'saving', disk_format: 'raw', container_format: 'bare', location: key, size: bytes });
  const { repo, saved: savedImage } = oneImageRepository(image);
  const verifier = new ImageVerifier(repo, singleStore(fileBlobStore(file, chunk)));
  const { wall, cpu, value: outcome } = await timedHere(() => verifier.verify({ image_id: image.id, key }));
  const saved = savedImage();
  if (outcome.result !== 'active' || !saved?.checksum || !saved.os_hash_value) {
    throw new Error(`the verifier did not activate the bench file: ${JSON.stringify(outcome).slice(0, 300)}`);
  }
  return { wall, cpu, checksum: saved.checksum, sha512: saved.os_hash_value };
}

/** One pass over the file with the verifier's chunks, doing only `work` on each chunk. */
async function pass(file: string, work: (chunk: Buffer) => void, end: () => void = () => undefined): Promise<Timing> {
  const { wall, cpu } = await timedHere(async () => {
    for await (const chunk of fileChunks(file, READ_CHUNK)) work(chunk);
    end();
  });
  return { wall, cpu };
}

async function measureHashing(file: string, profileFile: string, profileBytes: number): Promise<DataPlaneResult['hashing']> {
  // Untimed: the file into the page cache, so every timed pass reads it from memory alike.
  await pass(file, () => undefined);
  const sha512sum: Timing[] = [];
  const md5sum: Timing[] = [];
  const verifier: Timing[] = [];
  const verifierLargeChunks: Timing[] = [];
  let md5 = '';
  let sha512 = '';
  for (let round = 1; round <= HASH_ROUNDS; round++) {
    progress(`hashing round ${round}/${HASH_ROUNDS}: sha512sum, verifier (64 KiB and 1 MiB chunks), md5sum over ${HASH_BYTES / MiB} MiB`);
    const s = timedCommand('sha512sum', [file]);
    sha512sum.push({ wall: s.wall, cpu: s.cpu });
    sha512 = s.stdout.split(/\s/)[0] ?? '';
    const v = await verifyFile(file, HASH_BYTES, READ_CHUNK);
    verifier.push({ wall: v.wall, cpu: v.cpu });
    const large = await verifyFile(file, HASH_BYTES, LARGE_READ_CHUNK);
    verifierLargeChunks.push({ wall: large.wall, cpu: large.cpu });
    const m = timedCommand('md5sum', [file]);
    md5sum.push({ wall: m.wall, cpu: m.cpu });
    md5 = m.stdout.split(/\s/)[0] ?? '';
    if (v.checksum !== md5 || v.sha512 !== sha512 || large.checksum !== md5 || large.sha512 !== sha512) throw new Error(`verifier hashes differ from md5sum/sha512sum: ${v.checksum} ${md5}`);
  }
  progress(`hashing profile: read, inspector, md5, sha512 alone over ${profileBytes / MiB} MiB`);
  await pass(profileFile, () => undefined);
  const read = await pass(profileFile, () => undefined);
  const inspector = new FormatInspector();
  let size = 0;
  const inspect = await pass(profileFile, (c) => {
    inspector.update(c);
    size += c.length;
  }, () => inspector.finish(size));
  const md5Hash = createHash('md5');
  const md5Only = await pass(profileFile, (c) => md5Hash.update(c), () => md5Hash.digest());
  const shaHash = createHash('sha512');
  const shaOnly = await pass(profileFile, (c) => shaHash.update(c), () => shaHash.digest());
  const parts = { bytes: profileBytes, read, inspector: inspect, md5: md5Only, sha512: shaOnly };
  return { bytes: HASH_BYTES, sha512sum, md5sum, verifier, verifierLargeChunks, parts };
}

// ---- 4.1 and 4.3: uploads through the local runtime ------------------------------------------

interface Api {
  url: string;
  token: string;
}

async function api(a: Api, path: string, method = 'GET', json?: unknown): Promise<{ status: number; body: any }> {
  const res = await fetch(`${a.url}${path}`, {
    method,
    headers: { 'X-Auth-Token': a.token, Accept: 'application/json', ...(json === undefined ? {} : { 'Content-Type': 'application/json' }) },
    body: json === undefined ? undefined : JSON.stringify(json),
  });
  const text = await res.text();
  return { status: res.status, body: text ? JSON.parse(text) : undefined };
}

async function createImage(a: Api, name: string): Promise<string> {
  const res = await api(a, '/v2/images', 'POST', { name, disk_format: 'raw', container_format: 'bare' });
  if (res.status !== 201) throw new Error(`create image: ${res.status} ${JSON.stringify(res.body)}`);
  return res.body.id as string;
}

interface PartUrl {
  part_number: number;
  url: string;
  offset: number;
  length: number;
}

/**
 * A client's presigned multipart upload of `file`: POST /uploads, the parts read from the file
 * and PUT with fetch, CONCURRENCY at a time, then complete. Returns when complete answers 202,
 * with the time each step ended.
 */
async function skyglassUpload(
  a: Api,
  id: string,
  file: string,
  size: number,
  allowTimeout = false,
): Promise<Steps> {
  const start = performance.now();
  const session = await api(a, `/v2/images/${id}/uploads`, 'POST', { size, part_size: PART_SIZE });
  if (session.status !== 201) throw new Error(`POST uploads: ${session.status} ${JSON.stringify(session.body)}`);
  const sessionDone = performance.now();
  const parts = session.body.parts as PartUrl[];
  if (parts.length !== session.body.part_count) throw new Error(`the session lists ${parts.length} of ${session.body.part_count} parts`);
  const queue = [...parts];
  const etags: Array<{ part_number: number; etag: string }> = [];
  const handle = await open(file, 'r');
  try {
    await Promise.all(
      Array.from({ length: Math.min(CONCURRENCY, queue.length) }, async () => {
        for (let part = queue.shift(); part; part = queue.shift()) {
          const body = Buffer.allocUnsafe(part.length);
          for (let got = 0; got < part.length; ) {
            const { bytesRead } = await handle.read(body, got, part.length - got, part.offset + got);
            if (bytesRead === 0) throw new Error(`${file} ended early`);
            got += bytesRead;
          }
          const res = await fetch(part.url, { method: 'PUT', body });
          const text = await res.text();
          if (res.status !== 200) throw new Error(`part ${part.part_number}: ${res.status} ${text}`);
          etags.push({ part_number: part.part_number, etag: res.headers.get('etag') ?? '' });
        }
      }),
    );
  } finally {
    await handle.close();
  }
  const partsDone = performance.now();
  etags.sort((x, y) => x.part_number - y.part_number);
  const complete = await api(a, `/v2/images/${id}/uploads/${session.body.upload_id}/complete`, 'POST', { parts: etags });
  const end = performance.now();
  // A 5xx is the function's 10 s timeout (the local S3 assembles and MD5s the whole object inside
  // CompleteMultipartUpload). The local runtime lets the handler finish behind the 500, so the
  // caller may poll the image; it is reported, never hidden.
  if (complete.status !== 202 && !(allowTimeout && complete.status >= 500)) {
    throw new Error(`complete: ${complete.status} ${JSON.stringify(complete.body)}`);
  }
  return { session: (sessionDone - start) / 1000, parts: (partsDone - sessionDone) / 1000, complete: (end - partsDone) / 1000, completeStatus: complete.status };
}

/** Polls GET /v2/images/{id} until the image leaves saving; it must be active. */
async function untilActive(a: Api, id: string): Promise<Record<string, any>> {
  const deadline = Date.now() + 10 * 60_000;
  for (;;) {
    const res = await api(a, `/v2/images/${id}`);
    if (res.status !== 200) throw new Error(`GET image: ${res.status} ${JSON.stringify(res.body)}`);
    if (res.body.status === 'active') return res.body;
    if (res.body.status !== 'saving') throw new Error(`image ${id} ended ${res.body.status}: ${res.body.os_skyglass_failure ?? ''}`);
    if (Date.now() > deadline) throw new Error(`image ${id} still saving after 10 minutes`);
    await new Promise((r) => setTimeout(r, POLL_MS));
  }
}

function s3Client(endpoint: string, unsignedPayload = false): S3Client {
  const client = new S3Client({
    region: 'us-east-1',
    endpoint,
    forcePathStyle: true,
    credentials: { accessKeyId: 'local', secretAccessKey: 'local' },
    requestChecksumCalculation: 'WHEN_REQUIRED',
    responseChecksumValidation: 'WHEN_REQUIRED',
  });
  if (unsignedPayload) {
    // What a presigned PUT is: the signer takes a payload hash already in the headers as given.
    client.middlewareStack.add(
      (next) => async (args) => {
        const request = args.request as { headers?: Record<string, string> };
        if (request.headers) request.headers['x-amz-content-sha256'] = 'UNSIGNED-PAYLOAD';
        return next(args);
      },
      { step: 'build', name: 'benchUnsignedPayload' },
    );
  }
  return client;
}

async function libStorageUpload(client: S3Client, bucket: string, key: string, file: string, size: number): Promise<void> {
  await new Upload({
    client,
    params: { Bucket: bucket, Key: key, Body: createReadStream(file), ContentType: 'application/octet-stream' },
    partSize: PART_SIZE,
    queueSize: CONCURRENCY,
  }).done();
  const head = await client.send(new HeadObjectCommand({ Bucket: bucket, Key: key }));
  if (head.ContentLength !== size) throw new Error(`lib-storage stored ${head.ContentLength} bytes of ${size}`);
}

// ---- the section -----------------------------------------------------------------------------

/** Runs the section here, in this process. Use measureDataPlaneIsolated from a process that ran another runtime. */
export async function measureDataPlane(): Promise<DataPlaneResult> {
  const machine = { cpus: cpus().length, loadAtStart: loadavg()[0] ?? 0 };
  const dir = mkdtempSync(join(tmpdir(), 'skyglass-bench-data-'));
  let runtime: LocalRuntime | undefined;
  try {
    const uploadFile = join(dir, 'upload.bin');
    const hashFile = join(dir, 'hash.bin');
    const imageFile = join(dir, 'image.bin');
    progress(`writing ${UPLOAD_BYTES / MiB}, ${HASH_BYTES / MiB} and ${IMAGE_BYTES / MiB} MiB random files under ${dir}`);
    writeRandomFile(uploadFile, UPLOAD_BYTES);
    writeRandomFile(hashFile, HASH_BYTES);
    writeRandomFile(imageFile, IMAGE_BYTES);

    // Before the runtime starts, so its JVM and servers take nothing from the hashing.
    const hashing = await measureHashing(hashFile, uploadFile, UPLOAD_BYTES);
    rmSync(hashFile);
    // Untimed: what 4.3's image must come out as.
    const imageMd5 = timedCommand('md5sum', [imageFile]).stdout.split(/\s/)[0];

    const { startLocalRuntime } = await import('../infra/local/server.js');
    const { mintToken } = await import('../infra/local/dev-key.js');
    progress('starting the local runtime (DynamoDB Local in memory, local S3, Step Functions)');
    runtime = await startLocalRuntime({ port: 0, dataDir: join(dir, 'runtime'), inMemory: true });
    const rt = runtime;
    const a: Api = { url: rt.url, token: await mintToken(join(dir, 'runtime'), { project: 'bench-data', roles: ['member', 'reader'] }) };
    const signed = s3Client(rt.s3Endpoint);
    const unsigned = s3Client(rt.s3Endpoint, true);
    const skyglassToActive = async (file: string, size: number) => {
      const id = await createImage(a, 'bench-data');
      const start = performance.now();
      const steps = await skyglassUpload(a, id, file, size, true);
      const image = await untilActive(a, id);
      const total = (performance.now() - start) / 1000;
      if (image.size !== size) throw new Error(`image ${id} is active with size ${image.size}, not ${size}`);
      return { id, steps, total, image };
    };

    // Untimed warm-up: loads every handler on the way and opens the clients' connections.
    progress('warm-up: one small upload each way');
    const warmFile = join(dir, 'warm.bin');
    writeRandomFile(warmFile, 6 * MiB);
    await skyglassToActive(warmFile, 6 * MiB);
    await libStorageUpload(signed, rt.bucket, 'bench/warm-signed', warmFile, 6 * MiB);
    await libStorageUpload(unsigned, rt.bucket, 'bench/warm-unsigned', warmFile, 6 * MiB);

    const upload: DataPlaneResult['upload'] = { bytes: UPLOAD_BYTES, skyglass: [], libStorage: [], libStorageUnsigned: [] };
    for (let round = 1; round <= ROUNDS; round++) {
      progress(`upload round ${round}/${ROUNDS}: Skyglass presigned parts, lib-storage, lib-storage unsigned (${UPLOAD_BYTES / MiB} MiB each)`);
      const id = await createImage(a, 'bench-upload');
      let steps: Steps | undefined;
      const run = await timed(async () => (steps = await skyglassUpload(a, id, uploadFile, UPLOAD_BYTES)));
      upload.skyglass.push({ ...run, steps: steps as Steps });
      // Verification runs after the 202; let it finish so it takes no CPU from the next upload.
      await untilActive(a, id);
      await rt.workflowsIdle();
      upload.libStorage.push(await timed(() => libStorageUpload(signed, rt.bucket, `bench/upload-${round}`, uploadFile, UPLOAD_BYTES)));
      upload.libStorageUnsigned.push(await timed(() => libStorageUpload(unsigned, rt.bucket, `bench/upload-unsigned-${round}`, uploadFile, UPLOAD_BYTES)));
    }

    progress(`upload to active: cp, lib-storage and Skyglass, ${IMAGE_BYTES / MiB} MiB each`);
    const copy = join(dir, 'image.copy');
    const cp = timedCommand('cp', [imageFile, copy]).wall;
    rmSync(copy, { force: true });
    const lib = await timed(() => libStorageUpload(signed, rt.bucket, 'bench/image', imageFile, IMAGE_BYTES));
    const toActive = await skyglassToActive(imageFile, IMAGE_BYTES);
    if (toActive.image.checksum !== imageMd5) throw new Error(`the active image's checksum ${toActive.image.checksum} is not md5sum's ${imageMd5}`);
    const { session, parts, complete, completeStatus } = toActive.steps;
    const active: DataPlaneResult['active'] = {
      bytes: IMAGE_BYTES,
      completeStatus,
      phases: { session, parts, complete, verify: toActive.total - session - parts - complete },
      total: toActive.total,
      cp,
      libStorage: lib.seconds,
    };
    // Let the last verification's tail (its events) finish before the runtime stops.
    await rt.workflowsIdle();
    return { machine, upload, hashing, active };
  } finally {
    progress('stopping the local runtime, removing the bench files');
    await runtime?.stop();
    rmSync(dir, { recursive: true, force: true });
  }
}

/**
 * Runs the section in a child process (this module, with the same loader flags) and returns
 * its figures. The child's stdout (the worker's log lines) is dropped; its stderr is the bench's.
 */
export function measureDataPlaneIsolated(): Promise<DataPlaneResult> {
  const env: NodeJS.ProcessEnv = { ...process.env, [CHILD_FLAG]: '1' };
  // Section 3's switch; the data plane measures the product as deployed, without it.
  delete env.SKYGLASS_DYNAMODB_STATS;
  const child = fork(import.meta.filename, [], { env, stdio: ['ignore', 'ignore', 'inherit', 'ipc'] });
  return new Promise((resolve, reject) => {
    let message: { result?: DataPlaneResult; error?: string } | undefined;
    child.on('message', (m) => (message = m as typeof message));
    child.on('error', reject);
    child.on('exit', (code, signal) => {
      if (message?.result) resolve(message.result);
      else reject(new Error(`data-plane bench child failed (${signal ?? `exit ${code}`}): ${message?.error ?? 'no result'}`));
    });
  });
}

if (process.env[CHILD_FLAG] === '1' && process.send) {
  const send = (m: unknown) => new Promise<void>((resolve) => process.send?.(m, undefined, undefined, () => resolve()));
  try {
    await send({ result: await measureDataPlane() });
    process.exit(0);
  } catch (error) {
    await send({ error: error instanceof Error ? (error.stack ?? error.message) : String(error) });
    process.exit(1);
  }
}

// ---- report ----------------------------------------------------------------------------------

const best = (xs: number[]) => Math.min(...xs);
const mibs = (bytes: number, seconds: number) => bytes / MiB / seconds;
const fixed = (n: number, digits = 2) => n.toFixed(digits);
const runs = (xs: number[]) => xs.map((x) => fixed(x)).join(', ');

export function reportDataPlane(r: DataPlaneResult): void {
  heading(`4. Data plane, ratios against references run alongside (${r.machine.cpus} CPUs, load average ${fixed(r.machine.loadAtStart, 1)} at start)`);

  // 4.1
  const up = r.upload;
  const bestRun = <T extends Run>(xs: T[]): T => xs.reduce((b, x) => (x.seconds < b.seconds ? x : b));
  const ref = bestRun(up.libStorage);
  const refRate = mibs(up.bytes, ref.seconds);
  console.log(
    `4.1 Parallel part upload, ${up.bytes / MiB} MiB random file, ${PART_SIZE / MiB} MiB parts, ${CONCURRENCY} in flight, to the local S3, ` +
      `best of ${ROUNDS} alternating (goal: Skyglass >= ${UPLOAD_GOAL}x lib-storage)`,
  );
  const uploadRow = (label: string, xs: Run[], verdict: string) => {
    const b = bestRun(xs);
    return [
      label,
      fixed(mibs(up.bytes, b.seconds), 1),
      `${fixed(mibs(up.bytes, b.seconds) / refRate)}x`,
      runs(xs.map((x) => x.seconds)),
      fixed(b.cpuSeconds / (up.bytes / MiB / 100)),
      `${Math.round(b.eventLoop * 100)}%`,
      verdict,
    ];
  };
  printTable(
    ['path', '>MiB/s', '>vs lib-storage', '>runs (s)', '>CPU s/100 MiB', '>JS thread busy', 'result'],
    [
      uploadRow('Skyglass: POST /uploads + presigned fetch PUTs + complete (202)', up.skyglass, check('data plane', 'upload throughput', mibs(up.bytes, bestRun(up.skyglass).seconds) / refRate >= UPLOAD_GOAL)),
      uploadRow('lib-storage Upload (reference; signs each part: x-amz-content-sha256)', up.libStorage, 'reference'),
      uploadRow('lib-storage Upload, UNSIGNED-PAYLOAD (the wire work of a presigned PUT)', up.libStorageUnsigned, 'info'),
    ],
  );
  const fastest = bestRun(up.skyglass);
  console.log(
    `Skyglass's best run: POST /uploads ${fixed(fastest.steps.session)} s, parts ${fixed(fastest.steps.parts)} s ` +
      `(${fixed(mibs(up.bytes, fastest.steps.parts), 1)} MiB/s), complete ${fixed(fastest.steps.complete)} s.`,
  );
  console.log(
    '(client, API, S3 front and s3rver share one process; CPU s = its user+sys CPU per 100 MiB, JS thread busy = its event-loop utilisation.\n' +
      ' The SDK computes each part\'s SHA-256 and the front spools and checks it before s3rver sees it; presigned parts stream straight through.)',
  );

  // 4.2
  const h = r.hashing;
  const bestOf = (xs: Timing[]): Timing => ({ wall: best(xs.map((x) => x.wall)), cpu: best(xs.map((x) => x.cpu)) });
  const sha = bestOf(h.sha512sum);
  const verify = bestOf(h.verifier);
  const md5sum = bestOf(h.md5sum);
  const cpuRatio = mibs(h.bytes, verify.cpu) / mibs(h.bytes, sha.cpu);
  console.log('');
  console.log(
    `4.2 Verifier hashing, ${h.bytes / MiB} MiB random file (page cache), best of ${h.verifier.length} alternating ` +
      `(goal: verifier >= ${HASH_GOAL}x sha512sum, on CPU time; wall time alongside)`,
  );
  const hashRow = (label: string, t: Timing, runList: Timing[] | undefined, verdict: string, bytes = h.bytes) => [
    label,
    fixed(mibs(bytes, t.cpu), 0),
    `${fixed(mibs(bytes, t.cpu) / mibs(h.bytes, sha.cpu))}x`,
    fixed(mibs(bytes, t.wall), 0),
    `${fixed(mibs(bytes, t.wall) / mibs(h.bytes, sha.wall))}x`,
    runList ? runs(runList.map((x) => x.wall)) : '',
    verdict,
  ];
  const p = h.parts;
  printTable(
    ['pass', '>MiB/CPU-s', '>vs sha512sum', '>MiB/s wall', '>vs sha512sum', '>wall runs (s)', 'result'],
    [
      hashRow(`ImageVerifier.verify (MD5 + SHA-512 + format inspector, one pass), ${READ_CHUNK / KiB} KiB chunks`, verify, h.verifier, check('data plane', 'verifier hashing', cpuRatio >= HASH_GOAL)),
      hashRow(`  the same, ${LARGE_READ_CHUNK / MiB} MiB chunks`, bestOf(h.verifierLargeChunks), h.verifierLargeChunks, 'info'),
      hashRow('sha512sum (reference)', sha, h.sha512sum, 'reference'),
      hashRow('md5sum (context)', md5sum, h.md5sum, 'info'),
      hashRow('md5sum + sha512sum, one after the other (both digests)', { wall: md5sum.wall + sha.wall, cpu: md5sum.cpu + sha.cpu }, undefined, 'info'),
      hashRow(`profile (${p.bytes / MiB} MiB file, ${READ_CHUNK / KiB} KiB chunks), node: read only`, p.read, undefined, 'info', p.bytes),
      hashRow('  read + FormatInspector only', p.inspector, undefined, 'info', p.bytes),
      hashRow('  read + MD5 only (OpenSSL, as in the verifier)', p.md5, undefined, 'info', p.bytes),
      hashRow('  read + SHA-512 only (OpenSSL, as in the verifier)', p.sha512, undefined, 'info', p.bytes),
    ],
  );
  console.log('(the verifier is the production class, given a BlobStore stub reading the file on its own thread between chunks, as');
  console.log(' sha512sum does, and a one-image repository stub; its MD5 and SHA-512 are checked against md5sum and sha512sum. Runs');
  console.log(' before the local runtime starts. CPU = user + sys of the hashing process (bash `times` for coreutils). The budget is');
  console.log(' on CPU time: every pass here is one thread reading and hashing, and wall time on a shared machine swings with its load.)');

  // 4.3
  const act = r.active;
  const gib = act.bytes / MiB;
  console.log('');
  console.log(`4.3 Upload start to active, ${gib} MiB, through the local runtime (info, no budget: see the note below)`);
  const share = (s: number) => `${Math.round((100 * s) / act.total)}%`;
  printTable(
    ['step', '>s', '>share', '>MiB/s', 'note'],
    [
      ['POST /uploads (session, presigned URLs)', fixed(act.phases.session), share(act.phases.session), '', ''],
      [`PUT ${Math.ceil(act.bytes / PART_SIZE)} parts, ${CONCURRENCY} in flight`, fixed(act.phases.parts), share(act.phases.parts), fixed(mibs(act.bytes, act.phases.parts), 0), ''],
      [
        'POST .../complete until 202 (the local S3 assembles the object)',
        fixed(act.phases.complete),
        share(act.phases.complete),
        '',
        act.completeStatus === 202 ? '' : `answered ${act.completeStatus} at the function's 10 s timeout; the work finished behind it`,
      ],
      ['202 until GET shows active (verifier reads the object back)', fixed(act.phases.verify), share(act.phases.verify), fixed(mibs(act.bytes, act.phases.verify), 0),
        `${fixed(mibs(act.bytes, act.phases.verify) / mibs(h.bytes, verify.wall))}x the verifier on the file, wall (4.2)`],
      ['total, upload start to active', fixed(act.total), '100%', fixed(mibs(act.bytes, act.total), 0), ''],
    ],
  );
  printTable(
    ['reference, same file', '>s', '>to-active / reference'],
    [
      ['cp to the same disk', fixed(act.cp), `${fixed(act.total / act.cp, 1)}x`],
      ['lib-storage Upload (no verification)', fixed(act.libStorage), `${fixed(act.total / act.libStorage, 1)}x`],
    ],
  );
  console.log('(no budget: past the parts (budgeted in 4.1) and the hashing (4.2), the time is the emulator\'s, not the product\'s: s3rver');
  console.log(' copies and MD5s the whole object inside CompleteMultipartUpload, and the verifier reads it back through the S3 front,');
  console.log(' all on the bench process\'s one JS thread. A budget here would measure s3rver.)');
}
