import type { Caller } from '../domain/caller.js';
import { enforceOnImage, isVisible, needsMembership, type ImageForCaller } from '../domain/image-access.js';
import type { Image } from '../domain/image.js';
import type { PolicyEngine } from '../domain/policy.js';
import type { ImageRepository } from '../ports/image-repository.js';
import type { MemberRepository } from '../ports/member-repository.js';

/**
 * One image as one caller may use it: the image, the caller's membership where it matters, and
 * the policy's answer for a rule. At most two reads: the image, then the membership only for
 * another project's shared image, and never for an admin (the only case where membership changes the answer).
 */
export class AuthorizedImages {
  constructor(
    private readonly images: ImageRepository,
    private readonly members: MemberRepository,
    readonly policy: PolicyEngine,
  ) {}

  /** The image (tombstones included) with the caller's membership of it where that matters. */
  async find(caller: Caller, id: string): Promise<ImageForCaller | undefined> {
    const image = await this.images.get(id);
    return image ? this.withMembership(caller, image) : undefined;
  }

  /** An image read some other way (with its tasks, say), with the caller's membership of it where that matters. */
  async withMembership(caller: Caller, image: Image): Promise<ImageForCaller> {
    // An admin sees and may do everything whatever its membership (context_is_admin): the
    // membership read would be a third DynamoDB call on an admin's write, for nothing.
    const membership = needsMembership(caller, image) && !this.policy.isAdmin(caller) ? await this.members.get(image.id, caller.projectId as string) : undefined;
    return { image, membership };
  }

  /** Whether the caller sees the image at all (Glance's database-layer visibility). */
  sees(caller: Caller, found: ImageForCaller | undefined): found is ImageForCaller {
    return found !== undefined && isVisible(this.policy, caller, found);
  }

  /** The image if `rule` allows the caller on it; else Glance's 404 (unseen) or 403 (seen, refused). */
  async authorize(rule: string, caller: Caller, id: string, notFoundMessage = `No image found with ID ${id}`): Promise<Image> {
    return enforceOnImage(this.policy, rule, caller, await this.find(caller, id), notFoundMessage);
  }
}
