import { createHash, type Hash } from 'node:crypto';
import type { Image } from '../domain/image.js';
import { checkFormatMatches, FormatInspector, type InspectionResult } from '../domain/format-inspector.js';
import { ParallelHashes } from './hash-workers.js';

/**
 * Network reads arrive in 16–64 KiB chunks; hashing them in 1 MiB blocks instead makes a
 * measurable difference to MD5 + SHA-512 throughput (npm run bench, section 4.2) for the price
 * of one 1 MiB copy per block.
 */
export const HASH_BLOCK = 1024 * 1024;

/** The chunks regrouped into blocks of at least `blockSize` bytes (the last may be shorter). */
export async function* inBlocks(chunks: AsyncIterable<Uint8Array>, blockSize: number = HASH_BLOCK): AsyncIterable<Uint8Array> {
  let pending: Uint8Array[] = [];
  let pendingBytes = 0;
  for await (const chunk of chunks) {
    if (pendingBytes === 0 && chunk.byteLength >= blockSize) {
      yield chunk;
      continue;
    }
    pending.push(chunk);
    pendingBytes += chunk.byteLength;
    if (pendingBytes >= blockSize) {
      yield Buffer.concat(pending, pendingBytes);
      pending = [];
      pendingBytes = 0;
    }
  }
  if (pendingBytes > 0) yield Buffer.concat(pending, pendingBytes);
}

/** What one pass over an image's bytes found. */
export interface ImageDigest {
  size: number;
  /** MD5, Glance's `checksum`. */
  checksum: string;
  /** SHA-512, Glance's `os_hash_value`. */
  osHashValue: string;
  inspection: InspectionResult;
}

/**
 * Size, MD5, SHA-512 and the format inspection of a byte stream, fed once and in order. The
 * verifier feeds it from the store; a streaming upload feeds it the request body as it goes to
 * the store, so no byte is read twice. Memory is the inspector's bound (~1.2 MiB), whatever the size.
 */
export class ImageDigester {
  private readonly md5: Hash = createHash('md5');
  private readonly sha512: Hash = createHash('sha512');
  private readonly inspector = new FormatInspector();
  private size = 0;

  update(chunk: Uint8Array): void {
    this.md5.update(chunk);
    this.sha512.update(chunk);
    this.inspector.update(chunk);
    this.size += chunk.byteLength;
  }

  /** Bytes seen so far (a streaming upload checks limits against it as the bytes arrive). */
  get bytes(): number {
    return this.size;
  }

  finish(): ImageDigest {
    return {
      size: this.size,
      checksum: this.md5.digest('hex'),
      osHashValue: this.sha512.digest('hex'),
      inspection: this.inspector.finish(this.size),
    };
  }
}

/**
 * A streamed body's hashing blocks: 4 of 4 MiB per upload (16 MiB), how far the hashing may lag
 * behind the body. 4 MiB rather than 1 MiB: each block is one message to each worker, and on a
 * loaded machine waking a worker 2,048 times per GiB cost the reading thread seconds (profiled).
 */
const STREAMED_HASH_BLOCK = 4 * 1024 * 1024;
const STREAMED_HASH_BLOCKS = 4;

/**
 * The ImageDigester's result with MD5 and SHA-512 on worker threads (hash-workers.ts), in
 * parallel with each other and with the thread that reads the body and feeds the store: a
 * streaming upload's bytes are hashed as fast as the slower of the two instead of their sum.
 * `update` returns a promise when the hashing is behind by all of its blocks (wait for it);
 * a digester not finished must be disposed of. Memory: 16 MiB plus the inspector's bound.
 */
export class StreamingImageDigester {
  private readonly hashes = new ParallelHashes(['md5', 'sha512'], { blockSize: STREAMED_HASH_BLOCK, blocks: STREAMED_HASH_BLOCKS });
  private readonly inspector = new FormatInspector();
  private size = 0;

  update(chunk: Uint8Array): Promise<void> | undefined {
    this.inspector.update(chunk);
    this.size += chunk.byteLength;
    return this.hashes.update(chunk);
  }

  /** Bytes seen so far. */
  get bytes(): number {
    return this.size;
  }

  async finish(): Promise<ImageDigest> {
    const hex = await this.hashes.digests();
    return { size: this.size, checksum: hex.get('md5') as string, osHashValue: hex.get('sha512') as string, inspection: this.inspector.finish(this.size) };
  }

  /** Frees the workers' part of an unfinished digest (the body broke off or was refused). */
  dispose(): void {
    this.hashes.dispose();
  }
}

/**
 * Why the data must be refused (null: it may make the image active): its size against what was
 * declared, its hashes against those the upload session declared, then the format inspection
 * against the image's disk_format. The first reason found is the one shown.
 */
export function refusalReason(image: Image, digest: ImageDigest): string | null {
  const expectedSize = image.upload?.size ?? image.size;
  if (expectedSize !== null && digest.size !== expectedSize) return `the data is ${digest.size} bytes, but ${expectedSize} were declared`;
  if (image.upload?.checksum && image.upload.checksum !== digest.checksum) {
    return `the data's MD5 is ${digest.checksum}, not the declared ${image.upload.checksum}`;
  }
  if (image.upload?.os_hash_value && image.upload.os_hash_value !== digest.osHashValue) return "the data's SHA-512 differs from the declared os_hash_value";
  return checkFormatMatches(image.disk_format, digest.inspection);
}

/** The image as its verified data makes it: active, with the digest's size, hashes and virtual size. */
export function activatedBy(image: Image, digest: ImageDigest): Image {
  // A web-download's fetch record goes: its upload is the object now (nothing for the scrubber to abort).
  const { import_fetch: _fetch, ...rest } = image;
  return {
    ...rest,
    status: 'active',
    size: digest.size,
    virtual_size: digest.inspection.virtualSize,
    checksum: digest.checksum,
    os_hash_algo: 'sha512',
    os_hash_value: digest.osHashValue,
    upload: null,
    failure: null,
  };
}
