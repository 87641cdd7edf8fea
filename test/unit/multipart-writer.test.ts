import { describe, expect, it } from 'vitest';
import { MultipartWriter } from '../../shared/app/multipart-writer.js';
import { UploadGoneError, type BlobStore } from '../../shared/ports/blob-store.js';

/**
 * The multipart calls of an object store, in memory: parts are held until `release`d (so a test
 * controls how many are in flight), and the completed object is the named parts in order.
 */
class MultipartStore {
  readonly parts = new Map<number, Uint8Array>();
  /** The memory each part was sent in, to see it reused. */
  readonly sentIn = new Set<ArrayBufferLike>();
  readonly waiting: Array<() => void> = [];
  inFlight = 0;
  peakInFlight = 0;
  completed: Uint8Array | undefined;
  aborted = false;
  failPart: number | undefined;
  holdParts = false;

  asBlobStore(): BlobStore {
    const unused = () => {
      throw new Error('not used by the writer');
    };
    return {
      uploadPart: (_key, _uploadId, partNumber, body) => this.uploadPart(partNumber, body),
      completeMultipartUpload: async (_key, _uploadId, parts) => {
        this.completed = Buffer.concat(parts.map((p) => {
          const stored = this.parts.get(p.partNumber);
          if (!stored || p.etag !== `etag-${p.partNumber}`) throw new Error(`part ${p.partNumber} not stored as named`);
          return stored;
        }));
      },
      abortMultipartUpload: async () => {
        this.aborted = true;
      },
      createMultipartUpload: unused,
      presignUploadPart: unused,
      listParts: unused,
      putObject: unused,
      read: unused,
      deleteObject: unused,
      presignDownload: unused,
      list: unused,
      exists: unused,
      copyFrom: unused,
      uploadPartCopy: unused,
      listUploads: unused,
    };
  }

  release(): void {
    this.waiting.shift()?.();
  }

  private async uploadPart(partNumber: number, body: Uint8Array): Promise<string> {
    this.sentIn.add(body.buffer);
    this.inFlight++;
    this.peakInFlight = Math.max(this.peakInFlight, this.inFlight);
    try {
      if (this.holdParts) await new Promise<void>((resolve) => this.waiting.push(resolve));
      else await new Promise((resolve) => setImmediate(resolve));
      if (partNumber === this.failPart) throw new UploadGoneError();
      // A copy, as S3 keeps the bytes: the writer reuses a part's memory once the part settled.
      this.parts.set(partNumber, Uint8Array.from(body));
      return `etag-${partNumber}`;
    } finally {
      this.inFlight--;
    }
  }
}

const bytes = (length: number) => Uint8Array.from({ length }, (_, i) => (i * 7) % 256);
const fixedParts = (size: number) => () => size;

async function writeAll(writer: MultipartWriter, data: Uint8Array, chunk: number): Promise<void> {
  for (let offset = 0; offset < data.length; offset += chunk) await writer.write(data.subarray(offset, offset + chunk));
}

describe('MultipartWriter', () => {
  it('cuts the stream into parts of the part size, whatever the chunks, and completes with them in order', async () => {
    const store = new MultipartStore();
    const data = bytes(10_000);
    const writer = new MultipartWriter(store.asBlobStore(), 'k', 'u', { partsInFlight: 3, partSize: fixedParts(1024) });
    await writeAll(writer, data, 700);
    await writer.finish();
    expect([...store.parts.keys()].sort((a, b) => a - b)).toEqual([1, 2, 3, 4, 5, 6, 7, 8, 9, 10]);
    expect(store.parts.get(1)!.byteLength).toBe(1024);
    expect(store.parts.get(10)!.byteLength).toBe(10_000 - 9 * 1024);
    expect(Buffer.from(store.completed!)).toEqual(Buffer.from(data));
  });

  it('keeps at most partsInFlight parts uploading: write waits for the store', async () => {
    const store = new MultipartStore();
    store.holdParts = true;
    const writer = new MultipartWriter(store.asBlobStore(), 'k', 'u', { partsInFlight: 2, partSize: fixedParts(100) });
    await writer.write(bytes(200));
    expect(store.inFlight).toBe(2);
    let thirdSent = false;
    const third = writer.write(bytes(100)).then(() => (thirdSent = true));
    await new Promise((resolve) => setImmediate(resolve));
    expect(thirdSent).toBe(false);
    store.release();
    await third;
    expect(store.peakInFlight).toBe(2);
    store.holdParts = false;
    while (store.waiting.length > 0) store.release();
    await writer.finish();
    expect(store.completed!.byteLength).toBe(300);
  });

  it('writes an empty stream as one empty part', async () => {
    const store = new MultipartStore();
    const writer = new MultipartWriter(store.asBlobStore(), 'k', 'u', { partsInFlight: 2, partSize: fixedParts(100) });
    await writer.finish();
    expect(store.completed!.byteLength).toBe(0);
  });

  it("raises a part's failure, and abort ends the upload", async () => {
    const store = new MultipartStore();
    store.failPart = 2;
    const writer = new MultipartWriter(store.asBlobStore(), 'k', 'u', { partsInFlight: 4, partSize: fixedParts(100) });
    await writer.write(bytes(300));
    await expect(writer.finish()).rejects.toBeInstanceOf(UploadGoneError);
    expect(store.completed).toBeUndefined();
    await writer.abort();
    expect(store.aborted).toBe(true);
  });

  it("reuses part memory once a part is stored, never while it is in flight: each upload's bytes stay its own", async () => {
    const first = new MultipartStore();
    first.holdParts = true;
    const size = 4096 + 1; // a size no other test uses, so the kept buffers are this test's
    const one = bytes(3 * size).map((b) => b ^ 0x5a);
    const writer = new MultipartWriter(first.asBlobStore(), 'k', 'u', { partsInFlight: 3, partSize: fixedParts(size) });
    const written = writeAll(writer, one, 1000);
    // Three parts held in flight: each in memory of its own.
    while (first.inFlight < 3) await new Promise((resolve) => setImmediate(resolve));
    await written;
    expect(first.sentIn.size).toBe(3);
    first.holdParts = false;
    while (first.waiting.length > 0) first.release();
    await writer.finish();
    expect(Buffer.from(first.completed!)).toEqual(Buffer.from(one));

    const second = new MultipartStore();
    const two = bytes(3 * size);
    const next = new MultipartWriter(second.asBlobStore(), 'k2', 'u2', { partsInFlight: 3, partSize: fixedParts(size) });
    await writeAll(next, two, 1000);
    await next.finish();
    expect(Buffer.from(second.completed!)).toEqual(Buffer.from(two));
    expect([...second.sentIn].every((memory) => first.sentIn.has(memory))).toBe(true);
  });
});
