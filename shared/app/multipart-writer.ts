import { MAX_PARTS, streamedPartSize } from '../domain/upload-plan.js';
import type { BlobStore } from '../ports/blob-store.js';

export interface MultipartWriterOptions {
  /** Parts uploading at once; with the part being filled, memory is about (this + 1) parts. */
  partsInFlight: number;
  /** The size of each part but the last (S3: at least 5 MiB); streamedPartSize unless told. */
  partSize?: (partNumber: number) => number;
}

/** The data needs more than S3's 10,000 parts. */
export class TooManyPartsError extends Error {
  constructor() {
    super(`The data needs more than ${MAX_PARTS} parts`);
    this.name = 'TooManyPartsError';
  }
}

/**
 * Part buffers kept for the next part or the next upload, by size. Each upload fills about
 * (partsInFlight + 1) parts at a time; fresh buffers per part stayed resident until a garbage
 * collection found them, so the front's RSS grew by a few parts per upload (npm run bench,
 * section 5). A process keeps at most KEPT_PART_BUFFERS of them; more concurrent uploads
 * allocate and let go of the rest.
 */
const KEPT_PART_BUFFERS = 12;
const keptPartBuffers = new Map<number, Buffer[]>();
let keptPartBufferCount = 0;

function takePartBuffer(size: number): Buffer {
  const kept = keptPartBuffers.get(size)?.pop();
  if (kept) {
    keptPartBufferCount--;
    return kept;
  }
  return Buffer.allocUnsafeSlow(size);
}

function returnPartBuffer(buffer: Buffer): void {
  // An empty stream's one empty part is not worth a place.
  if (buffer.byteLength === 0 || keptPartBufferCount >= KEPT_PART_BUFFERS) return;
  const list = keptPartBuffers.get(buffer.byteLength) ?? [];
  keptPartBuffers.set(buffer.byteLength, list);
  list.push(buffer);
  keptPartBufferCount++;
}

/**
 * Writes a byte stream of any length into one open multipart upload, cutting it into parts and
 * keeping several parts in flight, with bounded memory: `write` waits while `partsInFlight`
 * parts are uploading, which is what makes a fast client wait for the store (backpressure).
 * A part's failure is raised by the next `write` or by `finish`; the caller then `abort`s.
 * Chunks are copied into reused part buffers (one copy, as concatenating them was).
 */
export class MultipartWriter {
  private readonly partSize: (partNumber: number) => number;
  /** The part being filled, taken from the kept buffers; null until the first byte. */
  private pending: Buffer | null = null;
  private pendingBytes = 0;
  private nextPart = 1;
  private readonly inFlight = new Set<Promise<void>>();
  private readonly parts: Array<{ partNumber: number; etag: string }> = [];
  private failure: unknown = undefined;

  constructor(
    private readonly blobs: BlobStore,
    private readonly key: string,
    private readonly uploadId: string,
    private readonly options: MultipartWriterOptions,
  ) {
    this.partSize = options.partSize ?? streamedPartSize;
  }

  async write(chunk: Uint8Array): Promise<void> {
    this.raiseFailure();
    let rest = chunk;
    while (rest.byteLength > 0) {
      const size = this.partSize(this.nextPart);
      this.pending ??= takePartBuffer(size);
      const taken = Math.min(size - this.pendingBytes, rest.byteLength);
      this.pending.set(rest.subarray(0, taken), this.pendingBytes);
      this.pendingBytes += taken;
      rest = rest.subarray(taken);
      if (this.pendingBytes === size) await this.sendPending();
    }
  }

  /** Sends what remains as the last part, waits for every part, then completes the upload. */
  async finish(): Promise<void> {
    // S3 takes an empty object as one empty part; otherwise an empty remainder is no part.
    if (this.pendingBytes > 0 || this.nextPart === 1) await this.sendPending();
    await Promise.all(this.inFlight);
    this.raiseFailure();
    this.parts.sort((a, b) => a.partNumber - b.partNumber);
    await this.blobs.completeMultipartUpload(this.key, this.uploadId, this.parts);
  }

  /** Waits for the parts still uploading (their failures do not matter now), then aborts the upload. */
  async abort(): Promise<void> {
    if (this.pending) returnPartBuffer(this.pending);
    this.pending = null;
    this.pendingBytes = 0;
    await Promise.allSettled(this.inFlight);
    await this.blobs.abortMultipartUpload(this.key, this.uploadId);
  }

  private async sendPending(): Promise<void> {
    if (this.nextPart > MAX_PARTS) throw new TooManyPartsError();
    while (this.inFlight.size >= this.options.partsInFlight) await Promise.race(this.inFlight);
    this.raiseFailure();
    const buffer = this.pending ?? takePartBuffer(0);
    const partNumber = this.nextPart++;
    const body = buffer.subarray(0, this.pendingBytes);
    this.pending = null;
    this.pendingBytes = 0;
    const upload: Promise<void> = this.blobs.uploadPart(this.key, this.uploadId, partNumber, body).then(
      (etag) => {
        this.parts.push({ partNumber, etag });
      },
      (error: unknown) => {
        this.failure ??= error;
      },
    );
    // The store is done with the bytes once the part settled: the buffer can take other bytes.
    const tracked = upload.finally(() => {
      this.inFlight.delete(tracked);
      returnPartBuffer(buffer);
    });
    this.inFlight.add(tracked);
  }

  private raiseFailure(): void {
    if (this.failure !== undefined) throw this.failure;
  }
}
