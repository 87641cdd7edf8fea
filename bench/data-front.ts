import { spawn, spawnSync, fork, type ChildProcess } from 'node:child_process';
import { closeSync, createReadStream, existsSync, mkdtempSync, openSync, readFileSync, readSync, rmSync, writeFileSync } from 'node:fs';
import { request } from 'node:http';
import { cpus, loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { ImageDigester } from '../shared/app/image-digest.js';
import { writeRandomFile } from './random-file.js';
import { check, heading, median, printTable, progress as say } from './report.js';

/**
 * Section 5 of `npm run bench` (`--only front`): Glance's own upload path through the data front
 * (issue #10). A 1 GiB file goes through a chunked `PUT /v2/images/{id}/file`, as glanceclient
 * sends it, timed from its first byte to the 204 (the image active, its checksum and
 * os_hash_value checked against md5sum and sha512sum), against `sha512sum` of the same file run
 * in between the uploads (goal ≤ 2×). The same upload at 256 MiB shows whether memory grows with
 * the size.
 *
 * Four processes, so each one's CPU and memory are its own: the bench (the client), the local S3
 * emulator (its S3 front and s3rver), the local runtime (API handlers, Step Functions, the table
 * stream; DynamoDB Local is its own JVM), and the data front: its esbuild bundle, the file its
 * container runs in AWS, on the runtime's emulators, taking the PUT /file.
 * The peak RSS is the front process's (VmHWM, reset before each upload).
 */

const MiB = 1024 * 1024;
export const FRONT_BYTES = 1024 * MiB;
export const SMALL_FRONT_BYTES = 256 * MiB;
/** What glanceclient and openstacksdk write per chunk (requests/http.client send 64 KiB pieces). */
const CLIENT_CHUNK = 64 * 1024;
export const FRONT_ROUNDS = Number(process.env.SKYGLASS_BENCH_FRONT_ROUNDS) || 3;
export const RATIO_GOAL = 2;
export const RSS_GOAL_MB = 256;

const ROLE = 'SKYGLASS_BENCH_FRONT_ROLE';
const sectionStart = performance.now();
const progress = (message: string) => say(`[front ${((performance.now() - sectionStart) / 1000).toFixed(0)} s] ${message}`);

interface Upload {
  bytes: number;
  /** First byte written to the 204. */
  seconds: number;
  /** First byte to the last byte written (the request ended on the client's side). */
  body: number;
  /** Last byte written to the 204: completing the multipart upload and activating. */
  tail: number;
  /** CPU seconds (user + sys) during the upload: the data front's process, the S3 emulator's, the rest of the runtime's. */
  frontCpu: number;
  runtimeCpu: number;
  s3Cpu: number;
  /** Peak RSS of the data front's process during the upload, MiB. */
  frontPeakMiB: number;
  /** RSS of the front's process just before the upload (its peak is reset to it), MiB: Node, the modules, the warm clients. */
  frontBeforeMiB: number;
  s3PeakMiB: number;
}

/** Wall and CPU seconds of one pass. */
interface Timing {
  wall: number;
  cpu: number;
}

export interface DataFrontResult {
  machine: { cpus: number; loadAtStart: number };
  sha512sum: Timing[];
  /** The production ImageDigester (MD5 + SHA-512 + format inspector) over the file in this process, 64 KiB reads: the front's hashing floor. */
  digester: Timing[];
  uploads: Upload[];
}

// ---- /proc ----------------------------------------------------------------------------------

function cpuSeconds(pid: number): number {
  // Fields after the command's closing parenthesis: state is 3rd, utime 14th, stime 15th.
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return (Number(fields[11]) + Number(fields[12])) / 100;
}

function statusMiB(pid: number, field: 'VmHWM' | 'VmRSS'): number {
  const m = new RegExp(`${field}:\\s+(\\d+) kB`).exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  if (!m) throw new Error(`no ${field} for ${pid}`);
  return Number(m[1]) / 1024;
}

const peakRssMiB = (pid: number) => statusMiB(pid, 'VmHWM');
const rssMiB = (pid: number) => statusMiB(pid, 'VmRSS');

/**
 * The hashing the front does, alone: the production digester fed the file in 64 KiB reads on
 * this thread (as the front is fed the body), its hashes checked against md5sum and sha512sum.
 */
async function digestFile(file: string, want: { md5: string; sha512: string }): Promise<Timing> {
  const cpu = process.cpuUsage();
  const start = performance.now();
  const digester = new ImageDigester();
  const fd = openSync(file, 'r');
  try {
    for (;;) {
      const chunk = Buffer.allocUnsafe(CLIENT_CHUNK);
      const n = readSync(fd, chunk, 0, CLIENT_CHUNK, null);
      if (n === 0) break;
      digester.update(n < CLIENT_CHUNK ? chunk.subarray(0, n) : chunk);
    }
  } finally {
    closeSync(fd);
  }
  const digest = await digester.finish();
  const wall = (performance.now() - start) / 1000;
  const used = process.cpuUsage(cpu);
  if (digest.checksum !== want.md5 || digest.osHashValue !== want.sha512) throw new Error(`ImageDigester's hashes of ${file} differ from md5sum's and sha512sum's`);
  return { wall, cpu: (used.user + used.system) / 1e6 };
}

/** Resets the process's peak RSS to its current RSS (Linux: clear_refs 5). */
function resetPeakRss(pid: number): void {
  writeFileSync(`/proc/${pid}/clear_refs`, '5');
}

// ---- the client -----------------------------------------------------------------------------

function timedCommand(command: string, args: string[]): { wall: number; cpu: number; stdout: string } {
  const start = performance.now();
  const child = spawnSync('bash', ['-c', '"$@"; status=$?; times >&2; exit $status', 'bash', command, ...args], { encoding: 'utf8' });
  const wall = (performance.now() - start) / 1000;
  if (child.status !== 0) throw new Error(`${command} exited ${child.status}: ${child.stderr}`);
  const m = /(\d+)m([\d.]+)s\s+(\d+)m([\d.]+)s\s*$/.exec(child.stderr.trim());
  if (!m) throw new Error(`cannot read the CPU time of ${command} from ${JSON.stringify(child.stderr)}`);
  return { wall, cpu: Number(m[1]) * 60 + Number(m[2]) + Number(m[3]) * 60 + Number(m[4]), stdout: child.stdout };
}

/**
 * One JSON request on a connection of its own: a kept-alive socket left idle through a long
 * upload can be closed by the server just as it is reused ("other side closed").
 */
function api(url: string, token: string, path: string, method = 'GET', body?: unknown): Promise<{ status: number; body: any }> {
  const payload = body === undefined ? undefined : JSON.stringify(body);
  return new Promise((resolve, reject) => {
    const req = request(`${url}${path}`, {
      method,
      agent: false,
      headers: { 'X-Auth-Token': token, 'Content-Type': 'application/json', Accept: 'application/json', ...(payload ? { 'Content-Length': Buffer.byteLength(payload) } : {}) },
    });
    req.on('error', reject);
    req.on('response', (res) => {
      let text = '';
      res.setEncoding('utf8');
      res.on('data', (d: string) => (text += d));
      res.on('end', () => {
        try {
          resolve({ status: res.statusCode ?? 0, body: text ? JSON.parse(text) : undefined });
        } catch (error) {
          reject(error);
        }
      });
    });
    req.end(payload);
  });
}

/** A chunked PUT of the file in 64 KiB writes; resolves at the response. */
function putChunked(url: string, token: string, path: string, file: string): Promise<{ status: number; text: string; first: number; last: number; answered: number }> {
  return new Promise((resolve, reject) => {
    const req = request(`${url}${path}`, {
      method: 'PUT',
      agent: false,
      headers: { 'X-Auth-Token': token, 'Content-Type': 'application/octet-stream', Accept: 'application/json', 'Transfer-Encoding': 'chunked' },
    });
    let first = 0;
    let last = 0;
    req.on('error', reject);
    req.on('response', (res) => {
      let text = '';
      res.setEncoding('utf8');
      res.on('data', (d: string) => (text += d));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, text, first, last, answered: performance.now() }));
    });
    (async () => {
      first = performance.now();
      for await (const chunk of createReadStream(file, { highWaterMark: CLIENT_CHUNK })) {
        if (!req.write(chunk)) await new Promise((r) => req.once('drain', r));
      }
      req.end(() => (last = performance.now()));
    })().catch(reject);
  });
}

