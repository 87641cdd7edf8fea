import { toView, type Image } from './image.js';

/**
 * The payload of an image event, modelled on Glance's `image.*` notifications: the image as
 * the API shows it (without links), plus `deleted`/`deleted_at` as Glance includes them.
 */
export function notificationPayload(image: Image, at: string): Record<string, unknown> {
  const { self: _self, file: _file, schema: _schema, ...view } = toView(image);
  const deleted = image.status === 'deleted';
  return { ...view, deleted, deleted_at: deleted ? at : null };
}
