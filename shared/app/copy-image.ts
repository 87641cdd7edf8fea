import type { Image } from '../domain/image.js';
import { copiesPending, copyRecorded, FAILED_IMPORT, isCopying, storesListed } from '../domain/stores.js';
import type { StoreBlobs } from '../ports/blob-store.js';
import { ConcurrentUpdateError, type ImageRepository } from '../ports/image-repository.js';
import type { VerificationRequest } from '../ports/workflows.js';
import { serverSideCopy, type CopySettings } from './server-copy.js';
import { nextVersion } from './writes.js';

/** A copy-image import's work: which image, its bytes, and the import's task. */
export type CopyRequest = Required<Pick<VerificationRequest, 'image_id' | 'key' | 'copy'>>;

export type CopyOutcome = { result: 'copied'; stores: string[]; failed: string[] } | { result: 'skipped'; why: string };

/** How often one store's record is tried again after losing to a concurrent write of the image (another store's record, a PATCH). */
const RECORD_ATTEMPTS = 8;

/**
 * The copy-image import's step of the verifier workflow: copies the image's bytes, server-side,
 * from a store that holds them to each store the import still names (in parallel), and records
 * each store as it ends in its own conditional write (Glance's store-by-store progress). The
 * image stays active. Idempotent: it acts only while the image's import is this task's, and
 * copies only stores still pending, so a retry or a re-driven execution finishes what is left.
 */
export class ImageCopier {
  constructor(
    private readonly repo: ImageRepository,
    private readonly stores: StoreBlobs,
    private readonly settings: CopySettings,
    private readonly clock: () => Date = () => new Date(),
  ) {}

  async copy(request: CopyRequest): Promise<CopyOutcome> {
    const image = await this.copying(request);
    if (!image) return { result: 'skipped', why: `image ${request.image_id} has no copy-image import ${request.copy}` };
    const { catalog } = this.stores;
    const source = catalog.downloadStore(image);
    const pending = copiesPending(image);
    await Promise.all(
      pending.map(async (id) => {
        const target = catalog.find(id);
        let copied = false;
        if (target && source && image.location && image.size !== null) {
          try {
            await serverSideCopy(this.stores.in(target), source, image.location, image.size, this.settings);
            copied = true;
          } catch {
            // Recorded as os_glance_failed_import, as Glance reports a store that failed.
          }
        }
        await this.record(request, id, copied);
      }),
    );
    return this.outcome(request);
  }

  /** The workflow's last resort when the copy step keeps failing: every store still pending failed. */
  async giveUp(request: CopyRequest): Promise<CopyOutcome> {
    const image = await this.copying(request);
    if (!image) return { result: 'skipped', why: `image ${request.image_id} has no copy-image import ${request.copy}` };
    for (const id of copiesPending(image)) await this.record(request, id, false);
    return this.outcome(request);
  }

  /**
   * One store's end, in one conditional write; a lost race is tried again on the image as it
   * now is (the repository's refusal carries it). The write that ends the import settles its
   * task (shared/domain/task.ts); copies it gives up are deleted after it, so a crash between
   * the two leaves copies no image lists, which the auditor removes.
   */
  private async record(request: CopyRequest, storeId: string, copied: boolean): Promise<void> {
    let current = await this.copying(request);
    for (let attempt = 0; current && attempt < RECORD_ATTEMPTS; attempt++) {
      if (!copiesPending(current).includes(storeId)) return;
      const { image, revoked } = copyRecorded(current, storeId, copied);
      try {
        await this.repo.save(nextVersion(image, this.clock()), current);
      } catch (error) {
        if (!(error instanceof ConcurrentUpdateError)) throw error;
        current = error.current && this.ours(error.current, request) ? error.current : undefined;
        continue;
      }
      const { location } = current;
      if (location) {
        for (const id of revoked) {
          const store = this.stores.catalog.find(id);
          if (store) await this.stores.in(store).deleteObject(location).catch(() => undefined);
        }
      }
      return;
    }
    // Still the import's after every attempt: thrown, so the workflow's retry records it.
    if (current) throw new Error(`the copy of image ${request.image_id} to store ${storeId} could not be recorded`);
  }

  private async outcome(request: CopyRequest): Promise<CopyOutcome> {
    const image = await this.repo.get(request.image_id);
    return { result: 'copied', stores: image?.stores ?? [], failed: image ? storesListed(image, FAILED_IMPORT) : [] };
  }

  private async copying(request: CopyRequest): Promise<Image | undefined> {
    const image = await this.repo.get(request.image_id);
    return image && this.ours(image, request) ? image : undefined;
  }

  /** The image is in the copy-image import this request carries out (its task, its bytes). */
  private ours(image: Image, request: CopyRequest): boolean {
    return isCopying(image) && image.task_id === request.copy && image.location === request.key;
  }
}