// ---- children -------------------------------------------------------------------------------

interface Started {
  child: ChildProcess;
  message: Record<string, string>;
}

function startChild(role: 's3' | 'runtime', env: Record<string, string>): Promise<Started> {
  const execArgv = [...process.execArgv];
  // SKYGLASS_BENCH_CPU_PROF=<dir>: a V8 CPU profile of each child, written when it stops.
  const profileDir = process.env.SKYGLASS_BENCH_CPU_PROF;
  if (profileDir) execArgv.push('--cpu-prof', '--cpu-prof-dir', profileDir, '--cpu-prof-name', `${role}.cpuprofile`);
  const child = fork(import.meta.filename, [], { env: { ...process.env, ...env, [ROLE]: role }, execArgv, stdio: ['ignore', 'ignore', 'inherit', 'ipc'] });
  return new Promise((resolve, reject) => {
    child.once('message', (m) => resolve({ child, message: m as Record<string, string> }));
    child.once('error', reject);
    child.once('exit', (code) => reject(new Error(`bench ${role} process exited ${code} before it started`)));
  });
}

/**
 * The data front as its container runs it: the esbuild bundle (`node <flags> index.mjs`), with the
 * environment the local runtime gives its functions (runtime.json), on the same emulators.
 */
async function startBundledFront(dataDir: string, bundleDir: string): Promise<Started> {
  const { bundleDataFront, DATA_FRONT_NODE_FLAGS } = await import('../infra/bundling.js');
  const { environment } = JSON.parse(readFileSync(join(dataDir, 'runtime.json'), 'utf8')) as { environment: Record<string, string> };
  bundleDataFront(bundleDir);
  const execArgv: string[] = [...DATA_FRONT_NODE_FLAGS];
  const profileDir = process.env.SKYGLASS_BENCH_CPU_PROF;
  if (profileDir) execArgv.push('--cpu-prof', '--cpu-prof-dir', profileDir, '--cpu-prof-name', 'front.cpuprofile');
  const child = spawn(process.execPath, [...execArgv, 'index.mjs'], {
    cwd: bundleDir,
    env: { ...process.env, ...environment, PORT: '0', HOST: '127.0.0.1', STOP_GRACE_SECONDS: '5' },
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  return new Promise((resolve, reject) => {
    let out = '';
    child.stdout!.setEncoding('utf8');
    child.stdout!.on('data', (text: string) => {
      out += text;
      const listening = /"url":"([^"]+)"/.exec(out);
      if (listening) resolve({ child, message: { url: listening[1] as string } });
    });
    child.once('error', reject);
    child.once('exit', (code) => reject(new Error(`data front exited (${code}) before listening: ${out}`)));
  });
}

