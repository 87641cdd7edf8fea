import { pendingScrubOf } from '../domain/deletion.js';
import { awaitsVerification, queuedWithoutData, type Image } from '../domain/image.js';
import { isCopying } from '../domain/stores.js';
import type { StoreBlobs } from '../ports/blob-store.js';
import type { ImageRepository } from '../ports/image-repository.js';
import { NO_USAGE, QUOTA_RESOURCES, usageByProject, type Usage } from '../domain/quota.js';
import type { ImageStatus } from '../domain/status.js';
import type { UsageRepository } from '../ports/usage-repository.js';
import type { VerificationRequest, Workflows } from '../ports/workflows.js';
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
  /** `store` named only where stores are configured. */
  orphanObjects: Array<{ key: string; deleted: boolean; store?: string }>;
  orphanUploads: Array<{ key: string; upload_id: string; aborted: boolean; store?: string }>;
  missingObjects: Array<{ image_id: string; key: string; store?: string }>;
  /** pending_delete images past their scrub time whose scrubber was lost: scrubbed now. */
  redrivenScrubs: string[];
  /** Images saving or importing whose verification was lost (or never started): verified now. */
  redrivenVerifications: string[];
  /** Projects whose usage counters differed from their images' usage (shared/domain/quota.ts). */
  usageDrift: UsageDrift[];
}

export interface UsageDrift {
  project: string;
  /** What the counters said, and what the images add up to. */
  stored: Usage;
  actual: Usage;
  /** False when a write changed the counters during the audit: the next audit looks again. */
  repaired: boolean;
}

/** Every status whose images count toward usage (killed and deleted count for nothing). */
const COUNTED_STATUSES: readonly ImageStatus[] = ['queued', 'saving', 'uploading', 'importing', 'active', 'deactivated', 'pending_delete'];

const seconds = (from: string, to: Date) => (to.getTime() - Date.parse(from)) / 1000;

/**
 * How long after its write a verification may still be about to start: longer than any API
 * request that writes saving or importing and then starts it (API Gateway gives up at 29 s).
 */
export const VERIFICATION_START_SECONDS = 300;

/**
 * The periodic jobs Glance runs as daemons (its scrubber's and reapers' housekeeping), run on
 * EventBridge schedules. Each decision is a conditional write, so a sweep racing a client's
 * own request changes nothing the client just did.
 */
export class Sweepers {
  constructor(
    private readonly repo: ImageRepository,
    private readonly usage: UsageRepository,
    private readonly stores: StoreBlobs,
    private readonly workflows: Workflows,
    private readonly settings: SweepSettings,
  ) {}

