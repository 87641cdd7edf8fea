import type { Caller } from '../domain/caller.js';
import { imageTarget } from '../domain/image-access.js';
import { holdsBytes, isClaimed, pendingDelete, pendingScrubOf, restored, scrubbingMessage, type DeleteSettings } from '../domain/deletion.js';
import { conflict, forbidden, imageNotFound } from '../domain/errors.js';
import type { Image } from '../domain/image.js';
import { ConcurrentUpdateError, type ImageRepository } from '../ports/image-repository.js';
import type { AuthorizedImages } from './authorized-images.js';
import type { ScrubRequest, ScrubStart, Workflows } from '../ports/workflows.js';
import { nextVersion, saveOrConflict } from './writes.js';

export type { DeleteSettings } from '../domain/deletion.js';

/**
 * Deleting images, Glance's delayed delete: the use cases that start or stop the scrubber
 * workflow, kept apart from ImageService so that only their functions carry a Step Functions
 * client.
 */
export class ImageRemoval {
  constructor(
    private readonly repo: ImageRepository,
    private readonly access: AuthorizedImages,
    private readonly workflows: Workflows,
    private readonly deletes: DeleteSettings,
    private readonly clock: () => Date = () => new Date(),
  ) {}

  /**
   * Glance deletes an image in any status. One that holds bytes (stored, staged, verifying, or
   * an open upload) goes to pending_delete, and the scrubber removes them; the image answers
   * 404 from the moment of the write.
   */
  async delete(caller: Caller, id: string): Promise<void> {
    const current = await this.access.authorize('delete_image', caller, id, `Failed to find image ${id} to delete`);
    if (current.protected) throw forbidden(`Image ${id} is protected and cannot be deleted.`);
    const now = this.clock();
    if (!holdsBytes(current)) {
      // Nothing stored: straight to the tombstone, as Glance does.
      await saveOrConflict(this.repo, nextVersion({ ...current, status: 'deleted' }, now), current, ['image.delete']);
      return;
    }
    const pending = pendingDelete(nextVersion(current, now), this.deletes, now);
    await saveOrConflict(this.repo, pending.image, current);
    // The delete is done once written. If the scrubber does not start (or this process stops
    // here), the sweeper re-drives it once its time is due; the client's answer stays 204.
    await this.startScrub(scrubRequest(pending.image, pending.delaySeconds), 'delayed');
  }

  /**
   * Admin: bring a pending_delete image back (glance-scrubber --restore) to what it was, until
   * the scrubber claims it. The claim is a conditional write on the same version, so a restore
   * racing a scrub either wins before any byte is touched or gets 409.
   */
  async restore(caller: Caller, id: string): Promise<void> {
    const current = await this.repo.get(id);
    this.authorizeOperator('restore_image', 'restore', caller, current);
    if (!current) throw imageNotFound(id);
    const back = nextVersion(restored(current), this.clock());
    try {
      await this.repo.save(back, current, ['image.restore']);
    } catch (error) {
      if (!(error instanceof ConcurrentUpdateError)) throw error;
      if (error.current && isClaimed(error.current)) throw conflict(scrubbingMessage(id));
      throw conflict(`Image ${id} was changed by another request (it is now ${error.current?.status ?? 'gone'}); it was not restored.`);
    }
    const { version } = pendingScrubOf(current);
    // Stopping is tidiness, not safety: an execution that still runs finds the image restored
    // and cannot claim it. A failure to stop is logged; the restore stands.
    await this.workflows.stopScrubs(id, version).catch((error: unknown) => logFailure('scrubber not stopped after a restore', id, error));
  }

  /** Admin: remove a pending_delete image's data now instead of at the end of the window. */
  async scrubNow(caller: Caller, id: string): Promise<void> {
    const current = await this.repo.get(id);
    this.authorizeOperator('scrub_image', 'scrub', caller, current);
    if (!current) throw imageNotFound(id);
    if (current.status !== 'pending_delete') throw conflict(`Image ${id} is not pending delete (it is ${current.status}); there is nothing to scrub.`);
    await this.workflows.startScrub(scrubRequest(current, 0), 'now');
  }

  /**
   * The operator actions on pending_delete images, which nobody sees: a caller the rule refuses
   * gets 403 whether or not the image exists, so ids do not leak.
   */
  private authorizeOperator(rule: string, action: string, caller: Caller, image: Image | undefined): void {
    const target = image ? imageTarget({ image, membership: undefined }) : {};
    if (!this.access.policy.allows(rule, caller, target)) throw forbidden(`You are not authorized to complete ${action} action.`);
  }

  private async startScrub(request: ScrubRequest, start: ScrubStart): Promise<void> {
    await this.workflows.startScrub(request, start).catch((error: unknown) => logFailure('scrubber not started; the sweeper re-drives it', request.image_id, error));
  }
}

function scrubRequest(image: Image, delaySeconds: number): ScrubRequest {
  return { image_id: image.id, version: pendingScrubOf(image).version, delay_seconds: delaySeconds };
}

function logFailure(message: string, imageId: string, error: unknown): void {
  console.error(JSON.stringify({ level: 'error', message, image_id: imageId, error: String(error) }));
}
