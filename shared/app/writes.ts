import { conflict, imageNotFound } from '../domain/errors.js';
import { glanceTimestamp, type Image } from '../domain/image.js';
import type { ImageEventType } from '../ports/events.js';
import { ConcurrentUpdateError, type ImageRepository } from '../ports/image-repository.js';

/** The next version of an image, stamped now: what every write stores. */
export function nextVersion(image: Image, now: Date): Image {
  return { ...image, version: image.version + 1, updated_at: glanceTimestamp(now) };
}

/**
 * One conditional write on behalf of a client: a lost race is a 409 naming what the image is
 * now (a 404 if it is gone), never a silent overwrite.
 */
export async function saveOrConflict(repo: ImageRepository, next: Image, previous: Image, events: readonly ImageEventType[] = []): Promise<void> {
  try {
    await repo.save(next, previous, events);
  } catch (error) {
    if (!(error instanceof ConcurrentUpdateError)) throw error;
    if (!error.current || error.current.status === 'deleted') throw imageNotFound(next.id);
    throw conflict(`Image ${next.id} was changed by another request (it is now ${error.current.status}); fetch it and retry.`);
  }
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
