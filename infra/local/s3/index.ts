import { mkdirSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Front } from './front.js';
import { startEngine, type Engine } from './s3rver.js';
import { SigV4Verifier } from './sigv4.js';
import { UploadRegistry } from './uploads.js';

/**
 * The local S3: s3rver on a private loopback port for storage, and in front of it, on its own
 * port, a thin proxy that does what s3rver does not and the product relies on: SigV4 checks
 * (header and presigned URLs, with expiry), multipart bookkeeping (ListParts, Abort,
 * NoSuchUpload, Complete's part checks, S3's `<md5-of-md5s>-<n>` ETag), body checks
 * (x-amz-content-sha256, Content-MD5, x-amz-checksum-*, aws-chunked framing removed), range
 * edge cases, and the bucket's CORS rule. Clients use path-style addressing.
 */
export interface LocalS3Options {
  /** Where objects and the multipart records live; null uses a temporary directory removed on stop. */
  dataDir: string | null;
  /** Buckets created at start (kept if they exist). */
  buckets: string[];
  /** The only credentials the front accepts. */
  accessKeyId: string;
  secretAccessKey: string;
  /** The region signatures must be scoped to. */
  region: string;
  /** Port of the front on 127.0.0.1. @default 0 (any free port) */
  port?: number;
}

export interface LocalS3 {
  /** `http://127.0.0.1:<port>`: use with `forcePathStyle: true`. */
  endpoint: string;
  stop(): Promise<void>;
}

export async function startLocalS3(options: LocalS3Options): Promise<LocalS3> {
  const temporary = options.dataDir === null;
  const dir = options.dataDir ?? mkdtempSync(join(tmpdir(), 'skyglass-s3-'));
  const objectsDir = join(dir, 'objects');
  const spoolDir = join(dir, 'spool');
  mkdirSync(objectsDir, { recursive: true });
  mkdirSync(spoolDir, { recursive: true });
  // Bodies spooled by an earlier run that did not stop cleanly.
  for (const leftover of readdirSync(spoolDir)) rmSync(join(spoolDir, leftover), { force: true });

  let engine: Engine | undefined;
  let server: Server | undefined;
  let front: Front | undefined;
  let registry: UploadRegistry | undefined;
  const stop = async () => {
    if (server) await closeServer(server);
    front?.close();
    if (engine) await engine.close();
    await registry?.flush().catch(() => undefined);
    if (temporary) rmSync(dir, { recursive: true, force: true });
  };
  try {
    registry = await UploadRegistry.open(join(dir, 'multipart-uploads.json'));
    engine = await startEngine(objectsDir, options.buckets);
    const verifier = new SigV4Verifier({ accessKeyId: options.accessKeyId, secretAccessKey: options.secretAccessKey }, options.region);
    const handler = new Front({ verifier, registry, engine, spoolDir });
    front = handler;
    // No overall request deadline: a 5 GiB part over a slow link may take long, as S3 allows.
    const listening = createServer({ requestTimeout: 0 }, (req, res) => void handler.handle(req, res));
    server = listening;
    await new Promise<void>((resolve, reject) => {
      listening.once('error', reject);
      listening.listen(options.port ?? 0, '127.0.0.1', () => resolve());
    });
    const address = listening.address();
    const port = typeof address === 'object' && address ? address.port : options.port;
    let stopped: Promise<void> | undefined;
    return { endpoint: `http://127.0.0.1:${port}`, stop: () => (stopped ??= stop()) };
  } catch (error) {
    await stop();
    throw error;
  }
}

function closeServer(server: Server): Promise<void> {
  return new Promise((resolve) => {
    server.close(() => resolve());
    server.closeAllConnections();
  });
}
