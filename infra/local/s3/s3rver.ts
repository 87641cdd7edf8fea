import { mkdir, open, readFile, rename, rm, stat, writeFile, type FileHandle } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { Worker } from 'node:worker_threads';

/**
 * s3rver 3.7.1 (the storage engine behind the front), started in this process on a private
 * loopback port. The front also reaches into its filesystem store for what the HTTP API cannot
 * do: dropping an aborted upload's parts and assembling a multipart object with S3's ETag.
 */
interface S3rverStore {
  getResourcePath(bucket: string, key: string | undefined, resource: string): string;
  getBucket(bucket: string): Promise<object | null>;
  putMetadata(bucket: string, key: string, metadata: object, md5: string): Promise<void>;
}

interface S3rverInstance {
  logger: { silent: boolean };
  run(): Promise<{ address: string; port: number }>;
  close(): Promise<void>;
  store: S3rverStore;
}

type S3rverConstructor = new (options: {
  address: string;
  port: number;
  silent: boolean;
  directory: string;
  vhostBuckets: boolean;
  resetOnClose: boolean;
  configureBuckets: { name: string; configs: string[] }[];
}) => S3rverInstance;

const require = createRequire(import.meta.url);

export interface Engine {
  host: string;
  port: number;
  bucketExists(bucket: string): Promise<boolean>;
  /** Where s3rver keeps the parts of one upload (a directory). */
  uploadDir(bucket: string, uploadId: string): string;
  /**
   * CompleteMultipartUpload's storage step, done here rather than by s3rver: the parts (checked
   * by the front) concatenated into the object, which is stored with `etag` and the upload's
   * metadata, then the upload's directory removed. s3rver's own complete pipes every byte through
   * a JS stream and an MD5 the front then overwrites with the multipart ETag: for 1 GiB that was
   * most of the seconds between the last part and the answer.
   */
  assemble(bucket: string, uploadId: string, partNumbers: number[], etag: string): Promise<{ size: number }>;
  /** An object's size, or undefined where there is none (UploadPartCopy's source). */
  objectSize(bucket: string, key: string): Promise<number | undefined>;
  /**
   * UploadPartCopy's storage step: bytes `start`..`end` of an object written as a part of an
   * upload, file to file as s3rver keeps parts (with the `.md5` beside it that its own
   * UploadPart writes), so a copy of any size moves no byte through HTTP or a JS stream.
   */
  copyPart(source: { bucket: string; key: string }, range: { start: number; end: number }, bucket: string, uploadId: string, partNumber: number): Promise<{ etag: string; size: number }>;
  close(): Promise<void>;
}

/** One buffer reused for every part of an assembly: memory stays flat whatever the object size. */
const ASSEMBLY_BUFFER = 8 * 1024 * 1024;

async function appendFile(out: FileHandle, source: string, buffer: Buffer, position: number): Promise<number> {
  const input = await open(source, 'r');
  try {
    for (;;) {
      const { bytesRead } = await input.read(buffer, 0, buffer.length, null);
      if (bytesRead === 0) return position;
      for (let off = 0; off < bytesRead; ) {
        const { bytesWritten } = await out.write(buffer, off, bytesRead - off, position);
        off += bytesWritten;
        position += bytesWritten;
      }
    }
  } finally {
    await input.close();
  }
}

/**
 * The copy of one part, in a worker thread: its MD5 (S3's ETag of a copied part) costs seconds
 * per GiB of CPU, which on the runtime's one event loop would stall every other request (the
 * API, the emulators) and serialize the parts; in workers the parts hash on every core.
 */
const COPY_RANGE_WORKER = `
const { parentPort, workerData } = require('node:worker_threads');
const { openSync, readSync, writeSync, closeSync } = require('node:fs');
const { createHash } = require('node:crypto');
const { source, target, start, end, bufferBytes } = workerData;
const input = openSync(source, 'r');
const out = openSync(target, 'w');
const buffer = Buffer.allocUnsafe(bufferBytes);
const md5 = createHash('md5');
const total = end - start + 1;
let size = 0;
try {
  while (size < total) {
    const n = readSync(input, buffer, 0, Math.min(buffer.length, total - size), start + size);
    if (n === 0) break;
    md5.update(buffer.subarray(0, n));
    for (let off = 0; off < n; ) off += writeSync(out, buffer, off, n - off, size + off);
    size += n;
  }
} finally {
  closeSync(input);
  closeSync(out);
}
parentPort.postMessage({ md5: md5.digest('hex'), size });
`;

