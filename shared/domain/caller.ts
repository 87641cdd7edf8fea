import { forbidden, notFound } from './errors.js';
import type { Image } from './image.js';

/** Who is calling, as the authorizer established it from a verified token. */
export interface Caller {
  projectId: string | null;
  userId: string | null;
  roles: string[];
  isAdmin: boolean;
}

export function makeCaller(projectId: string | null, userId: string | null, roles: string[]): Caller {
  const normalized = roles.map((r) => r.trim().toLowerCase()).filter(Boolean);
  return { projectId, userId, roles: normalized, isAdmin: normalized.includes('admin') };
}

export function isOwner(caller: Caller, image: Image): boolean {
  return caller.projectId !== null && image.owner === caller.projectId;
}

/**
 * Glance's visibility rule for reading one image. Deleted and pending_delete images are gone
 * for everyone (404), as in Glance. Membership of shared images arrives with the members issue.
 */
export function canSee(caller: Caller, image: Image): boolean {
  if (image.status === 'deleted' || image.status === 'pending_delete') return false;
  if (caller.isAdmin || isOwner(caller, image)) return true;
  return image.visibility === 'public' || image.visibility === 'community';
}

/**
 * The image if the caller may see it, else Glance's 404 (never 403, so ids do not leak).
 * Glance words that 404 per operation; show and update say "No image found with ID …".
 */
export function requireVisible(caller: Caller, image: Image | undefined, id: string, notFoundMessage = `No image found with ID ${id}`): Image {
  if (!image || !canSee(caller, image)) throw notFound(notFoundMessage);
  return image;
}

/** Visible but not owned: Glance answers 403 "You do not own this image". */
export function requireModifiable(caller: Caller, image: Image | undefined, id: string, notFoundMessage?: string): Image {
  const visible = requireVisible(caller, image, id, notFoundMessage);
  if (!caller.isAdmin && !isOwner(caller, visible)) throw forbidden('You do not own this image');
  return visible;
}
