import { requireModifiable, type Caller } from '../domain/caller.js';
import { conflict, forbidden, imageNotFound } from '../domain/errors.js';
import type { Image } from '../domain/image.js';
import type { ImageEventType } from '../ports/events.js';
import type { ImageRepository } from '../ports/image-repository.js';
import type { Workflows } from '../ports/workflows.js';
import { nextVersion, saveOrConflict } from './writes.js';

export interface DeleteSettings {
  /** Glance's delayed_delete: images with data wait in pending_delete for the scrubber. */
  delayedDelete: boolean;
  /** The restore window before the scrubber removes the data. */
  scrubDelaySeconds: number;
}

/**
 * Deleting images, Glance's delayed delete: the use cases that start or stop the scrubber
 * workflow, kept apart from ImageService so that only their functions carry a Step Functions
 * client.
 */
export class ImageRemoval {
  constructor(
    private readonly repo: ImageRepository,
    private readonly workflows: Workflows,
    private readonly deletes: DeleteSettings,
    private readonly clock: () => Date = () => new Date(),
  ) {}

  async delete(caller: Caller, id: string): Promise<void> {
    const current = requireModifiable(caller, await this.repo.get(id), id, `Failed to find image ${id} to delete`);
    if (current.protected) throw forbidden(`Image ${id} is protected and cannot be deleted.`);
    if (!current.location && !current.upload) {
      // Nothing stored: straight to the tombstone, as Glance does.
      const tombstone = this.bump({ ...current, status: 'deleted' });
      await this.save(tombstone, current, ['image.delete']);
      return;
    }
    // Data to remove: the scrubber removes it, then marks the image deleted. With delayed delete
    // off it does so at once; either way the image answers 404 from now on.
    const pending = this.bump({ ...current, status: 'pending_delete' });
    await this.save(pending, current);
    const delay = this.deletes.delayedDelete ? this.deletes.scrubDelaySeconds : 0;
    await this.workflows.startScrub({ image_id: id, version: pending.version, delay_seconds: delay });
  }

  /** Admin: bring a pending_delete image back within the restore window (glance-scrubber --restore). */
  async restore(caller: Caller, id: string): Promise<void> {
    if (!caller.isAdmin) throw forbidden('You are not authorized to complete restore action.');
    const current = await this.repo.get(id);
    if (!current) throw imageNotFound(id);
    if (current.status !== 'pending_delete') throw conflict(`Image ${id} is not pending delete (it is ${current.status}); it cannot be restored.`);
    const restored = this.bump({ ...current, status: 'active' });
    await this.save(restored, current, ['image.restore']);
    await this.workflows.stopScrub(id, current.version);
  }

  /** Admin: remove a pending_delete image's data now instead of at the end of the window. */
  async scrubNow(caller: Caller, id: string): Promise<void> {
    if (!caller.isAdmin) throw forbidden('You are not authorized to complete scrub action.');
    const current = await this.repo.get(id);
    if (!current) throw imageNotFound(id);
    if (current.status !== 'pending_delete') throw conflict(`Image ${id} is not pending delete (it is ${current.status}); there is nothing to scrub.`);
    await this.workflows.startScrub({ image_id: id, version: current.version, delay_seconds: 0 }, true);
  }

  private bump(image: Image): Image {
    return nextVersion(image, this.clock());
  }

  private save(next: Image, previous: Image, events: readonly ImageEventType[] = []): Promise<void> {
    return saveOrConflict(this.repo, next, previous, events);
  }
}
