import type { StoreDefinition } from '../domain/stores.js';
import { MAX_SERVER_COPY_BYTES, type BlobStore } from '../ports/blob-store.js';

/** How an object is copied between stores: one CopyObject up to a size, else a multipart copy. */
export interface CopySettings {
  /** Objects up to this size are one CopyObject (S3 allows at most 5 GiB). */
  singleCopyMaxBytes: number;
  /** The part size of a multipart copy (grown where 10 000 parts would not hold the object). */
  partBytes: number;
  /** UploadPartCopy calls in flight at once. */
  partsInFlight: number;
}

const MiB = 1024 * 1024;
/** S3's multipart limits: parts of 5 MiB at least (but the last), 5 GiB at most, 10 000 of them. */
const MIN_PART_BYTES = 5 * MiB;
const MAX_PARTS = 10_000;

/**
 * 512 MiB parts, 8 at a time: S3 copies a part server-side at a few hundred MiB/s, so a 100 GiB
 * image is 200 parts in 25 rounds, well inside a Lambda's 15 minutes.
 */
export const DEFAULT_COPY_SETTINGS: CopySettings = { singleCopyMaxBytes: MAX_SERVER_COPY_BYTES, partBytes: 512 * MiB, partsInFlight: 8 };

/** The byte ranges (inclusive) of a multipart copy of `size` bytes. */
export function copyParts(size: number, settings: CopySettings): Array<{ start: number; end: number }> {
  const partBytes = Math.min(MAX_SERVER_COPY_BYTES, Math.max(MIN_PART_BYTES, settings.partBytes, Math.ceil(size / MAX_PARTS)));
  const parts: Array<{ start: number; end: number }> = [];
  for (let start = 0; start < size; start += partBytes) parts.push({ start, end: Math.min(size, start + partBytes) - 1 });
  return parts;
}

/**
 * Copies `key` from `source`'s bucket into `target`'s, server-side: the bytes never pass through
 * the caller. Up to `singleCopyMaxBytes` one CopyObject; above, a multipart upload of
 * UploadPartCopy parts, `partsInFlight` at a time, aborted if any part fails (a crash before the
 * abort leaves an upload no image records, which the auditor aborts: sweepers.ts). Idempotent:
 * a re-run writes the same object again.
 */
export async function serverSideCopy(target: BlobStore, source: StoreDefinition, key: string, size: number, settings: CopySettings): Promise<void> {
  if (size <= Math.min(settings.singleCopyMaxBytes, MAX_SERVER_COPY_BYTES)) return target.copyFrom(source, key);
  const ranges = copyParts(size, settings);
  const uploadId = await target.createMultipartUpload(key);
  try {
    const etags: string[] = new Array(ranges.length);
    let next = 0;
    const lane = async () => {
      while (next < ranges.length) {
        const index = next++;
        etags[index] = await target.uploadPartCopy(key, uploadId, index + 1, source, ranges[index]!);
      }
    };
    await Promise.all(Array.from({ length: Math.max(1, Math.min(settings.partsInFlight, ranges.length)) }, lane));
    await target.completeMultipartUpload(key, uploadId, etags.map((etag, i) => ({ partNumber: i + 1, etag })));
  } catch (error) {
    await target.abortMultipartUpload(key, uploadId).catch(() => undefined);
    throw error;
  }
}