function copyRangeInWorker(source: string, target: string, range: { start: number; end: number }): Promise<{ md5: string; size: number }> {
  return new Promise((resolve, reject) => {
    const worker = new Worker(COPY_RANGE_WORKER, { eval: true, workerData: { source, target, ...range, bufferBytes: ASSEMBLY_BUFFER } });
    worker.once('message', resolve);
    worker.once('error', reject);
    worker.once('exit', (code) => reject(new Error(`the part copy's worker exited ${code}`)));
  });
}

export async function startEngine(directory: string, buckets: string[]): Promise<Engine> {
  const S3rver = require('s3rver') as S3rverConstructor;
  const server = new S3rver({
    address: '127.0.0.1',
    port: 0,
    silent: true,
    directory,
    vhostBuckets: false,
    resetOnClose: false,
    configureBuckets: buckets.map((name) => ({ name, configs: [] })),
  });
  // Silent for good: `silent` alone only mutes the console transport, and s3rver closes that
  // transport on close, after which a late request log line would be reported on stderr.
  server.logger.silent = true;
  const { port } = await server.run();
  return {
    host: '127.0.0.1',
    port,
    bucketExists: async (bucket) => (await server.store.getBucket(bucket)) !== null,
    uploadDir: (bucket, uploadId) => join(server.store.getResourcePath(bucket, undefined, 'uploads'), uploadId),
    assemble: async (bucket, uploadId, partNumbers, etag) => {
      const uploadDir = join(server.store.getResourcePath(bucket, undefined, 'uploads'), uploadId);
      // What s3rver's CreateMultipartUpload recorded for the upload.
      const [key, metadata] = await Promise.all([
        readFile(join(uploadDir, 'key'), 'utf8'),
        readFile(join(uploadDir, 'metadata'), 'utf8').then((text) => JSON.parse(text) as Record<string, string>),
      ]);
      // As s3rver's S3Object has it when the upload named none.
      metadata['content-type'] ??= 'binary/octet-stream';
      const objectPath = server.store.getResourcePath(bucket, key, 'object');
      await mkdir(dirname(objectPath), { recursive: true });
      // Written aside and renamed: a GET during the assembly sees the previous object, or none.
      const assembling = `${objectPath}.assembling-${uploadId}`;
      const out = await open(assembling, 'w');
      let size = 0;
      try {
        const buffer = Buffer.allocUnsafe(ASSEMBLY_BUFFER);
        for (const partNumber of partNumbers) size = await appendFile(out, join(uploadDir, String(partNumber)), buffer, size);
      } catch (error) {
        await out.close();
        await rm(assembling, { force: true });
        throw error;
      }
      await out.close();
      await rename(assembling, objectPath);
      await server.store.putMetadata(bucket, key, metadata, etag);
      await rm(uploadDir, { recursive: true, force: true });
      return { size };
    },
    objectSize: async (bucket, key) => {
      try {
        return (await stat(server.store.getResourcePath(bucket, key, 'object'))).size;
      } catch (error) {
        if ((error as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
        throw error;
      }
    },
    copyPart: async (source, range, bucket, uploadId, partNumber) => {
      const partPath = join(server.store.getResourcePath(bucket, undefined, 'uploads'), uploadId, String(partNumber));
      const copying = `${partPath}.copying`;
      const { md5, size } = await copyRangeInWorker(server.store.getResourcePath(source.bucket, source.key, 'object'), copying, range);
      // Renamed into place once whole: a complete racing the copy sees the part, or none.
      await rename(copying, partPath);
      await writeFile(`${partPath}.md5`, md5);
      return { etag: `"${md5}"`, size };
    },
    close: () => server.close(),
  };
}

