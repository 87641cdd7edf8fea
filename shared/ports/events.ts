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

export interface ImageEvent {
  type: ImageEventType;
  /** The image as that change left it. */
  image: Image;
}

/**
 * Where image events go (an EventBridge bus). Writes do not call this: they record their
 * events in the image item (the outbox) and the relay publishes them from the table's stream.
 */
export interface ImageEvents {
  /** Publishes in order; throws if any event was not accepted, so the caller can retry. */
  publish(events: readonly ImageEvent[]): Promise<void>;
}
