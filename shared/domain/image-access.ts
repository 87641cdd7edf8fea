import type { Caller } from './caller.js';
import { forbidden, notFound } from './errors.js';
import type { Image } from './image.js';
import type { ImageMember } from './member.js';
import type { PolicyEngine, PolicyTarget } from './policy.js';

/** An image as one caller reads it: with the caller's own membership of it, if any. */
export interface ImageForCaller {
  image: Image;
  /** The caller's project's membership of the image (any status), or undefined. */
  membership: ImageMember | undefined;
}

/** Whether the caller's membership matters for this image: only a shared image not the caller's own. */
export function needsMembership(caller: Caller, image: Image): boolean {
  return caller.projectId !== null && image.owner !== caller.projectId && image.visibility === 'shared';
}

/**
 * Glance's database-layer visibility (glance/db/utils.py is_image_visible): admin; no owner;
 * public or community; own; shared with the caller's project (any member status). Deleted and
 * pending_delete images are gone for everyone.
 */
export function isVisible(policy: PolicyEngine, caller: Caller, { image, membership }: ImageForCaller): boolean {
  if (image.status === 'deleted' || image.status === 'pending_delete') return false;
  if (policy.isAdmin(caller)) return true;
  if (image.owner === null) return true;
  if (image.visibility === 'public' || image.visibility === 'community') return true;
  if (caller.projectId === null) return false;
  if (caller.projectId === image.owner) return true;
  return image.visibility === 'shared' && membership !== undefined && membership.member_id === caller.projectId;
}

/** Glance's ImageTarget: attributes and properties by name, project_id = owner, member_id = the caller's membership. */
export function imageTarget({ image, membership }: ImageForCaller): PolicyTarget {
  const { properties, ...attributes } = image;
  return {
    ...properties,
    ...(attributes as unknown as Record<string, string | number | boolean | null>),
    tags: undefined,
    project_id: image.owner,
    member_id: membership?.member_id ?? null,
  };
}

/**
 * Glance's ImageAPIPolicy._enforce on an existing image: an image the caller cannot see, or
 * may not even `get_image`, is 404 (ids never leak); one it sees but `rule` refuses is 403.
 */
export function enforceOnImage(
  policy: PolicyEngine,
  rule: string,
  caller: Caller,
  found: ImageForCaller | undefined,
  notFoundMessage: string,
): Image {
  if (!found || !isVisible(policy, caller, found)) throw notFound(notFoundMessage);
  const target = imageTarget(found);
  if (policy.allows(rule, caller, target)) return found.image;
  if (rule === 'get_image' || !policy.allows('get_image', caller, target)) throw notFound(notFoundMessage);
  throw forbidden(`You are not authorized to complete ${rule} action.`);
}
