import { randomUUID } from 'node:crypto';
import { canSee, requireModifiable, requireVisible, type Caller } from '../domain/caller.js';
import { buildNewImage, normalizeTags } from '../domain/create-image.js';
import { badRequest, conflict, forbidden, imageNotFound, notFound } from '../domain/errors.js';
import { glanceTimestamp, toView, type Image, type ImageView } from '../domain/image.js';
import { listLinks, parseListQuery, type QueryParams } from '../domain/list-query.js';
import { applyPatch, parsePatch } from '../domain/patch.js';
import type { ImageStatus } from '../domain/status.js';
import { ConcurrentUpdateError, DuplicateImageError, type ImageRepository } from '../ports/image-repository.js';

/** Image use cases: each reads, decides in the domain, and writes once, conditionally. */
export class ImageService {
  constructor(
    private readonly repo: ImageRepository,
    private readonly clock: () => Date = () => new Date(),
    private readonly newId: () => string = randomUUID,
  ) {}

  async create(caller: Caller, body: unknown): Promise<ImageView> {
    const image = buildNewImage(body, caller, this.clock(), this.newId);
    try {
      await this.repo.create(image);
    } catch (error) {
      if (error instanceof DuplicateImageError) throw conflict(error.message);
      throw error;
    }
    return toView(image);
  }

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

  async update(caller: Caller, id: string, contentType: string | undefined, body: string | undefined): Promise<ImageView> {
    const ops = parsePatch(contentType, body);
    const current = requireModifiable(caller, await this.repo.get(id), id);
    const next = this.bump(applyPatch(current, ops, caller));
    await this.save(next, current);
    return toView(next);
  }

  async delete(caller: Caller, id: string): Promise<void> {
    const current = requireModifiable(caller, await this.repo.get(id), id, `Failed to find image ${id} to delete`);
    if (current.protected) throw forbidden(`Image ${id} is protected and cannot be deleted.`);
    // Delayed delete (pending_delete + scrubber) arrives with the scrubber; until then, straight to deleted.
    await this.save(this.bump({ ...current, status: 'deleted' }), current);
  }

  async addTag(caller: Caller, id: string, tag: string): Promise<void> {
    normalizeTags([tag]);
    const current = requireModifiable(caller, await this.repo.get(id), id, `Image ${id} not found.`);
    if (current.tags.includes(tag)) return;
    await this.save(this.bump({ ...current, tags: normalizeTags([...current.tags, tag]) }), current);
  }

  async deleteTag(caller: Caller, id: string, tag: string): Promise<void> {
    const current = requireModifiable(caller, await this.repo.get(id), id, `Image ${id} not found.`);
    // Glance's words for a tag the image does not have.
    if (!current.tags.includes(tag)) throw notFound('The resource could not be found.');
    await this.save(this.bump({ ...current, tags: current.tags.filter((t) => t !== tag) }), current);
  }

  /** Glance: admin only; idempotent; only between active and deactivated. */
  async setActive(caller: Caller, id: string, active: boolean): Promise<void> {
    const action = active ? 'reactivate' : 'deactivate';
    const current = requireVisible(caller, await this.repo.get(id), id);
    if (!caller.isAdmin) throw forbidden(`You are not authorized to complete ${action} action.`);
    const target: ImageStatus = active ? 'active' : 'deactivated';
    if (current.status === target) return;
    if (current.status !== 'active' && current.status !== 'deactivated') {
      throw forbidden(`Not allowed to ${action} image in status '${current.status}'`);
    }
    await this.save(this.bump({ ...current, status: target }), current);
  }

  private bump(image: Image): Image {
    return { ...image, version: image.version + 1, updated_at: glanceTimestamp(this.clock()) };
  }

  /** One conditional write; a lost race is a 409 naming what the image is now. */
  private async save(next: Image, previous: Image): Promise<void> {
    try {
      await this.repo.save(next, previous);
    } catch (error) {
      if (!(error instanceof ConcurrentUpdateError)) throw error;
      if (!error.current || error.current.status === 'deleted') throw imageNotFound(next.id);
      throw conflict(
        `Image ${next.id} was changed by another request (it is now ${error.current.status}); fetch it and retry.`,
      );
    }
  }
}

