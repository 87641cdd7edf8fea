import { randomUUID } from 'node:crypto';
import type { Caller } from '../domain/caller.js';
import { buildNewImage, normalizeTags } from '../domain/create-image.js';
import { conflict, forbidden, notFound } from '../domain/errors.js';
import { toView, type Image, type ImageView } from '../domain/image.js';
import { applyPatch, parsePatch, patchPolicyFor } from '../domain/patch.js';
import type { ImageStatus } from '../domain/status.js';
import type { ImageEventType } from '../ports/events.js';
import { DuplicateImageError, type ImageRepository } from '../ports/image-repository.js';
import type { AuthorizedImages } from './authorized-images.js';
import { nextVersion, saveOrConflict } from './writes.js';

/**
 * Image use cases: each reads, decides in the domain, and writes once, conditionally, with the
 * events the write means (published from the table's stream once it commits).
 */
export class ImageService {
  constructor(
    private readonly repo: ImageRepository,
    private readonly access: AuthorizedImages,
    private readonly clock: () => Date = () => new Date(),
    private readonly newId: () => string = randomUUID,
  ) {}

  async create(caller: Caller, body: unknown): Promise<ImageView> {
    const image = buildNewImage(body, caller, this.access.policy, this.clock(), this.newId);
    try {
      await this.repo.create(image, ['image.create']);
    } catch (error) {
      if (error instanceof DuplicateImageError) throw conflict(error.message);
      throw error;
    }
    return toView(image);
  }

  async update(caller: Caller, id: string, contentType: string | undefined, body: Uint8Array | string | undefined): Promise<ImageView> {
    const ops = parsePatch(contentType, body);
    const notFoundMessage = `No image found with ID ${id}`;
    // Each change asks its rules (Glance's update_property); the image must at least be visible.
    const found = await this.access.find(caller, id);
    if (!this.access.sees(caller, found)) throw notFound(notFoundMessage);
    const current = found.image;
    // Glance saves only when there are changes: an empty patch writes nothing and asks no rule.
    if (ops.length === 0) return toView(current);
    const next = this.bump(applyPatch(current, ops, patchPolicyFor(this.access.policy, caller, found, notFoundMessage)));
    await this.save(next, current, ['image.update']);
    return toView(next);
  }

  async addTag(caller: Caller, id: string, tag: string): Promise<void> {
    normalizeTags([tag]);
    const current = await this.access.authorize('modify_image', caller, id, `Image ${id} not found.`);
    if (current.tags.includes(tag)) return;
    const next = this.bump({ ...current, tags: normalizeTags([...current.tags, tag]) });
    await this.save(next, current, ['image.update']);
  }

  async deleteTag(caller: Caller, id: string, tag: string): Promise<void> {
    const current = await this.access.authorize('modify_image', caller, id, `Image ${id} not found.`);
    // Glance's words for a tag the image does not have.
    if (!current.tags.includes(tag)) throw notFound('The resource could not be found.');
    const next = this.bump({ ...current, tags: current.tags.filter((t) => t !== tag) });
    await this.save(next, current, ['image.update']);
  }

  /** Glance: the deactivate / reactivate rule (admin or a member of the owner); idempotent; only between active and deactivated. */
  async setActive(caller: Caller, id: string, active: boolean): Promise<void> {
    const action = active ? 'reactivate' : 'deactivate';
    const current = await this.access.authorize(action, caller, id);
    const target: ImageStatus = active ? 'active' : 'deactivated';
    if (current.status === target) return;
    if (current.status !== 'active' && current.status !== 'deactivated') {
      throw forbidden(`Not allowed to ${action} image in status '${current.status}'`);
    }
    const next = this.bump({ ...current, status: target });
    await this.save(next, current, [active ? 'image.reactivate' : 'image.deactivate']);
  }

  private bump(image: Image): Image {
    return nextVersion(image, this.clock());
  }

  private save(next: Image, previous: Image, events: readonly ImageEventType[] = []): Promise<void> {
    return saveOrConflict(this.repo, next, previous, events);
  }
}

