import type { Image } from '../domain/image.js';
import type { Task } from '../domain/task.js';
import type { ListQuery } from '../domain/list-query.js';
import type { Lister } from '../domain/list-visibility.js';
import type { ImageStatus } from '../domain/status.js';
import type { ImageEventType } from './events.js';

/** A conditional write lost: the item changed (or vanished) since it was read. */
export class ConcurrentUpdateError extends Error {
  constructor(readonly current: Image | undefined) {
    super('The image was changed by another request');
    this.name = 'ConcurrentUpdateError';
  }
}

/** The create was refused because an item with that id exists (or existed: tombstones keep ids). */
export class DuplicateImageError extends Error {
  constructor(readonly id: string) {
    super(`Image with identifier ${id} already exists!`);
    this.name = 'DuplicateImageError';
  }
}

export interface ListPage {
  images: Image[];
}

/** Narrows `findByStatus`. */
export interface StatusQuery {
  /** Only images last written at or before this time (whose last change is at least this old). */
  updatedAtOrBefore?: Date;
}

/**
 * Image metadata storage. Every write is conditional; see the DynamoDB adapter for how.
 *
 * Every write also takes the events it means (none by default). They are stored with the
 * write, in the same item (the outbox), and published from the table's stream after it
 * commits: a write and its events happen together or not at all.
 */
export interface ImageRepository {
  /** Insert a new image; DuplicateImageError if the id was ever used. */
  create(image: Image, events?: readonly ImageEventType[], task?: Task): Promise<void>;
  /**
   * The image, including tombstones (status deleted), or undefined; undefined without asking
   * the store for an id that is not a UUID (clients send any string, of any length).
   */
  get(id: string): Promise<Image | undefined>;
  /**
   * Replace `previous` with `next` in one conditional write: it succeeds only while the stored
   * item still has `previous.version` and a status from which `next.status` may be entered.
   * `next.version` must be `previous.version + 1`. ConcurrentUpdateError otherwise.
   *
   * `task` is the import task this write starts (recorded with it, and named on the image);
   * a write that takes an importing image out of importing finishes the image's task
   * (shared/domain/task.ts `importTaskSettlement`), in the same write.
   */
  save(next: Image, previous: Image, events?: readonly ImageEventType[], task?: Task): Promise<void>;
  /**
   * Every image in one of these statuses, oldest change first per status: for the sweepers,
   * which run on a schedule. The statuses a sweep looks for (saving, uploading, importing,
   * pending_delete) are read from a sparse index, so a sweep reads only its candidates; any
   * other status (the audit's active and deactivated) pages through every live image.
   * Eventually consistent: decide on what it yields with a conditional write.
   */
  findByStatus(statuses: readonly ImageStatus[], query?: StatusQuery): AsyncIterable<Image>;
  /** Images in a copy-image import (active or deactivated, with targets: shared/domain/stores.ts isCopying), oldest change first. */
  findCopying(query?: StatusQuery): AsyncIterable<Image>;
}
