import { claimed, isClaimed, pendingScrubOf } from '../domain/deletion.js';
import type { Image } from '../domain/image.js';
import type { StoreBlobs } from '../ports/blob-store.js';
import type { ImageEvents } from '../ports/events.js';
import { ConcurrentUpdateError, type ImageRepository } from '../ports/image-repository.js';
import { emfRecord, SKYGLASS_METRICS } from './metrics.js';
import { nextVersion } from './writes.js';

export interface ScrubTarget {
  image_id: string;
  version: number;
}

/**
 * The scrubber's steps (shared/workflows/scrubber.ts). Each is idempotent: a re-run after a
 * crash between any two of them, or a duplicate execution, ends in the same state. Nothing is
 * removed before `claim` has written the claim that restore refuses.
 */
export class Scrubber {
  constructor(
    private readonly repo: ImageRepository,
    private readonly stores: StoreBlobs,
    private readonly events: ImageEvents,
    private readonly clock: () => Date = () => new Date(),
  ) {}

  /**
   * Claims the image for removal of its bytes, one conditional write (the version bump makes a
   * concurrent restore lose, and a restore that won makes this lose). An image already claimed
   * (by another execution of the same scrub, or a re-drive) is joined. An execution started for
   * an earlier delete of the image (before a restore) claims nothing.
   */
  async claim(target: ScrubTarget): Promise<{ claimed: boolean }> {
    const image = await this.repo.get(target.image_id);
    if (!image || image.status !== 'pending_delete') return { claimed: false };
    if (isClaimed(image)) return { claimed: true };
    if (pendingScrubOf(image).version !== target.version) return { claimed: false };
    const now = this.clock();
    try {
      await this.repo.save(nextVersion(claimed(image, now), now), image);
      return { claimed: true };
    } catch (error) {
      if (!(error instanceof ConcurrentUpdateError)) throw error;
      return { claimed: error.current !== undefined && isClaimed(error.current) };
    }
  }

  /** Deletes the claimed image's bytes: its object, and any upload (aborted, and its object if it completed meanwhile). */
  async deleteData(target: ScrubTarget): Promise<{ deleted: string[] }> {
    const image = await this.claimedImage(target);
    if (!image) return { deleted: [] };
    const deleted: string[] = [];
    // Every store, not only those the image lists: a per-store delete or a copy that stopped
    // half-way may have left the key in another store, and deleting a missing key is harmless.
    const blobs = this.stores.catalog.stores.map((store) => this.stores.in(store));
    if (image.upload) {
      const upload = image.upload;
      await Promise.all(blobs.map((b) => b.abortMultipartUpload(upload.key, upload.store_upload_id)));
      // A complete that raced the delete may have assembled the object after all.
      if (upload.key !== image.location) await Promise.all(blobs.map((b) => b.deleteObject(upload.key)));
      deleted.push(`upload ${upload.upload_id}`);
    }
    const { location } = image;
    // A web-download deleted while it fetched: the upload its runs were filling (a run still
    // going finds it gone and stops).
    const fetchUpload = image.import_fetch?.upload;
    if (location && fetchUpload) {
      await Promise.all(blobs.map((b) => b.abortMultipartUpload(location, fetchUpload.upload_id)));
      deleted.push(`fetch upload ${fetchUpload.upload_id}`);
    }
    if (location) {
      await Promise.all(blobs.map((b) => b.deleteObject(location)));
      deleted.push(location);
    }
    return { deleted };
  }

  /** pending_delete → deleted (a tombstone), then image.delete. Only after deleteData succeeded. */
  async markDeleted(target: ScrubTarget): Promise<{ status: string }> {
    const image = await this.claimedImage(target);
    if (!image) return { status: (await this.repo.get(target.image_id))?.status ?? 'gone' };
    const tombstone = nextVersion({ ...image, status: 'deleted', location: null, stores: [], upload: null, scrub: null }, this.clock());
    try {
      await this.repo.save(tombstone, image, ['image.delete']);
    } catch (error) {
      // Another run of the same scrub got there first.
      if (error instanceof ConcurrentUpdateError && error.current?.status === 'deleted') return { status: 'deleted' };
      throw error;
    }
    return { status: 'deleted' };
  }

  /** The alarm: bytes could not be deleted; the image stays pending_delete for an operator. */
  async recordFailure(target: ScrubTarget, error: string, cause: string): Promise<{ recorded: true }> {
    // A CloudWatch embedded-metric line (ScrubFailures) plus an error log an alarm can match.
    console.error(
      emfRecord(
        { [SKYGLASS_METRICS.scrubFailures]: 1 },
        {
          level: 'error',
          message: 'scrub failed: image data could not be deleted; the image stays pending_delete',
          image_id: target.image_id,
          version: target.version,
          error,
          cause: cause.slice(0, 2000),
        },
        this.clock(),
      ),
    );
    const image = await this.repo.get(target.image_id);
    // No write records this failure (the image must stay as the scrub left it), so no outbox:
    // the event goes straight to the bus, and a failure to send it is only logged.
    if (image) {
      await this.events.publish([{ type: 'image.scrub_failed', image }]).catch((publishError: unknown) => {
        console.error(JSON.stringify({ level: 'error', message: 'image.scrub_failed not published', image_id: image.id, error: String(publishError) }));
      });
    }
    return { recorded: true };
  }

  /** The image, if it is pending_delete and claimed: only then may its bytes go. */
  private async claimedImage(target: ScrubTarget): Promise<Image | undefined> {
    const image = await this.repo.get(target.image_id);
    return image && isClaimed(image) ? image : undefined;
  }
}