function stopFront(started: Started | undefined): Promise<void> {
  if (!started || started.child.exitCode !== null) return Promise.resolve();
  return new Promise((resolve) => {
    started.child.once('exit', () => resolve());
    started.child.kill('SIGTERM');
  });
}

function stopChild(started: Started | undefined): Promise<void> {
  if (!started || started.child.exitCode !== null) return Promise.resolve();
  return new Promise((resolve) => {
    started.child.once('exit', () => resolve());
    started.child.send('stop');
  });
}

if (process.env[ROLE] && process.send) {
  const role = process.env[ROLE];
  let stop: () => Promise<void>;
  if (role === 's3') {
    const { startLocalS3 } = await import('../infra/local/s3/index.js');
    const { LOCAL_S3 } = await import('../infra/local/server.js');
    const s3 = await startLocalS3({ ...LOCAL_S3, buckets: [...LOCAL_S3.buckets], dataDir: null });
    stop = s3.stop;
    process.send({ endpoint: s3.endpoint });
  } else {
    const { startLocalRuntime } = await import('../infra/local/server.js');
    const { mintToken } = await import('../infra/local/dev-key.js');
    const dataDir = process.env.SKYGLASS_BENCH_FRONT_DIR as string;
    const runtime = await startLocalRuntime({ port: 0, dataDir, inMemory: true, s3Endpoint: process.env.SKYGLASS_BENCH_S3_ENDPOINT });
    stop = runtime.stop;
    process.send({ url: runtime.url, token: await mintToken(dataDir, { project: 'bench-front', roles: ['member', 'reader'] }) });
  }
  process.on('message', (m) => {
    if (m === 'stop') void stop().finally(() => process.exit(0));
  });
  process.on('disconnect', () => void stop().finally(() => process.exit(0)));
}

