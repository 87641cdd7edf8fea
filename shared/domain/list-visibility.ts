import type { Image } from './image.js';
import type { ListQuery } from './list-query.js';
import type { MemberStatus } from './member.js';

/** Who lists, as Glance's database layer sees it: the project and the context's is_admin (the policy's context_is_admin). */
export interface Lister {
  projectId: string | null;
  isAdmin: boolean;
}

/**
 * Whether Glance's image list (glance/db/sqlalchemy/api.py image_get_all, _select_images_query)
 * holds this live image for the caller, before the query's own filters. A regular caller's list
 * is the union of public and community images, its own, and the shared images it is a member of
 * in `member_status` (accepted by default, or all); an admin's is every image. Then a
 * `visibility` filter keeps only that visibility (`all`: everything in the union); without one,
 * a regular caller sees community images only when they are its own.
 *
 * @param sharedWithCaller the caller's membership status of the image, if it is a member.
 */
export function inGlanceList(caller: Lister, image: Image, sharedWithCaller: MemberStatus | undefined, query: Pick<ListQuery, 'visibility' | 'filters'>): boolean {
  const own = caller.projectId !== null && image.owner === caller.projectId;
  if (!caller.isAdmin) {
    const memberOf =
      image.visibility === 'shared' &&
      sharedWithCaller !== undefined &&
      (query.filters.member_status === 'all' || query.filters.member_status === sharedWithCaller);
    if (!(image.visibility === 'public' || image.visibility === 'community' || own || memberOf)) return false;
  }
  if (query.visibility !== null) return query.visibility === 'all' || image.visibility === query.visibility;
  // Admins too: with secure RBAC, Glance's admin default list leaves out other projects'
  // community images (docs/glance-tenancy-observed.md; GLANCE-BEHAVIOUR.md, observed with the
  // legacy defaults, saw them listed).
  return image.visibility !== 'community' || own;
}
