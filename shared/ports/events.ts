import type { Image } from '../domain/image.js';

/** Lifecycle events, modelled on Glance's notifications. */
export const IMAGE_EVENT_TYPES = [
  'image.create',
  'image.update',
  'image.upload',
  'image.activate',
  'image.deactivate',
  'image.reactivate',
  'image.delete',
  'image.restore',
  /** The scrubber could not delete an image's data; it stays pending_delete for an operator. */
  'image.scrub_failed',
] as const;
export type ImageEventType = (typeof IMAGE_EVENT_TYPES)[number];

/** Publishes what happened to an image, after it happened. Never throws: an event is not worth a failed request. */
export interface ImageEvents {
  publish(type: ImageEventType, image: Image): Promise<void>;
}
