import { queuedWithoutData, type Image } from '../domain/image.js';
import type { BlobStore } from '../ports/blob-store.js';
import type { ImageRepository } from '../ports/image-repository.js';
import { nextVersion, saveUnlessMoved } from './writes.js';

export interface SweepSettings {
  /** An image saving or importing longer than this (after its upload completed) is stuck. */
  stuckSeconds: number;
  /** An object no image owns is deleted once it is older than this. */
  orphanGraceSeconds: number;
}

/** Narrows a sweep to some images (an operator's targeted sweep; tests). */
export interface SweepScope {
  imageIds?: readonly string[];
}

export interface SweepReport {
  expiredUploads: string[];
  stuckImages: string[];
  orphanObjects: Array<{ key: string; deleted: boolean }>;
  missingObjects: Array<{ image_id: string; key: string }>;
}

const seconds = (from: string, to: Date) => (to.getTime() - Date.parse(from)) / 1000;

/**
 * The periodic jobs Glance runs as daemons (its scrubber's and reapers' housekeeping), run on
 * EventBridge schedules. Each decision is a conditional write, so a sweep racing a client's
 * own request changes nothing the client just did.
 */
export class Sweepers {
  constructor(
    private readonly repo: ImageRepository,
    private readonly blobs: BlobStore,
    private readonly settings: SweepSettings,
  ) {}

  /** Upload sessions past their expiry: abort the multipart upload, queue the image again. */
  async expiredUploads(now: Date, scope: SweepScope = {}): Promise<string[]> {
    const swept: string[] = [];
    for await (const image of this.inScope(this.repo.findByStatus(['saving', 'uploading']), scope)) {
      const upload = image.upload;
      if (!upload || upload.state !== 'open' || Date.parse(upload.expires_at) > now.getTime()) continue;
      const queued = this.requeue(image, now, `upload session ${upload.upload_id} expired unfinished`);
      if (await this.settle(queued, image)) {
        await this.blobs.abortMultipartUpload(upload.key, upload.store_upload_id);
        swept.push(image.id);
      }
    }
    return swept;
  }

  /** Images whose verification never finished: data removed, queued again with the reason. */
  async stuckImages(now: Date, scope: SweepScope = {}): Promise<string[]> {
    const swept: string[] = [];
    for await (const image of this.inScope(this.repo.findByStatus(['saving', 'importing'], { updatedAtOrBefore: new Date(now.getTime() - this.settings.stuckSeconds * 1000) }), scope)) {
      if (image.upload?.state === 'open') continue; // an open session belongs to expiredUploads
      if (seconds(image.updated_at, now) < this.settings.stuckSeconds) continue;
      const queued = this.requeue(image, now, `${image.status} did not finish within ${this.settings.stuckSeconds} s`);
      if (await this.settle(queued, image)) {
        if (image.location) await this.blobs.deleteObject(image.location);
        swept.push(image.id);
      }
    }
    return swept;
  }

  /**
   * Objects no image owns (left by a crash between writes) and images whose object is missing.
   * Orphans younger than the grace period are only reported: an upload may be landing.
   */
  async audit(now: Date, scope: SweepScope = {}): Promise<Pick<SweepReport, 'orphanObjects' | 'missingObjects'>> {
    const orphanObjects: SweepReport['orphanObjects'] = [];
    const prefixes = scope.imageIds ? scope.imageIds.map((id) => `images/${id}/`) : ['images/'];
    const objects = async function* (blobs: BlobStore) {
      for (const prefix of prefixes) yield* blobs.list(prefix);
    };
    for await (const object of objects(this.blobs)) {
      const imageId = object.key.split('/')[1] ?? '';
      const image = imageId ? await this.repo.get(imageId) : undefined;
      const owned = image && (image.location === object.key || image.upload?.key === object.key);
      if (owned) continue;
      const old = (now.getTime() - object.lastModified.getTime()) / 1000 >= this.settings.orphanGraceSeconds;
      if (old) await this.blobs.deleteObject(object.key);
      orphanObjects.push({ key: object.key, deleted: old });
    }
    const missingObjects: SweepReport['missingObjects'] = [];
    for await (const image of this.inScope(this.repo.findByStatus(['active', 'deactivated']), scope)) {
      if (image.location && !(await this.blobs.exists(image.location))) missingObjects.push({ image_id: image.id, key: image.location });
    }
    return { orphanObjects, missingObjects };
  }

  private async *inScope(images: AsyncIterable<Image>, scope: SweepScope): AsyncIterable<Image> {
    for await (const image of images) if (!scope.imageIds || scope.imageIds.includes(image.id)) yield image;
  }

  private requeue(image: Image, now: Date, reason: string): Image {
    return nextVersion(queuedWithoutData(image, reason), now);
  }

  private settle(next: Image, previous: Image): Promise<boolean> {
    return saveUnlessMoved(this.repo, next, previous);
  }
}
