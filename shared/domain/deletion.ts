import { conflict } from './errors.js';
import { glanceTimestamp, type Image, type PendingScrub } from './image.js';
import type { ImageStatus } from './status.js';

/**
 * Deleting an image, Glance's delayed delete: the decisions, kept pure. An image that holds
 * bytes goes to pending_delete with a PendingScrub; the scrubber claims it (one conditional
 * write) before it removes anything, and a restore is possible only until then.
 */
export interface DeleteSettings {
  /** Glance's delayed_delete: images with data wait in pending_delete for the scrubber. */
  delayedDelete: boolean;
  /** The restore window before the scrubber removes the data. */
  scrubDelaySeconds: number;
}

/**
 * Whether the image holds bytes anywhere: a stored, staged or verifying object, or an open
 * multipart upload. Glance's `delete` sends only images with locations to pending_delete and
 * removes staged data inline; here every byte goes through the scrubber, whose steps survive a
 * crash, so any image holding bytes goes to pending_delete.
 */
export function holdsBytes(image: Image): boolean {
  return image.location !== null || image.upload !== null;
}

/**
 * Statuses whose bytes were verified, and what a restore brings them back to. A restore of a
 * deactivated image keeps it deactivated: an admin deactivated it (Glance's reason is usually
 * a security problem), and undoing a delete must not undo that.
 */
const RESTORE_TARGETS: Partial<Record<ImageStatus, PendingScrub['restore_to']>> = { active: 'active', deactivated: 'deactivated' };

/**
 * `next` (the next version of the image, as DELETE writes it) sent to the scrubber. Verified
 * data waits out the restore window; bytes never verified (an upload, staging or verification
 * under way) have nothing to restore and are scrubbed at once.
 */
export function pendingDelete(next: Image, settings: DeleteSettings, now: Date): { image: Image; delaySeconds: number } {
  const restoreTo = RESTORE_TARGETS[next.status] ?? null;
  const delaySeconds = restoreTo && settings.delayedDelete ? settings.scrubDelaySeconds : 0;
  const scrub: PendingScrub = {
    version: next.version,
    due_at: glanceTimestamp(new Date(now.getTime() + delaySeconds * 1000)),
    restore_to: restoreTo,
    claimed_at: null,
  };
  return { image: { ...next, status: 'pending_delete', scrub }, delaySeconds };
}

/**
 * A pending_delete image's scrub. Items written before PendingScrub existed had only active
 * images pending_delete, with executions pinned to their version and no known window.
 */
export function pendingScrubOf(image: Image): PendingScrub {
  return image.scrub ?? { version: image.version, due_at: image.updated_at, restore_to: 'active', claimed_at: null };
}

export function isClaimed(image: Image): boolean {
  return image.status === 'pending_delete' && pendingScrubOf(image).claimed_at !== null;
}

/** The claim the scrubber writes before it removes anything; restore refuses a claimed image. */
export function claimed(image: Image, now: Date): Image {
  return { ...image, scrub: { ...pendingScrubOf(image), claimed_at: glanceTimestamp(now) } };
}

export const scrubbingMessage = (id: string) => `Image ${id} is being scrubbed: its data may already be removed, so it cannot be restored.`;

/** The image restored (glance-scrubber --restore), or 409 if the scrubber may have removed bytes or none were verified. */
export function restored(image: Image): Image {
  if (image.status !== 'pending_delete') {
    throw conflict(`Image ${image.id} is not pending delete (it is ${image.status}); it cannot be restored.`);
  }
  const scrub = pendingScrubOf(image);
  if (scrub.claimed_at) throw conflict(scrubbingMessage(image.id));
  if (!scrub.restore_to) throw conflict(`Image ${image.id} was deleted before its data was verified; there is nothing to restore.`);
  return { ...image, status: scrub.restore_to, scrub: null };
}
