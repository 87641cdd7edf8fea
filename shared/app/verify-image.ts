import { awaitsVerification, queuedWithoutData, type Image, type ImportTargets } from '../domain/image.js';
import type { StoreBlobs } from '../ports/blob-store.js';
import { importLanding, landed as landedIn, type StoreDefinition } from '../domain/stores.js';
import type { ImageEventType } from '../ports/events.js';
import type { ImageRepository } from '../ports/image-repository.js';
import type { VerificationRequest } from '../ports/workflows.js';
import { activatedBy, ImageDigester, inBlocks, refusalReason } from './image-digest.js';
import { DEFAULT_COPY_SETTINGS, serverSideCopy, type CopySettings } from './server-copy.js';
import { nextVersion, saveUnlessMoved } from './writes.js';

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
    private readonly stores: StoreBlobs,
    private readonly copies: CopySettings = DEFAULT_COPY_SETTINGS,
    private readonly clock: () => Date = () => new Date(),
  ) {}

  async verify(request: VerificationRequest): Promise<VerificationOutcome> {
    const image = await this.waitingImage(request);
    if (!image) return { result: 'skipped', why: `image ${request.image_id} is not waiting for ${request.key}` };

    // The bytes are verified where they landed (the image's first store).
    const landed = this.stores.catalog.storesOf(image)[0];
    const data = landed ? await this.stores.in(landed).read(request.key) : undefined;
    if (!data) return this.refuse(image, 'image data is missing from the store');
    const digester = new ImageDigester();
    for await (const chunk of inBlocks(data)) digester.update(chunk);
    const digest = digester.finish();
    const reason = refusalReason(image, digest);
    if (reason) return this.refuse(image, reason);

    let verified = image;
    if (image.import_targets && landed) {
      const landing = await this.landInTargets(image, image.import_targets, landed, digest.size);
      if (landing.refused) return this.refuse(image, landing.refused);
      verified = landedIn(image, landing.stores, landing.failed);
    }
    const active = nextVersion(activatedBy(verified, digest), this.clock());
    const outcome = (await this.settle(active, image, ['image.upload', 'image.activate'])) ?? { result: 'active' as const, image: active };
    // The staged copy, where the import did not ask for it (after the write: see landInTargets).
    const stagedOnly = landed && image.location && !this.stores.catalog.storesOf(verified).includes(landed) ? landed : undefined;
    if (outcome.result === 'active' && stagedOnly && image.location) await this.stores.in(stagedOnly).deleteObject(image.location);
    return outcome;
  }

  /**
   * Copies the verified bytes, server-side, from the store they were staged in to each store the
   * import names (a re-run copies again: the copy is idempotent; multipart above CopyObject's
   * 5 GiB, shared/app/server-copy.ts). The staged copy stays only
   * where it was asked for; removing it is the last step, after the activation's write would
   * name the other stores, so a crash leaves copies the auditor removes, never a missing one.
   */
  private async landInTargets(image: Image, targets: ImportTargets, staged: StoreDefinition, size: number) {
    const { location } = image;
    const reached: string[] = [];
    await Promise.all(
      targets.stores.map(async (id) => {
        const store = this.stores.catalog.find(id);
        if (!store || !location) return;
        if (store.id === staged.id) return void reached.push(id);
        try {
          await serverSideCopy(this.stores.in(store), staged, location, size, this.copies);
          reached.push(id);
        } catch {
          // Reported as os_glance_failed_import (or the refusal), as Glance reports a store that failed.
        }
      }),
    );
    return importLanding(targets, reached);
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
    // Every store: an import may have copied the bytes to stores the image does not list yet.
    const { location } = image;
    const everywhere = image.import_targets ? this.stores.catalog.stores : this.stores.catalog.storesOf(image);
    if (location) await Promise.all(everywhere.map((store) => this.stores.in(store).deleteObject(location)));
    const queued = nextVersion({ ...queuedWithoutData(image, `Image data was refused: ${reason}`), import_targets: null }, this.clock());
    return (await this.settle(queued, image)) ?? { result: 'refused', reason, image: queued };
  }

  /** One conditional write; losing it to a concurrent run of the same verification is fine. */
  private async settle(next: Image, previous: Image, events: readonly ImageEventType[] = []): Promise<VerificationOutcome | undefined> {
    return (await saveUnlessMoved(this.repo, next, previous, events)) ? undefined : { result: 'skipped', why: 'another writer changed the image first' };
  }
}
