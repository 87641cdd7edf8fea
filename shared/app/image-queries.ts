import type { Caller } from '../domain/caller.js';
import { badRequest } from '../domain/errors.js';
import { toView, type Image, type ImageView } from '../domain/image.js';
import { listLinks, parseListQuery, type QueryParams } from '../domain/list-query.js';
import type { ImageRepository } from '../ports/image-repository.js';
import type { AuthorizedImages } from './authorized-images.js';

/** Reading images: show and list. Kept apart so read functions bundle no event or workflow client. */
export class ImageQueries {
  constructor(
    private readonly repo: ImageRepository,
    private readonly authorized: AuthorizedImages,
  ) {}

  /** One image, as get_image allows: a member of a shared image (any member status) sees it. */
  async show(caller: Caller, id: string): Promise<ImageView> {
    return toView(await this.authorized.authorize('get_image', caller, id));
  }

  async list(caller: Caller, params: QueryParams, rawQuery: string | null) {
    const query = parseListQuery(params);
    // The repository lists by Glance's database rules, where "admin" is the policy's context_is_admin.
    const lister: Caller = { ...caller, isAdmin: this.authorized.policy.isAdmin(caller) };
    let marker: Image | undefined;
    if (query.marker !== null) {
      const found = await this.authorized.find(lister, query.marker);
      // Glance answers an unknown or invisible marker with 400, not 404.
      if (!this.authorized.sees(lister, found)) throw badRequest(`No image found with ID ${query.marker}`);
      marker = found.image;
    }
    const { images } = await this.repo.list(lister, query, marker);
    return { images: images.map(toView), ...listLinks(rawQuery, images, query.limit) };
  }
}
