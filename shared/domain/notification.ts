import { toView, type Image } from './image.js';
import type { ImageMember } from './member.js';

/**
 * The payload of an image event, modelled on Glance's `image.*` notifications: the image as
 * the API shows it (without links), plus `deleted`/`deleted_at` as Glance includes them.
 */
export function notificationPayload(image: Image, at: string): Record<string, unknown> {
  const { self: _self, file: _file, schema: _schema, ...view } = toView(image);
  const deleted = image.status === 'deleted';
  return { ...view, deleted, deleted_at: deleted ? at : null };
}

/** The payload of an `image.member.*` event: Glance's format_image_member_notification. */
export function memberNotificationPayload(member: ImageMember & { deleted: boolean }, at: string): Record<string, unknown> {
  return {
    image_id: member.image_id,
    member_id: member.member_id,
    status: member.status,
    created_at: member.created_at,
    updated_at: member.updated_at,
    deleted: member.deleted,
    deleted_at: member.deleted ? at : null,
  };
}
