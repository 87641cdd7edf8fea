import { conflict, imageNotFound, type GlanceError } from '../domain/errors.js';
import { glanceTimestamp, type Image } from '../domain/image.js';
import type { Task } from '../domain/task.js';
import { canTransition, transitionRefusedMessage } from '../domain/status.js';
import type { ImageEventType } from '../ports/events.js';
import { ConcurrentUpdateError, type ImageRepository } from '../ports/image-repository.js';

/** The next version of an image, stamped now: what every write stores. */
export function nextVersion(image: Image, now: Date): Image {
  return { ...image, version: image.version + 1, updated_at: glanceTimestamp(now) };
}

/**
 * One conditional write on behalf of a client: a lost race is a 409 naming what the image is
 * now (a 404 if it is gone), never a silent overwrite. A transition the status table refuses
 * is Glance's 409 saying so, without a write: "changed by another request" only ever means a
 * concurrent change.
 */
export async function saveOrConflict(repo: ImageRepository, next: Image, previous: Image, events: readonly ImageEventType[] = [], task?: Task): Promise<void> {
  if (next.status !== previous.status && !canTransition(previous.status, next.status)) {
    throw conflict(transitionRefusedMessage(previous.status, next.status));
  }
  try {
    await repo.save(next, previous, events, task);
  } catch (error) {
    if (!(error instanceof ConcurrentUpdateError)) throw error;
    throw lostRace(next.id, error.current);
  }
}

/** A client's lost race: 404 if the image is gone for clients (deleted, or pending_delete), else 409 naming its status. */
export function lostRace(id: string, current: Image | undefined): GlanceError {
  if (!current || current.status === 'deleted' || current.status === 'pending_delete') return imageNotFound(id);
  return conflict(`Image ${id} was changed by another request (it is now ${current.status}); fetch it and retry.`);
}

/** A write on behalf of a background job: losing to another writer means the job has nothing to do. */
export async function saveUnlessMoved(repo: ImageRepository, next: Image, previous: Image, events: readonly ImageEventType[] = []): Promise<boolean> {
  try {
    await repo.save(next, previous, events);
    return true;
  } catch (error) {
    if (error instanceof ConcurrentUpdateError) return false;
    throw error;
  }
}
