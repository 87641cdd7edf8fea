import { canSee, requireVisible, type Caller } from '../domain/caller.js';
import { badRequest } from '../domain/errors.js';
import { toView, type Image, type ImageView } from '../domain/image.js';
import { listLinks, parseListQuery, type QueryParams } from '../domain/list-query.js';
import type { ImageRepository } from '../ports/image-repository.js';

/** Reading images: show and list. Kept apart so read functions bundle no event or workflow client. */
export class ImageQueries {
  constructor(private readonly repo: ImageRepository) {}

  async show(caller: Caller, id: string): Promise<ImageView> {
    return toView(requireVisible(caller, await this.repo.get(id), id));
  }

  async list(caller: Caller, params: QueryParams, rawQuery: string | null) {
    const query = parseListQuery(params);
    let marker: Image | undefined;
    if (query.marker !== null) {
      const found = await this.repo.get(query.marker);
      // Glance answers an unknown or invisible marker with 400, not 404.
      if (!found || !canSee(caller, found)) throw badRequest(`No image found with ID ${query.marker}`);
      marker = found;
    }
    const { images } = await this.repo.list(caller, query, marker);
    return { images: images.map(toView), ...listLinks(rawQuery, images, query.limit) };
  }
}
