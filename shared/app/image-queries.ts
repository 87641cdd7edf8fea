import type { Caller } from '../domain/caller.js';
import { badRequest, forbidden } from '../domain/errors.js';
import { toView, type Image, type ImageView } from '../domain/image.js';
import { listLinks, parseListQuery, type QueryParams } from '../domain/list-query.js';
import type { Lister } from '../domain/list-visibility.js';
import type { PropertyProtections } from '../domain/property-protections.js';
import type { ImageLists } from '../ports/image-lists.js';
import type { AuthorizedImages } from './authorized-images.js';

/** Glance's protected properties: those the caller may not read are not shown. */
function viewFor(protections: PropertyProtections, caller: Caller, image: Image): ImageView {
  return toView(protections.enabled ? { ...image, properties: protections.readable(caller, image.properties) } : image);
}

/**
 * Reading images: show (ImageShow) and list (ImageQueries). Kept apart from the writes so read
 * functions bundle no event or workflow client, and from each other so show bundles no list
 * query parsing or list adapter.
 */
export class ImageShow {
  constructor(
    private readonly access: AuthorizedImages,
    private readonly protections: PropertyProtections,
  ) {}

  /** One image, as get_image allows: a member of a shared image (any member status) sees it. */
  async show(caller: Caller, id: string): Promise<ImageView> {
    return viewFor(this.protections, caller, await this.access.authorize('get_image', caller, id));
  }
}

export class ImageQueries {
  constructor(
    private readonly lists: ImageLists,
    private readonly access: AuthorizedImages,
    private readonly protections: PropertyProtections,
  ) {}

  async list(caller: Caller, params: QueryParams, rawQuery: string | null) {
    // Glance: "do you have permission to list images" against the caller's own project.
    if (!this.access.policy.allows('get_images', caller, { project_id: caller.projectId })) {
      throw forbidden('You are not authorized to complete get_images action.');
    }
    const query = parseListQuery(params);
    let marker: Image | undefined;
    if (query.marker !== null) {
      const found = await this.access.find(caller, query.marker);
      // Glance answers an unknown or invisible marker with 400, not 404.
      if (!this.access.sees(caller, found)) throw badRequest(`No image found with ID ${query.marker}`);
      marker = found.image;
    }
    // The repository lists by Glance's database rules, where "admin" is the policy's context_is_admin.
    const lister: Lister = { projectId: caller.projectId, isAdmin: this.access.policy.isAdmin(caller) };
    const { images } = await this.lists.list(lister, query, marker);
    return { images: images.map((image) => viewFor(this.protections, caller, image)), ...listLinks(rawQuery, images, query.limit) };
  }
}
