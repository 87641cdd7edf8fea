import { execFileSync, fork, spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { HeadObjectCommand, S3Client } from '@aws-sdk/client-s3';
import { Upload } from '@aws-sdk/lib-storage';
import { createReadStream } from 'node:fs';
import type { LocalRuntime } from '../infra/local/server.js';
// @ts-expect-error: a plain .mjs build script (scripts/build-cli.mjs)
import { buildCli } from '../scripts/build-cli.mjs';
import { writeRandomFile } from './random-file.js';
import { check, heading, printTable, progress } from './report.js';

/**
 * Section `cli`: the `skyglass` CLI's upload, the built bundle run as a user runs it
 * (`image-create --file`, from process start to the image active), against `@aws-sdk/lib-storage`
 * Upload of the same file to the same local S3 in the same run (8 MiB parts, 4 in flight, no
 * verification: the SDK's best case), and the CLI's peak RSS (GNU time's maximum resident set)
 * uploading 1 GiB and 4 GiB: it streams parts from disk, so it should not grow with the file.
 */
const MiB = 1024 * 1024;
const SMALL = 1024 * MiB;
const LARGE = 4096 * MiB;
const ROUNDS = 2;
const SPEED_GOAL = 1.3;
const RSS_GOAL_MB = 200;
const CHILD_FLAG = 'SKYGLASS_BENCH_CLI_CHILD';

export interface CliResult {
  cliSeconds: number[];
  /** The 8-in-flight runs' phases: process start to every part stored, and to the complete accepted. */
  cliStoredSeconds: number[];
  cliCompletedSeconds: number[];
  cliParallel4Seconds: number[];
  libStorageSeconds: number[];
  rssKiB: { small: number; large: number };
  startMs: { cli: number; glance: number; node: number };
}

export interface Timed {
  seconds: number;
  maxRssKiB: number;
  /** Seconds from process start to the CLI's `--debug` lines: every part stored, and the complete accepted. */
  storedSeconds: number;
  completedSeconds: number;
}

/** Runs the bundle under GNU time, with --debug; resolves with the wall time, its phases and the maximum RSS. */
export function runCli(bundle: string, env: NodeJS.ProcessEnv, args: string[]): Promise<Timed> {
  return new Promise((resolve, reject) => {
    const started = performance.now();
    const child = spawn('/usr/bin/time', ['-f', 'maxrss=%M', process.execPath, bundle, ...args, '--debug'], { env, stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    const at: Record<string, number> = {};
    child.stdout.on('data', (d) => (out += d));
    child.stderr.on('data', (d) => {
      err += d;
      // Each phase's end, timed as its --debug line arrives (the CLI writes it as it happens).
      for (const [phase, line] of [['stored', 'debug: every part stored'], ['completed', 'debug: complete accepted']] as const) {
        if (at[phase] === undefined && err.includes(line)) at[phase] = (performance.now() - started) / 1000;
      }
    });
    child.on('close', (code) => {
      const seconds = (performance.now() - started) / 1000;
      if (code !== 0) return reject(new Error(`skyglass ${args.join(' ')} exited ${code}: ${err}`));
      if (!/\| status +\| active/.test(out)) return reject(new Error(`the image did not end active:\n${out}`));
      resolve({ seconds, maxRssKiB: Number(/maxrss=(\d+)/.exec(err)?.[1] ?? NaN), storedSeconds: at.stored ?? NaN, completedSeconds: at.completed ?? NaN });
    });
  });
}

function startMs(command: string[], runs = 5): number {
  const started = performance.now();
  for (let i = 0; i < runs; i++) execFileSync(command[0]!, command.slice(1), { stdio: 'ignore' });
  return (performance.now() - started) / runs;
}

async function libStorage(client: S3Client, bucket: string, key: string, file: string, size: number): Promise<number> {
  const started = performance.now();
  await new Upload({ client, params: { Bucket: bucket, Key: key, Body: createReadStream(file), ContentType: 'application/octet-stream' }, partSize: 8 * MiB, queueSize: 4 }).done();
  const seconds = (performance.now() - started) / 1000;
  const head = await client.send(new HeadObjectCommand({ Bucket: bucket, Key: key }));
  if (head.ContentLength !== size) throw new Error(`lib-storage stored ${head.ContentLength} of ${size} bytes`);
  return seconds;
}

export async function measureCli(): Promise<CliResult> {
  const dir = mkdtempSync(join(tmpdir(), 'skyglass-bench-cli-'));
  let runtime: LocalRuntime | undefined;
  try {
    const bundle = await (buildCli as (o: { outfile: string }) => Promise<string>)({ outfile: join(dir, 'skyglass.mjs') });
    const start = {
      cli: startMs([process.execPath, bundle, '--version']),
      node: startMs([process.execPath, '-e', '0']),
      glance: startMs(['/usr/bin/glance', '--version'], 3),
    };
    const small = join(dir, 'one.bin');
    const large = join(dir, 'four.bin');
    progress(`writing ${SMALL / MiB} and ${LARGE / MiB} MiB random files under ${dir}`);
    writeRandomFile(small, SMALL);
    writeRandomFile(large, LARGE);
    const { startLocalRuntime } = await import('../infra/local/server.js');
    const { mintToken } = await import('../infra/local/dev-key.js');
    progress('starting the local runtime');
    runtime = await startLocalRuntime({ port: 0, dataDir: join(dir, 'runtime'), inMemory: true });
    const rt = runtime;
    const env = { ...process.env, OS_IMAGE_URL: rt.url, OS_AUTH_TOKEN: await mintToken(join(dir, 'runtime'), { project: 'bench-cli', roles: ['member'] }), SKYGLASS_STATE_DIR: join(dir, 'state') };
    const create = (file: string, parallel: number) => ['image-create', '--name', 'bench', '--disk-format', 'raw', '--container-format', 'bare', '--file', file, '--parallel', String(parallel)];
    const s3 = new S3Client({ region: 'us-east-1', endpoint: rt.s3Endpoint, forcePathStyle: true, credentials: { accessKeyId: 'local', secretAccessKey: 'local' }, requestChecksumCalculation: 'WHEN_REQUIRED', responseChecksumValidation: 'WHEN_REQUIRED' });

    progress('warm-up: one small upload each way');
    const warm = join(dir, 'warm.bin');
    writeRandomFile(warm, 10 * MiB);
    await runCli(bundle, env, create(warm, 8));
    await libStorage(s3, rt.bucket, 'bench/warm', warm, 10 * MiB);

    const result: CliResult = { cliSeconds: [], cliStoredSeconds: [], cliCompletedSeconds: [], cliParallel4Seconds: [], libStorageSeconds: [], rssKiB: { small: 0, large: 0 }, startMs: start };
    for (let round = 1; round <= ROUNDS; round++) {
      progress(`round ${round}/${ROUNDS}: skyglass image-create --file (8 and 4 parts in flight) to active, lib-storage Upload, ${SMALL / MiB} MiB each`);
      const cli = await runCli(bundle, env, create(small, 8));
      result.cliSeconds.push(cli.seconds);
      result.cliStoredSeconds.push(cli.storedSeconds);
      result.cliCompletedSeconds.push(cli.completedSeconds);
      result.rssKiB.small = Math.max(result.rssKiB.small, cli.maxRssKiB);
      await rt.workflowsIdle();
      const four = await runCli(bundle, env, create(small, 4));
      result.cliParallel4Seconds.push(four.seconds);
      await rt.workflowsIdle();
      result.libStorageSeconds.push(await libStorage(s3, rt.bucket, `bench/cli-${round}`, small, SMALL));
    }
    progress(`skyglass image-create --file of ${LARGE / MiB} MiB (peak RSS)`);
    result.rssKiB.large = (await runCli(bundle, env, create(large, 8))).maxRssKiB;
    return result;
  } finally {
    await runtime?.stop();
    rmSync(dir, { recursive: true, force: true });
  }
}

export function reportCli(r: CliResult): void {
  heading('CLI: skyglass image-create --file to active, against lib-storage Upload (same file, same local S3)');
  const best = (xs: number[]) => Math.min(...xs);
  const mibs = (s: number) => (SMALL / MiB / s).toFixed(0);
  const cli = best(r.cliSeconds);
  const lib = best(r.libStorageSeconds);
  const ratio = lib / cli;
  const runs = (xs: number[]) => xs.map((x) => x.toFixed(1)).join(', ');
  printTable(
    ['path (1 GiB)', '>MiB/s', '>vs lib-storage', '>runs (s)', 'result'],
    [
      ['lib-storage Upload (reference; no verification, no process start)', mibs(lib), '1.00x', runs(r.libStorageSeconds), 'reference'],
      ['skyglass image-create --file, 8 in flight: process start to active', mibs(cli), `${ratio.toFixed(2)}x`, runs(r.cliSeconds), `${check('cli', 'upload speed', ratio >= SPEED_GOAL)} (goal >= ${SPEED_GOAL}x)`],
      ['skyglass image-create --file --parallel 4 (lib-storage\'s queueSize)', mibs(best(r.cliParallel4Seconds)), `${(lib / best(r.cliParallel4Seconds)).toFixed(2)}x`, runs(r.cliParallel4Seconds), 'info'],
      // What lib-storage's Upload does (parts, then CompleteMultipartUpload), and nothing after: the like-for-like transfer.
      ['skyglass, 8 in flight: process start to the complete accepted', mibs(best(r.cliCompletedSeconds)), `${(lib / best(r.cliCompletedSeconds)).toFixed(2)}x`, runs(r.cliCompletedSeconds), 'info (same steps as the reference)'],
    ],
  );
  console.log('');
  // Where the to-active time goes, per 8-in-flight run: the verification is the service's
  // (reading the stored GiB back, MD5, SHA-512, format inspection), which the reference never does.
  printTable(
    ['skyglass phases (1 GiB, 8 in flight)', '>start to parts stored (s)', '>complete (s)', '>verification to active (s)'],
    r.cliSeconds.map((total, i) => [
      `run ${i + 1}`,
      r.cliStoredSeconds[i]!.toFixed(1),
      (r.cliCompletedSeconds[i]! - r.cliStoredSeconds[i]!).toFixed(1),
      (total - r.cliCompletedSeconds[i]!).toFixed(1),
    ]),
  );
  console.log('');
  printTable(
    ['CLI peak RSS', '>MB', 'result'],
    [
      ['uploading 1 GiB', (r.rssKiB.small / 1024).toFixed(0), `${check('cli', 'RSS 1 GiB', r.rssKiB.small / 1024 < RSS_GOAL_MB)} (goal < ${RSS_GOAL_MB} MB)`],
      ['uploading 4 GiB', (r.rssKiB.large / 1024).toFixed(0), `${check('cli', 'RSS 4 GiB', r.rssKiB.large / 1024 < RSS_GOAL_MB)} (goal < ${RSS_GOAL_MB} MB)`],
    ],
  );
  console.log('');
  printTable(
    ['start-up (mean of runs)', '>ms', '>vs glance'],
    [
      ['glance --version (reference)', r.startMs.glance.toFixed(0), '1.00x'],
      ['skyglass --version (node + the bundle)', r.startMs.cli.toFixed(0), `${(r.startMs.glance / r.startMs.cli).toFixed(1)}x faster`],
      ['node -e 0 (floor)', r.startMs.node.toFixed(0), ''],
    ],
  );
}

/** In a child process of its own (the local runtime is one per process, as in bench/data-plane.ts). */
export function measureCliIsolated(): Promise<CliResult> {
  const child = fork(import.meta.filename, [], { env: { ...process.env, [CHILD_FLAG]: '1' }, stdio: ['ignore', 'ignore', 'inherit', 'ipc'] });
  return new Promise((resolve, reject) => {
    let message: { result?: CliResult; error?: string } | undefined;
    child.on('message', (m) => (message = m as typeof message));
    child.on('error', reject);
    child.on('exit', (code, signal) => {
      if (message?.result) resolve(message.result);
      else reject(new Error(`cli bench child failed (${signal ?? `exit ${code}`}): ${message?.error ?? 'no result'}`));
    });
  });
}

if (process.env[CHILD_FLAG] === '1' && process.send) {
  const send = (m: unknown) => new Promise<void>((resolve) => process.send?.(m, undefined, undefined, () => resolve()));
  try {
    await send({ result: await measureCli() });
    process.exit(0);
  } catch (error) {
    await send({ error: (error as Error).stack ?? String(error) });
    process.exit(1);
  }
}
