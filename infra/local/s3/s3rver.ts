import { createRequire } from 'node:module';
import { join } from 'node:path';

/**
 * s3rver 3.7.1 (the storage engine behind the front), started in this process on a private
 * loopback port. The front also reaches into its filesystem store for what the HTTP API cannot
 * do: dropping an aborted upload's parts and recording a multipart object's S3-style ETag.
 */
interface S3rverStore {
  getResourcePath(bucket: string, key: string | undefined, resource: string): string;
  getBucket(bucket: string): Promise<object | null>;
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
  /** The file s3rver reads an object's ETag from (it holds the md5 hex, or for us `<hex>-<n>`). */
  etagFile(bucket: string, key: string): string;
  close(): Promise<void>;
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
    etagFile: (bucket, key) => server.store.getResourcePath(bucket, key, 'object.md5'),
    close: () => server.close(),
  };
}
