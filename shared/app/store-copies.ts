import type { Caller } from '../domain/caller.js';
import { conflict, forbidden, notFound } from '../domain/errors.js';
import { enforceOnImage } from '../domain/image-access.js';
import type { StoreBlobs } from '../ports/blob-store.js';
import type { ImageRepository } from '../ports/image-repository.js';
import type { AuthorizedImages } from './authorized-images.js';
import { nextVersion, saveOrConflict } from './writes.js';

/** An image's copies in the deployment's stores: removing one (Glance's DELETE /v2/stores/{store_id}/{image_id}). */
export class StoreCopies {
  constructor(
    private readonly repo: ImageRepository,
    private readonly access: AuthorizedImages,
    private readonly stores: StoreBlobs,
    private readonly clock: () => Date = () => new Date(),
  ) {}

  /**
   * Glance's delete_from_store, in its order of checks (glance/api/v2/images.py): no multi-store
   * 404, unknown store 409, unseen image 404, the location rules 403, not active 409 (so never
   * while importing), the last store 403, not in that store 404. The image stops naming the store
   * in one conditional write, then the copy is deleted; a crash or a store failure between the
   * two leaves a copy no image lists, which the auditor removes (shared/app/sweepers.ts).
   */
  async deleteFromStore(caller: Caller, storeId: string, id: string): Promise<void> {
    const { catalog } = this.stores;
    catalog.requireMultiStore();
    const store = catalog.find(storeId);
    if (!store) throw conflict(`The selected store ${storeId} is not available on this node.`);
    const missing = `Failed to find image ${id}`;
    const found = await this.access.find(caller, id);
    enforceOnImage(this.access.policy, 'get_image_location', caller, found, missing);
    const image = enforceOnImage(this.access.policy, 'delete_image_location', caller, found, missing);
    if (image.status !== 'active') throw conflict("It's not allowed to remove image data from store if image status is not 'active'");
    const held = catalog.storesOf(image).map((s) => s.id);
    if (held.length === 1) throw forbidden('Cannot delete image data from the only store containing it. Consider deleting the image instead.');
    if (!held.includes(storeId)) throw notFound(`Image ${image.id} is not stored in store ${storeId}.`);
    await saveOrConflict(this.repo, nextVersion({ ...image, stores: held.filter((s) => s !== storeId) }, this.clock()), image, ['image.update']);
    if (!image.location) return;
    try {
      await this.stores.in(store).deleteObject(image.location);
    } catch {
      // The image no longer names the store: the copy is an orphan the audit removes.
    }
  }
}