// ---- the section ----------------------------------------------------------------------------

export async function measureDataFront(): Promise<DataFrontResult> {
  const machine = { cpus: cpus().length, loadAtStart: loadavg()[0] ?? 0 };
  const dir = mkdtempSync(join(tmpdir(), 'skyglass-bench-front-'));
  let s3: Started | undefined;
  let runtime: Started | undefined;
  let front: Started | undefined;
  try {
    const big = join(dir, 'image-1g.raw');
    const small = join(dir, 'image-256m.raw');
    progress(`writing ${FRONT_BYTES / MiB} and ${SMALL_FRONT_BYTES / MiB} MiB random files under ${dir}`);
    writeRandomFile(big, FRONT_BYTES);
    writeRandomFile(small, SMALL_FRONT_BYTES);
    // Untimed: what the images must come out as.
    const expected = new Map<string, { md5: string; sha512: string }>();
    for (const file of [big, small]) {
      expected.set(file, { md5: timedCommand('md5sum', [file]).stdout.split(/\s/)[0] as string, sha512: timedCommand('sha512sum', [file]).stdout.split(/\s/)[0] as string });
    }

    progress('starting the local S3 emulator, the local runtime and the data front, each in a process of its own');
    s3 = await startChild('s3', {});
    runtime = await startChild('runtime', { SKYGLASS_BENCH_FRONT_DIR: join(dir, 'runtime'), SKYGLASS_BENCH_S3_ENDPOINT: s3.message.endpoint as string });
    const { url, token } = runtime.message as { url: string; token: string };
    front = await startBundledFront(join(dir, 'runtime'), join(dir, 'front-bundle'));
    const frontUrl = front.message.url as string;
    const frontPid = front.child.pid as number;
    const runtimePid = runtime.child.pid as number;
    const s3Pid = s3.child.pid as number;

    const upload = async (file: string, bytes: number): Promise<Upload> => {
      const created = await api(url, token, '/v2/images', 'POST', { name: 'bench-front', disk_format: 'raw', container_format: 'bare' });
      if (created.status !== 201) throw new Error(`create image: ${created.status} ${JSON.stringify(created.body)}`);
      const id = created.body.id as string;
      resetPeakRss(frontPid);
      resetPeakRss(s3Pid);
      const frontBeforeMiB = rssMiB(frontPid);
      const cpuBefore = { front: cpuSeconds(frontPid), s3: cpuSeconds(s3Pid), runtime: cpuSeconds(runtimePid) };
      const put = await putChunked(frontUrl, token, `/v2/images/${id}/file`, file);
      const frontCpu = cpuSeconds(frontPid) - cpuBefore.front;
      const runtimeCpu = cpuSeconds(runtimePid) - cpuBefore.runtime;
      const s3Cpu = cpuSeconds(s3Pid) - cpuBefore.s3;
      const frontPeakMiB = peakRssMiB(frontPid);
      const s3PeakMiB = peakRssMiB(s3Pid);
      if (put.status !== 204) throw new Error(`PUT /file: ${put.status} ${put.text}`);
      const image = await api(url, token, `/v2/images/${id}`);
      const want = expected.get(file);
      if (image.body.status !== 'active' || image.body.size !== bytes || image.body.checksum !== want?.md5 || image.body.os_hash_value !== want?.sha512) {
        throw new Error(`image ${id} after the 204: ${JSON.stringify({ ...image.body, want })}`);
      }
      await api(url, token, `/v2/images/${id}`, 'DELETE');
      return {
        bytes,
        seconds: (put.answered - put.first) / 1000,
        body: (put.last - put.first) / 1000,
        tail: (put.answered - put.last) / 1000,
        frontCpu,
        runtimeCpu,
        s3Cpu,
        frontPeakMiB,
        frontBeforeMiB,
        s3PeakMiB,
      };
    };

    progress('warm-up: one 256 MiB upload (loads the handlers, opens the connections)');
    await upload(small, SMALL_FRONT_BYTES);
    const sha512sum: Timing[] = [];
    const digester: Timing[] = [];
    const uploads: Upload[] = [];
    for (let round = 1; round <= FRONT_ROUNDS; round++) {
      progress(`round ${round}/${FRONT_ROUNDS}: sha512sum, the digester alone, then PUT /file of ${FRONT_BYTES / MiB} MiB, then ${SMALL_FRONT_BYTES / MiB} MiB`);
      const { wall, cpu } = timedCommand('sha512sum', [big]);
      sha512sum.push({ wall, cpu });
      digester.push(await digestFile(big, expected.get(big) as { md5: string; sha512: string }));
      uploads.push(await upload(big, FRONT_BYTES));
      uploads.push(await upload(small, SMALL_FRONT_BYTES));
    }
    return { machine, sha512sum, digester, uploads };
  } finally {
    progress('stopping the data front, the runtime and the S3 emulator, removing the bench files');
    await stopFront(front);
    await stopChild(runtime);
    await stopChild(s3);
    if (existsSync(dir)) rmSync(dir, { recursive: true, force: true });
  }
}