  /**
   * Upload sessions past their expiry: abort the multipart upload, then queue the image again.
   * The store first, as a client's abort does: stopped between the two, the session is still
   * on the image and the next sweep finishes it; the other way round, no one would abort it.
   */
  async expiredUploads(now: Date, scope: SweepScope = {}): Promise<string[]> {
    const swept: string[] = [];
    for await (const image of this.inScope(this.repo.findByStatus(['saving', 'uploading']), scope)) {
      const upload = image.upload;
      if (!upload || upload.state !== 'open' || Date.parse(upload.expires_at) > now.getTime()) continue;
      for (const store of this.stores.catalog.storesOf(image)) await this.stores.in(store).abortMultipartUpload(upload.key, upload.store_upload_id);
      const queued = this.requeue(image, now, `upload session ${upload.upload_id} expired unfinished`);
      if (await this.settle(queued, image)) swept.push(image.id);
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
        const { location } = image;
        const fetchUpload = fetchUploadOf(image);
        for (const store of location ? this.stores.catalog.storesOf(image) : []) {
          // A web-download's recorded upload goes with it (a fetch still moving writes its record each run, so is never stuck).
          if (fetchUpload) await this.stores.in(store).abortMultipartUpload(location!, fetchUpload);
          await this.stores.in(store).deleteObject(location!);
        }
        swept.push(image.id);
      }
    }
    return swept;
  }

  /**
   * Objects no image owns (left by a crash between writes) and images whose object is missing.
   * Orphans younger than the grace period are only reported: an upload may be landing.
   */
  async audit(now: Date, scope: SweepScope = {}): Promise<Pick<SweepReport, 'orphanObjects' | 'orphanUploads' | 'missingObjects'>> {
    const prefixes = scope.imageIds ? scope.imageIds.map((id) => `images/${id}/`) : ['images/'];
    const pastGrace = (since: Date) => (now.getTime() - since.getTime()) / 1000 >= this.settings.orphanGraceSeconds;
    const orphanObjects: SweepReport['orphanObjects'] = [];
    const orphanUploads: SweepReport['orphanUploads'] = [];
    // Every store: an object is the image's only in the stores the image lists (a per-store
    // delete that stopped between its write and the object's removal leaves one behind).
    for (const store of this.stores.catalog.stores) {
      const blobs = this.stores.in(store);
      const listed = (image: Image | undefined) => image !== undefined && this.stores.catalog.storesOf(image).includes(store);
      for (const prefix of prefixes) {
        for await (const object of blobs.list(prefix)) {
          const image = await this.imageOf(object.key);
          if (listed(image) && (image!.location === object.key || image!.upload?.key === object.key)) continue;
          // A verified image's copy in a store it no longer lists (a per-store delete, or an
          // import's staged copy, stopped before the object went) waits for no grace: nothing is landing.
          const copyRemoved = image !== undefined && image.location === object.key && (image.status === 'active' || image.status === 'deactivated') && !image.import_targets;
          const old = copyRemoved || pastGrace(object.lastModified);
          if (old) await blobs.deleteObject(object.key);
          orphanObjects.push({ key: object.key, deleted: old, ...(this.stores.catalog.multiStore && { store: store.id }) });
        }
      }
      // Multipart uploads no image records: a crash between opening one and the image's write,
      // or between an image's write and the abort it meant. Their parts are bytes nobody can
      // complete; the bucket's lifecycle rule would abort them only after days.
      for (const prefix of prefixes) {
        for await (const upload of blobs.listUploads(prefix)) {
          const image = await this.imageOf(upload.key);
          if (listed(image) && (image!.upload?.store_upload_id === upload.uploadId || fetchUploadOf(image!) === upload.uploadId)) continue;
          const old = pastGrace(upload.initiated);
          if (old) await blobs.abortMultipartUpload(upload.key, upload.uploadId);
          orphanUploads.push({ key: upload.key, upload_id: upload.uploadId, aborted: old, ...(this.stores.catalog.multiStore && { store: store.id }) });
        }
      }
    }
    const missingObjects: SweepReport['missingObjects'] = [];
    for await (const image of this.inScope(this.repo.findByStatus(['active', 'deactivated']), scope)) {
      const { location } = image;
      if (!location) continue;
      for (const store of this.stores.catalog.storesOf(image)) {
        if (!(await this.stores.in(store).exists(location))) missingObjects.push({ image_id: image.id, key: location, ...(this.stores.catalog.multiStore && { store: store.id }) });
      }
    }
    return { orphanObjects, orphanUploads, missingObjects };
  }

  /**
   * The daily audit of quota usage: each project's counters against its images, recomputed.
   * Every write keeps them right in its own transaction, so drift means a bug or a hand edit;
   * it is reported (the UsageDrift metric) and repaired. A repair sets the counters only if no
   * write changed them since they were read, before the images were: a project busy during
   * the audit is left for the next one, never set from a stale count.
   */
  async usageAudit(scope: SweepScope = {}): Promise<UsageDrift[]> {
    const stored = new Map<string, { usage: Usage; version: number }>();
    for await (const counters of this.usage.all()) stored.set(counters.project, counters);
    const images = new Map<string, Image>();
    for await (const image of this.repo.findByStatus(COUNTED_STATUSES)) images.set(image.id, image);
    const actual = usageByProject(images.values());
    let projects = new Set([...stored.keys(), ...actual.keys()]);
    if (scope.imageIds) {
      const owners = await Promise.all(scope.imageIds.map(async (id) => (await this.repo.get(id))?.owner));
      projects = new Set(owners.filter((owner): owner is string => !!owner));
    }
    const drift: UsageDrift[] = [];
    for (const project of projects) {
      const before = stored.get(project) ?? { usage: NO_USAGE, version: 0 };
      const want = actual.get(project) ?? { ...NO_USAGE };
      if (QUOTA_RESOURCES.every((r) => before.usage[r] === want[r])) continue;
      // The index is eventually consistent: decide on a strong read, at the version listed.
      const current = await this.usage.get(project);
      const repaired = current.version === before.version && (await this.usage.repair(current, want));
      drift.push({ project, stored: current.usage, actual: want, repaired });
    }
    return drift;
  }

  /** The image an object key (`images/<id>/...`) belongs to. */
  private async imageOf(key: string): Promise<Image | undefined> {
    const imageId = key.split('/')[1] ?? '';
    return imageId ? this.repo.get(imageId) : undefined;
  }

  /**
   * Every write followed by a workflow's start (DELETE, scrub-now, complete, import) can lose
   * the start: the process dies between the two, Step Functions refuses, or the local runtime
   * restarts and forgets its executions. This re-drives what has no running execution: each
   * pending_delete image past its scrub time (a failed scrub too, so it is retried once the
   * store recovers), and each image waiting for a verification. Duplicates are harmless: every
   * step of both workflows is idempotent, and the scrubber's claim is joined.
   */
  async lostWorkflows(now: Date, scope: SweepScope = {}): Promise<Pick<SweepReport, 'redrivenScrubs' | 'redrivenVerifications'>> {
    const redrivenScrubs: string[] = [];
    const scrubbing = await this.workflows.runningScrubs();
    for await (const image of this.inScope(this.repo.findByStatus(['pending_delete']), scope)) {
      const scrub = pendingScrubOf(image);
      if (Date.parse(scrub.due_at) > now.getTime() || scrubbing.has(image.id.toLowerCase())) continue;
      await this.workflows.startScrub({ image_id: image.id, version: scrub.version, delay_seconds: 0 }, 'redrive');
      redrivenScrubs.push(image.id);
    }
    const redrivenVerifications: string[] = [];
    const verifying = await this.workflows.runningVerifications();
    // And images in a copy-image import, which stays active while its workflow copies (their
    // own sparse partition of the status index: never a read of every active image); only
    // those last written before the start window can be lost.
    const quiet = new Date(now.getTime() - VERIFICATION_START_SECONDS * 1000);
    const waiting = [this.repo.findByStatus(['saving', 'importing']), this.repo.findCopying({ updatedAtOrBefore: quiet })];
    for await (const image of this.inScope(concat(waiting), scope)) {
      const request = awaitedVerification(image);
      if (!request || seconds(image.updated_at, now) < VERIFICATION_START_SECONDS || verifying.has(image.id.toLowerCase())) continue;
      await this.workflows.redriveVerification(request);
      redrivenVerifications.push(image.id);
    }
    return { redrivenScrubs, redrivenVerifications };
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

async function* concat<T>(sources: readonly AsyncIterable<T>[]): AsyncIterable<T> {
  for (const source of sources) yield* source;
}

/**
 * The multipart upload a web-download's ranged fetch fills across runs (ImportFetch.upload), on
 * the image's location, while it imports: the orphan audit leaves it alone however old it is.
 */
function fetchUploadOf(image: Image): string | undefined {
  return image.status === 'importing' && image.location ? image.import_fetch?.upload?.upload_id : undefined;
}

/** The verification (or copy-image import) an image is waiting for, if any (the workers' own tests: awaitsVerification, isCopying). */
function awaitedVerification(image: Image): VerificationRequest | undefined {
  if (isCopying(image) && image.location && image.task_id) return { image_id: image.id, key: image.location, copy: image.task_id };
  if (!awaitsVerification(image) || !image.location) return undefined;
  // A web-download whose fetch was lost fetches again (into the same key) before verifying.
  return { image_id: image.id, key: image.location, ...(image.import_source && { uri: image.import_source }) };
}
