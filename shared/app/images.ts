import { randomUUID } from 'node:crypto';
import type { Caller } from '../domain/caller.js';
import { buildNewImage, normalizeTags, propertiesRecord } from '../domain/create-image.js';
import { conflict, forbidden, notFound } from '../domain/errors.js';
import { toView, type Image, type ImageView } from '../domain/image.js';
import { applyPatch, parsePatch, patchPolicyFor } from '../domain/patch.js';
import type { ImageStatus } from '../domain/status.js';
import type { ImageEventType } from '../ports/events.js';
import { DuplicateImageError, type ImageRepository } from '../ports/image-repository.js';
import type { PropertyProtections } from '../domain/property-protections.js';
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
    private readonly protections: PropertyProtections,
    private readonly clock: () => Date = () => new Date(),
    private readonly newId: () => string = randomUUID,
  ) {}

  async create(caller: Caller, body: unknown): Promise<ImageView> {
    const image = buildNewImage(body, caller, this.access.policy, this.clock(), this.newId);
    const refused = this.protections.refusedChange(caller, {}, image.properties);
    if (refused !== undefined) throw forbidden(`Attribute '${refused}' is reserved.`);
    try {
      await this.repo.create(image, ['image.create']);
    } catch (error) {
      if (error instanceof DuplicateImageError) throw conflict(error.message);
      throw error;
    }
    return this.view(caller, image);
  }

  async update(caller: Caller, id: string, contentType: string | undefined, body: Uint8Array | string | undefined): Promise<ImageView> {
    const ops = parsePatch(contentType, body);
    const notFoundMessage = `No image found with ID ${id}`;
    // Each change asks its rules (Glance's update_property); the image must at least be visible.
    const found = await this.access.find(caller, id);
    if (!this.access.sees(caller, found)) throw notFound(notFoundMessage);
    const current = found.image;
    // Glance's protected properties: those the caller may not read are absent to its patch, and kept.
    const readable = this.protections.readable(caller, current.properties);
    // Glance saves only when there are changes: an empty patch writes nothing and asks no rule.
    if (ops.length === 0) return this.view(caller, current);
    const patched = applyPatch({ ...current, properties: readable }, ops, patchPolicyFor(this.access.policy, caller, found, notFoundMessage));
    const refused = this.protections.refusedChange(caller, readable, patched.properties);
    if (refused !== undefined) throw forbidden(`Attribute '${refused}' is reserved.`);
    const next = this.bump({ ...patched, properties: withHidden(current.properties, readable, patched.properties) });
    await this.save(next, current, ['image.update']);
    return this.view(caller, next);
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

  /** The image as the caller sees it: without the properties it may not read. */
  private view(caller: Caller, image: Image): ImageView {
    return toView(this.protections.enabled ? { ...image, properties: this.protections.readable(caller, image.properties) } : image);
  }

  private bump(image: Image): Image {
    return nextVersion(image, this.clock());
  }

  private save(next: Image, previous: Image, events: readonly ImageEventType[] = []): Promise<void> {
    return saveOrConflict(this.repo, next, previous, events);
  }
}


/** The patched readable properties with the unreadable ones of `all` put back (a patch cannot see them). */
function withHidden(all: Readonly<Record<string, string>>, readable: Readonly<Record<string, string>>, patched: Readonly<Record<string, string>>): Record<string, string> {
  const hidden = Object.entries(all).filter(([key]) => !Object.hasOwn(readable, key) && !Object.hasOwn(patched, key));
  return propertiesRecord([...hidden, ...Object.entries(patched)]);
}
