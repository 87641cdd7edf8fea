import type { Image } from '../domain/image.js';
import type { ImageMember } from '../domain/member.js';

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

/** Membership events, as Glance's `image.member.*` notifications. */
export const MEMBER_EVENT_TYPES = ['image.member.create', 'image.member.update', 'image.member.delete'] as const;
export type MemberEventType = (typeof MEMBER_EVENT_TYPES)[number];

export type ImageEvent =
  | {
      type: ImageEventType;
      /** The image as that change left it. */
      image: Image;
    }
  | {
      type: MemberEventType;
      /** The membership as that change left it (`deleted` for image.member.delete). */
      member: ImageMember & { deleted: boolean };
    };

/** The image an event is about (for logs and ordering). */
export function eventImageId(event: ImageEvent): string {
  return 'image' in event ? event.image.id : event.member.image_id;
}

/**
 * Where image events go (an EventBridge bus). Writes do not call this: they record their
 * events in the image item (the outbox) and the relay publishes them from the table's stream.
 */
export interface ImageEvents {
  /** Publishes in order; throws if any event was not accepted, so the caller can retry. */
  publish(events: readonly ImageEvent[]): Promise<void>;
}
