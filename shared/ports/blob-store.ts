import { StoreCatalog, type StoreDefinition } from '../domain/stores.js';

/** S3's limit of one server-side CopyObject (5 GiB); larger copies are multipart (UploadPartCopy, shared/app/server-copy.ts). */
export const MAX_SERVER_COPY_BYTES = 5 * 1024 ** 3;

/** A part the object store already holds for a multipart upload. */
export interface StoredPart {
  partNumber: number;
  etag: string;
  size: number;
}

/** The multipart upload is gone at the store (aborted, completed, or never existed). */
export class UploadGoneError extends Error {
  constructor() {
    super('The multipart upload no longer exists');
    this.name = 'UploadGoneError';
  }
}

/** The object store's refusal of a completion (a part missing or too small). */
export class PartsRefusedError extends Error {
  constructor(readonly reason: string) {
    super(reason);
    this.name = 'PartsRefusedError';
  }
}

export interface DownloadOptions {
  /** Shown to browsers as the download's file name. */
  filename: string;
  expiresInSeconds: number;
}

/**
 * Image bytes. Clients move them straight to and from the store with presigned URLs; the
 * service itself only reads them once, to verify.
 */
export interface BlobStore {
  createMultipartUpload(key: string): Promise<string>;
  /**
   * A URL that lets its holder PUT exactly this one part of this one upload, of exactly
   * `contentLength` bytes (the store refuses any other size), until it expires.
   */
  presignUploadPart(key: string, uploadId: string, partNumber: number, contentLength: number, expiresInSeconds: number): Promise<string>;
  /**
   * Stores one part of an upload from the service's own hands (a streaming PUT /file), and
   * returns its ETag for the completion. UploadGoneError if the upload is no longer open. The
   * caller reuses `body`'s memory once the returned promise settles: an implementation must not
   * keep a reference to it.
   */
  uploadPart(key: string, uploadId: string, partNumber: number, body: Uint8Array): Promise<string>;
  /** UploadGoneError if the upload is no longer open. */
  listParts(key: string, uploadId: string): Promise<StoredPart[]>;
  completeMultipartUpload(key: string, uploadId: string, parts: Array<{ partNumber: number; etag: string }>): Promise<void>;
  /** Idempotent: aborting an upload that is gone is not an error. */
  abortMultipartUpload(key: string, uploadId: string): Promise<void>;
  putObject(key: string, body: Uint8Array): Promise<void>;
  /** The object's bytes as they arrive; undefined if there is no such object. */
  read(key: string): Promise<AsyncIterable<Uint8Array> | undefined>;
  /** Idempotent. */
  deleteObject(key: string): Promise<void>;
  presignDownload(key: string, options: DownloadOptions): Promise<string>;
  /** Every object under a prefix, with when it was last written (the auditor's view). */
  list(prefix: string): AsyncIterable<{ key: string; lastModified: Date }>;
  exists(key: string): Promise<boolean>;
  /**
   * Copies `key` from another store's bucket into this one, server-side (the bytes never pass
   * through the caller), keeping the key. Idempotent. Refuses objects over `MAX_SERVER_COPY_BYTES`.
   */
  copyFrom(source: StoreDefinition, key: string): Promise<void>;
  /**
   * One part of a multipart upload copied server-side from `key` in another store's bucket: the
   * bytes `start`..`end` (inclusive) of the source object. Returns the part's ETag for the
   * completion; UploadGoneError if the upload is no longer open.
   */
  uploadPartCopy(key: string, uploadId: string, partNumber: number, source: StoreDefinition, range: { start: number; end: number }): Promise<string>;
  /** Every multipart upload still open under a prefix, with when it was started (the auditor's view). */
  listUploads(prefix: string): AsyncIterable<{ key: string; uploadId: string; initiated: Date }>;
}

/**
 * The object store behind each of the deployment's stores (Glance's multi-store): every store is
 * its own bucket, possibly in another region, and an image's bytes have the same key in each.
 */
export interface StoreBlobs {
  readonly catalog: StoreCatalog;
  in(store: StoreDefinition): BlobStore;
}

/** One object store as the deployment's one implicit store (the bench, single-store tools). */
export function singleStore(blobs: BlobStore, catalog = StoreCatalog.single('single', 'us-east-1')): StoreBlobs {
  return { catalog, in: () => blobs };
}
