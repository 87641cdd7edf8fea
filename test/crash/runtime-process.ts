import { spawn, type ChildProcess } from 'node:child_process';
import { readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { ListMultipartUploadsCommand, ListObjectsV2Command, ListPartsCommand, S3Client } from '@aws-sdk/client-s3';
import { DynamoImageRepository } from '../../shared/adapters/dynamo-image-repository.js';
import { S3_CLIENT_DEFAULTS } from '../../shared/adapters/s3-blob-store.js';
import { mintToken } from '../../infra/local/dev-key.js';
import { callAt, type CallOptions, type CallResult } from '../api/client.js';
import { freePort } from '../../infra/local/ports.js';
import { killGroup } from '../support/process-group.js';
import type { Image } from '../../shared/domain/image.js';

const ROOT = join(import.meta.dirname, '..', '..');
const CREDENTIALS = { accessKeyId: 'local', secretAccessKey: 'local' };

/** A fault rule that kills the runtime right before `command` leaves the SDK (shared/adapters/fault-injection.ts). */
export interface CrashRule {
  command: string;
  /** The image id (or object key prefix) the command is about. */
  key: string;
  /** With PutItem: only a write that stores the image in this status. */
  imageStatus?: string;
}

/** An HTTP answer as a client saw it. */
export type Answer = CallResult;

/**
 * `npm start` as a separate process with its data on disk, so a test can kill it at a chosen
 * point (SIGKILL to its whole process group, DynamoDB Local's JVM included: nothing is flushed
 * or cleaned up) and start it again on the same data, as a Lambda environment dies and a new
 * one picks up the same table and bucket.
 */
export class RuntimeProcess {
  private child: ChildProcess | undefined;
  private exited: Promise<void> = Promise.resolve();
  private log = '';
  url = '';
  private environment: Record<string, string> = {};

  constructor(
    readonly dataDir: string,
    private readonly env: Record<string, string> = {},
  ) {}

  async start(): Promise<void> {
    const port = await freePort();
    this.log = '';
    const child = spawn(process.execPath, ['--import', 'tsx', join(ROOT, 'infra/local/start.ts')], {
      cwd: ROOT,
      env: { ...process.env, ...this.env, PORT: String(port), DATA_DIR: this.dataDir },
      detached: true,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    this.child = child;
    this.exited = new Promise((resolve) => child.once('exit', () => resolve()));
    child.stdout?.on('data', (d) => (this.log += d));
    child.stderr?.on('data', (d) => (this.log += d));
    const deadline = Date.now() + 90_000;
    while (!/listening on http/.test(this.log)) {
      if (child.exitCode !== null || child.signalCode !== null) throw new Error(`the runtime exited while starting:\n${this.log.slice(-3000)}`);
      if (Date.now() > deadline) throw new Error(`the runtime did not start:\n${this.log.slice(-3000)}`);
      await new Promise((r) => setTimeout(r, 100));
    }
    this.url = `http://127.0.0.1:${port}`;
    this.environment = (JSON.parse(readFileSync(join(this.dataDir, 'runtime.json'), 'utf8')) as { environment: Record<string, string> }).environment;
  }

  /**
   * Holds each matching call at its point for good (it never leaves the SDK), so that many
   * requests can be brought to their crash points before one kill takes them all.
   */
  holdAt(rules: CrashRule[]): void {
    writeFileSync(this.faultsFile, JSON.stringify(rules.map((rule) => ({ ...rule, times: 1, crash: true }))));
  }

  /** Resolves once every held rule has been reached. */
  async allHeld(timeoutMs = 60_000): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      let waiting: unknown[] | undefined;
      try {
        const rules = JSON.parse(readFileSync(this.faultsFile, 'utf8')) as Array<{ times: number }>;
        waiting = rules.filter((r) => r.times !== 0);
      } catch {
        // Caught mid-write by the runtime: read again.
      }
      if (waiting?.length === 0) return;
      if (Date.now() > deadline) throw new Error(`not reached: ${JSON.stringify(waiting)}\n${this.log.slice(-3000)}`);
      await new Promise((r) => setTimeout(r, 50));
    }
  }

  /** The next matching call kills the process that makes it (SIGKILL) before it is sent. */
  killAt(rule: CrashRule): void {
    writeFileSync(this.faultsFile, JSON.stringify([{ ...rule, times: 1, kill: true }]));
  }

  clearFaults(): void {
    rmSync(this.faultsFile, { force: true });
  }

  /** SIGKILL to the process group: the runtime and its emulators die at once. */
  async kill(): Promise<void> {
    await killGroup(this.child, this.exited);
    this.child = undefined;
  }

  /** A clean stop (Ctrl-C), for the end of the suite. */
  async stop(): Promise<void> {
    if (!this.child?.pid) return;
    process.kill(this.child.pid, 'SIGINT');
    const timer = setTimeout(() => void this.kill(), 15_000);
    await this.exited;
    clearTimeout(timer);
    await this.kill();
  }

  /** `npm run sweep` against the running runtime, as if it were `asOf`; its report. */
  async sweep(asOf: Date, imageIds: string[]): Promise<Record<string, unknown>> {
    const args = ['--import', 'tsx', join(ROOT, 'infra/local/sweep-cli.ts'), '--as-of', asOf.toISOString(), ...imageIds.flatMap((id) => ['--image', id])];
    const { code, stdout, stderr } = await run(process.execPath, args, { ...process.env, DATA_DIR: this.dataDir });
    if (code !== 0) throw new Error(`sweep failed (${code}): ${stderr.slice(-2000)}`);
    return JSON.parse(stdout.slice(stdout.indexOf('{\n'))) as Record<string, unknown>;
  }

  token(project: string, roles = ['member', 'reader']): Promise<string> {
    return mintToken(this.dataDir, { project, roles });
  }

  /** One HTTP call to the API, as a client makes it; `status` 0 when the connection died. */
  async call(path: string, options: CallOptions = {}): Promise<Answer> {
    try {
      return await callAt(this.url, path, options);
    } catch (error) {
      return { status: 0, headers: new Headers(), text: String(error), body: undefined };
    }
  }

  /** The stored image, read behind the API (locations and sessions are not shown to clients). */
  async stored(id: string): Promise<Image | undefined> {
    const client = new DynamoDBClient({ endpoint: this.environment.DYNAMODB_ENDPOINT, region: 'us-east-1', credentials: CREDENTIALS });
    try {
      return await new DynamoImageRepository(client, { tableName: this.environment.TABLE_NAME! }).get(id);
    } finally {
      client.destroy();
    }
  }

  /** Object keys and open multipart uploads the store holds for an image. */
  /** The image's objects and open uploads in a bucket: the default store's unless named. */
  async storedBytes(id: string, bucket = this.environment.BUCKET_NAME!): Promise<{ objects: string[]; uploads: string[] }> {
    const s3 = new S3Client({ endpoint: this.environment.S3_ENDPOINT, region: 'us-east-1', forcePathStyle: true, credentials: CREDENTIALS, ...S3_CLIENT_DEFAULTS });
    const prefix = `images/${id}/`;
    try {
      const objects = await s3.send(new ListObjectsV2Command({ Bucket: bucket, Prefix: prefix }));
      const uploads = await s3.send(new ListMultipartUploadsCommand({ Bucket: bucket, Prefix: prefix }));
      return {
        objects: (objects.Contents ?? []).map((o) => o.Key!),
        uploads: (uploads.Uploads ?? []).map((u) => u.UploadId!),
      };
    } finally {
      s3.destroy();
    }
  }

  /** How many parts each open multipart upload of the image holds in the default store. */
  async storedParts(id: string): Promise<number[]> {
    const s3 = new S3Client({ endpoint: this.environment.S3_ENDPOINT, region: 'us-east-1', forcePathStyle: true, credentials: CREDENTIALS, ...S3_CLIENT_DEFAULTS });
    const Bucket = this.environment.BUCKET_NAME!;
    try {
      const uploads = (await s3.send(new ListMultipartUploadsCommand({ Bucket, Prefix: `images/${id}/` }))).Uploads ?? [];
      return await Promise.all(uploads.map(async (u) => ((await s3.send(new ListPartsCommand({ Bucket, Key: u.Key!, UploadId: u.UploadId! }))).Parts ?? []).length));
    } finally {
      s3.destroy();
    }
  }

  get output(): string {
    return this.log;
  }

  private get faultsFile(): string {
    return join(this.dataDir, 'faults.json');
  }

}

function run(command: string, args: string[], env: NodeJS.ProcessEnv): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, { cwd: ROOT, env, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d) => (stdout += d));
    child.stderr.on('data', (d) => (stderr += d));
    child.once('error', reject);
    child.once('exit', (code) => resolve({ code, stdout, stderr }));
  });
}
