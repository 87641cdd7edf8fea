import type { Caller } from '../domain/caller.js';
import { badRequest, forbidden } from '../domain/errors.js';
import { toView, type Image, type ImageView } from '../domain/image.js';
import { listLinks, parseListQuery, type QueryParams } from '../domain/list-query.js';
import type { ImageRepository } from '../ports/image-repository.js';
import type { PropertyProtections } from '../domain/property-protections.js';
import type { AuthorizedImages } from './authorized-images.js';

/** Reading images: show and list. Kept apart so read functions bundle no event or workflow client. */
export class ImageQueries {
  constructor(
    private readonly repo: ImageRepository,
    private readonly access: AuthorizedImages,
    private readonly protections: PropertyProtections,
  ) {}

  async show(caller: Caller, id: string): Promise<ImageView> {
    return this.view(caller, await this.access.authorize('get_image', caller, id));
  }

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
    const { images } = await this.repo.list(caller, query, marker, this.access.policy);
    return { images: images.map((image) => this.view(caller, image)), ...listLinks(rawQuery, images, query.limit) };
  }

  /** Glance's protected properties: those the caller may not read are not shown. */
  private view(caller: Caller, image: Image): ImageView {
    return toView(this.protections.enabled ? { ...image, properties: this.protections.readable(caller, image.properties) } : image);
  }
}