// ---- report ---------------------------------------------------------------------------------

const fixed = (n: number, digits = 2) => n.toFixed(digits);
const list = (xs: number[], digits = 1) => xs.map((x) => fixed(x, digits)).join(', ');

export function reportDataFront(r: DataFrontResult): void {
  heading(`5. Data front: chunked PUT /file to active (${r.machine.cpus} CPUs, load average ${fixed(r.machine.loadAtStart, 1)} at start)`);
  const big = r.uploads.filter((u) => u.bytes === FRONT_BYTES);
  const small = r.uploads.filter((u) => u.bytes === SMALL_FRONT_BYTES);
  const sha = median(r.sha512sum.map((s) => s.wall));
  const shaCpu = median(r.sha512sum.map((s) => s.cpu));
  const ratio = median(big.map((u) => u.seconds)) / sha;
  const peakBig = Math.max(...big.map((u) => u.frontPeakMiB));
  const peakSmall = Math.max(...small.map((u) => u.frontPeakMiB));
  // What each upload added over the RSS it started from: a peak alone would hide memory kept from
  // one upload to the next (the idle RSS creeping up) behind whichever size ran last.
  const addedBig = Math.max(...big.map((u) => u.frontPeakMiB - u.frontBeforeMiB));
  const addedSmall = Math.max(...small.map((u) => u.frontPeakMiB - u.frontBeforeMiB));
  const all = r.uploads;
  const creep = (all.at(-1)?.frontBeforeMiB ?? 0) - (all[0]?.frontBeforeMiB ?? 0);
  console.log(`${FRONT_BYTES / MiB} MiB random file, 64 KiB chunked writes, first byte to the 204 (image active, MD5 and SHA-512 checked); medians of ${big.length}`);
  printTable(
    ['figure', '>median', '>runs', 'goal', 'result'],
    [
      ['sha512sum of the file, wall s (reference)', fixed(sha), list(r.sha512sum.map((s) => s.wall), 2), '', 'reference'],
      ['PUT /file to active, wall s', fixed(median(big.map((u) => u.seconds))), list(big.map((u) => u.seconds)), '', ''],
      ['  first byte to last byte sent', fixed(median(big.map((u) => u.body))), list(big.map((u) => u.body)), '', 'info'],
      ['  last byte sent to the 204 (complete, activate)', fixed(median(big.map((u) => u.tail))), list(big.map((u) => u.tail)), '', 'info'],
      ['ImageDigester alone (MD5 + SHA-512 + inspector, 64 KiB chunks), wall s', fixed(median(r.digester.map((d) => d.wall))), list(r.digester.map((d) => d.wall), 2), '', 'info'],
      ['  / sha512sum, wall; on CPU time', `${fixed(median(r.digester.map((d) => d.wall)) / sha)}x; ${fixed(median(r.digester.map((d) => d.cpu)) / shaCpu)}x`, list(r.digester.map((d, i) => d.wall / (r.sha512sum[i] as Timing).wall), 2), '', 'info'],
      ['PUT /file / sha512sum, wall', `${fixed(ratio)}x`, list(big.map((u) => u.seconds / sha), 2), `<= ${RATIO_GOAL}x`, check('data front', 'PUT /file 1 GiB vs sha512sum', ratio <= RATIO_GOAL)],
      ['data front process CPU s / sha512sum CPU s', `${fixed(median(big.map((u) => u.frontCpu)) / shaCpu)}x`, list(big.map((u) => u.frontCpu / shaCpu), 2), '', 'info'],
      ['S3 emulator process CPU s / sha512sum CPU s', `${fixed(median(big.map((u) => u.s3Cpu)) / shaCpu)}x`, list(big.map((u) => u.s3Cpu / shaCpu), 2), '', 'info'],
      ['rest of the runtime process CPU s / sha512sum CPU s', `${fixed(median(big.map((u) => u.runtimeCpu)) / shaCpu)}x`, list(big.map((u) => u.runtimeCpu / shaCpu), 2), '', 'info'],
      [`data front process peak RSS, ${FRONT_BYTES / MiB} MiB upload, MiB`, fixed(peakBig, 0), list(big.map((u) => u.frontPeakMiB), 0), `< ${RSS_GOAL_MB} MB`, check('data front', 'front peak RSS', peakBig * 1.048576 < RSS_GOAL_MB)],
      ['  of which held before the upload (Node, modules, warm clients), MiB', fixed(median(big.map((u) => u.frontBeforeMiB)), 0), list(big.map((u) => u.frontBeforeMiB), 0), '', 'info'],
      ['  peak minus before: what the upload added, MiB', fixed(Math.max(...big.map((u) => u.frontPeakMiB - u.frontBeforeMiB)), 0), list(big.map((u) => u.frontPeakMiB - u.frontBeforeMiB), 0), '', 'info'],
      [`data front process peak RSS, ${SMALL_FRONT_BYTES / MiB} MiB upload, MiB`, fixed(peakSmall, 0), list(small.map((u) => u.frontPeakMiB), 0), '', 'info'],
      [`  upload's own growth (peak minus before), 1 GiB vs ${SMALL_FRONT_BYTES / MiB} MiB, MiB`, `${fixed(addedBig, 0)} vs ${fixed(addedSmall, 0)}`, list(small.map((u) => u.frontPeakMiB - u.frontBeforeMiB), 0), 'same', check('data front', 'front RSS flat with size', addedBig <= addedSmall * 1.5 + 16)],
      [`  RSS before the last upload minus before the first (${all.length} uploads), MiB`, fixed(creep, 0), list(all.map((u) => u.frontBeforeMiB), 0), '< 32 MiB', check('data front', 'front RSS kept across uploads', creep < 32)],
      ['S3 emulator process peak RSS, 1 GiB upload, MiB', fixed(Math.max(...big.map((u) => u.s3PeakMiB)), 0), list(big.map((u) => u.s3PeakMiB), 0), '', 'info'],
    ],
  );
  console.log('(client = this process; the S3 emulator (S3 front + s3rver) in a second; the runtime (API handlers, Step Functions, table');
  console.log(' stream) in a third; the data front, its bundle as its container runs it (node index.mjs: the authorizer and the streamed');
  console.log(' handler) on the same emulators taking the PUT /file, in a fourth; DynamoDB Local is a JVM of its own. sha512sum runs');
  console.log(" between the uploads on the same file. The front's peak RSS is VmHWM, reset before each upload; the 256 MiB figure shows");
  console.log(' whether memory grows with the size.');
  console.log(' The ImageDigester line is the front\'s hashing alone, in this process, on the same file: the floor of a single-threaded front.)');
}
