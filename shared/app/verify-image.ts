import { createHash } from 'node:crypto';
import { awaitsVerification, queuedWithoutData, type Image } from '../domain/image.js';
import { checkFormatMatches, FormatInspector } from '../domain/format-inspector.js';
import type { BlobStore } from '../ports/blob-store.js';
import type { ImageEventType } from '../ports/events.js';
import type { ImageRepository } from '../ports/image-repository.js';
import type { VerificationRequest } from '../ports/workflows.js';
import { nextVersion, saveUnlessMoved } from './writes.js';

/**
 * Network reads arrive in 16–64 KiB chunks; hashing them in 1 MiB blocks instead makes a
 * measurable difference to MD5 + SHA-512 throughput (npm run bench, section 4.2) for the price
 * of one 1 MiB copy per block.
 */
const HASH_BLOCK = 1024 * 1024;

async function* inBlocks(chunks: AsyncIterable<Uint8Array>, blockSize: number): AsyncIterable<Uint8Array> {
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

export type VerificationOutcome =
  | { result: 'active'; image: Image }
  | { result: 'refused'; reason: string; image: Image }
  | { result: 'skipped'; why: string };

/**
 * Reads an image's bytes once, computing size, MD5 (`checksum`) and SHA-512 (`os_hash_value`)
 * and running the format inspector on the same chunks, then makes the image active or, if the
 * data is refused, deletes it and returns the image to queued with the reason on it.
 *
 * Idempotent: it acts only on an image that is saving or importing with exactly these bytes,
 * so a retry, a duplicate execution or a late run after the image moved on changes nothing.
 */
export class ImageVerifier {
  constructor(
    private readonly repo: ImageRepository,
    private readonly blobs: BlobStore,
    private readonly clock: () => Date = () => new Date(),
  ) {}

  async verify(request: VerificationRequest): Promise<VerificationOutcome> {
    const image = await this.waitingImage(request);
    if (!image) return { result: 'skipped', why: `image ${request.image_id} is not waiting for ${request.key}` };

    const data = await this.blobs.read(request.key);
    if (!data) return this.refuse(image, 'image data is missing from the store');
    const md5 = createHash('md5');
    const sha512 = createHash('sha512');
    const inspector = new FormatInspector();
    let size = 0;
    for await (const chunk of inBlocks(data, HASH_BLOCK)) {
      md5.update(chunk);
      sha512.update(chunk);
      inspector.update(chunk);
      size += chunk.byteLength;
    }
    const inspection = inspector.finish(size);
    const checksum = md5.digest('hex');
    const osHashValue = sha512.digest('hex');

    const expectedSize = image.upload?.size ?? image.size;
    const reason =
      (expectedSize !== null && size !== expectedSize ? `the data is ${size} bytes, but ${expectedSize} were declared` : null) ??
      (image.upload?.checksum && image.upload.checksum !== checksum ? `the data's MD5 is ${checksum}, not the declared ${image.upload.checksum}` : null) ??
      (image.upload?.os_hash_value && image.upload.os_hash_value !== osHashValue ? "the data's SHA-512 differs from the declared os_hash_value" : null) ??
      checkFormatMatches(image.disk_format, inspection);
    if (reason) return this.refuse(image, reason);

    const active = nextVersion(
      {
        ...image,
        status: 'active',
        size,
        virtual_size: inspection.virtualSize,
        checksum,
        os_hash_algo: 'sha512',
        os_hash_value: osHashValue,
        upload: null,
        failure: null,
      },
      this.clock(),
    );
    return (await this.settle(active, image, ['image.upload', 'image.activate'])) ?? { result: 'active', image: active };
  }

  /** The workflow's last resort when verification keeps failing: refuse, so nothing stays saving. */
  async giveUp(request: VerificationRequest, error: string): Promise<VerificationOutcome> {
    const image = await this.waitingImage(request);
    if (!image) return { result: 'skipped', why: `image ${request.image_id} is not waiting for ${request.key}` };
    return this.refuse(image, `verification failed (${error})`);
  }

  /** The image, if it is saving or importing exactly these bytes and its upload is complete. */
  private async waitingImage(request: VerificationRequest): Promise<Image | undefined> {
    const image = await this.repo.get(request.image_id);
    return image && image.location === request.key && awaitsVerification(image) ? image : undefined;
  }

  /** Removes refused bytes, then puts the image back to queued with the reason visible. */
  private async refuse(image: Image, reason: string): Promise<VerificationOutcome> {
    // Bytes first: a crash after this leaves an image that a re-run refuses again ("missing"),
    // never a queued image whose refused bytes linger.
    if (image.location) await this.blobs.deleteObject(image.location);
    const queued = nextVersion(queuedWithoutData(image, `Image data was refused: ${reason}`), this.clock());
    return (await this.settle(queued, image)) ?? { result: 'refused', reason, image: queued };
  }

  /** One conditional write; losing it to a concurrent run of the same verification is fine. */
  private async settle(next: Image, previous: Image, events: readonly ImageEventType[] = []): Promise<VerificationOutcome | undefined> {
    return (await saveUnlessMoved(this.repo, next, previous, events)) ? undefined : { result: 'skipped', why: 'another writer changed the image first' };
  }
}
