import type { Image } from '../domain/image.js';

/**
 * The copies of an image's list keys its memberships carry (docs/table-design.md, "Shared-with-me
 * images"): after a write of the image, each live membership's copies are brought to that
 * version. Idempotent, and a version older than a membership's copies changes nothing, so a
 * replayed or late change is harmless.
 */
export interface ShareCopies {
  follow(image: Image): Promise<void>;
}
