import type { Caller } from '../domain/caller.js';
import { conflict, GlanceError, notFound } from '../domain/errors.js';
import { enforceOnImage, needsMembership, type ImageForCaller } from '../domain/image-access.js';
import { glanceTimestamp, type Image } from '../domain/image.js';
import {
  imageNotFoundForMembers,
  memberFits,
  memberNotFound,
  memberQuotaExceeded,
  membersVisibleTo,
  memberStatus,
  parseMemberToAdd,
  parseStatusBody,
  requireShared,
  toMemberView,
  type MemberAction,
  type MemberView,
} from '../domain/image-members.js';
import type { PolicyEngine } from '../domain/policy.js';
import { MemberWriteRefused, type ImagePartitionRead, type MemberRepository, type StoredMember } from '../ports/member-repository.js';

export interface ImageMembersOptions {
  /** Glance's image_member_quota; negative: no limit. */
  quota: number;
  now?: () => Date;
}

/**
 * The members API (glance/api/v2/image_members.py under secure RBAC): each operation is one
 * read of the image's partition (the image, the memberships it needs, the member count) and
 * at most one transaction, so at most two DynamoDB calls. Every decision is the policy's.
 */
export class ImageMembers {
  private readonly now: () => Date;

  constructor(
    private readonly members: MemberRepository,
    private readonly policy: PolicyEngine,
    private readonly options: ImageMembersOptions,
  ) {
    this.now = options.now ?? (() => new Date());
  }

  async create(caller: Caller, imageId: string, body: unknown): Promise<MemberView> {
    const memberId = parseMemberToAdd(body);
    return this.retryingCountRaces(async () => {
      const read = await this.members.read(imageId, ownAnd(caller, memberId));
      const image = this.enforce('add_member', 'create', caller, imageId, read);
      // Glance checks the quota before the duplicate (ImageMemberFactoryProxy, then the repo's add).
      if (!memberFits(read.memberCount, this.options.quota)) throw memberQuotaExceeded(imageId, read.memberCount + 1, this.options.quota);
      if (read.members.some((m) => m.member_id === memberId)) throw duplicate(memberId, imageId);
      const at = glanceTimestamp(this.now());
      const member: StoredMember = { image_id: image.id, member_id: memberId, status: 'pending', created_at: at, updated_at: at, version: 0 };
      await this.write(imageId, () => this.members.add(image, member, read.memberCount), () => duplicate(memberId, imageId));
      return toMemberView(member);
    });
  }

  async list(caller: Caller, imageId: string): Promise<{ members: MemberView[]; schema: string }> {
    const read = await this.members.readAll(imageId);
    const found = forCaller(caller, read);
    const image = enforceOnImage(this.policy, 'get_image', caller, found, imageNotFoundForMembers(imageId));
    requireShared(image, 'list');
    this.allow('get_members', caller, found as ImageForCaller);
    const visible = membersVisibleTo(caller.projectId, this.ownerOrAdmin(caller, image), read.members);
    visible.sort((a, b) => (a.created_at === b.created_at ? (a.member_id < b.member_id ? -1 : 1) : a.created_at < b.created_at ? -1 : 1));
    return { members: visible.map(toMemberView), schema: '/v2/schemas/members' };
  }

  async show(caller: Caller, imageId: string, memberId: string): Promise<MemberView> {
    const read = await this.members.read(imageId, ownAnd(caller, memberId));
    const found = forCaller(caller, read);
    const image = enforceOnImage(this.policy, 'get_image', caller, found, imageNotFoundForMembers(imageId));
    requireShared(image, 'show');
    // Glance answers every refusal of show as a 404, so nothing about the membership leaks.
    try {
      return toMemberView(this.lookup(caller, found as ImageForCaller, read, memberId));
    } catch (error) {
      if (error instanceof GlanceError && error.status === 403) throw notFound(error.message);
      throw error;
    }
  }

  async update(caller: Caller, imageId: string, memberId: string, body: unknown): Promise<MemberView> {
    const requested = parseStatusBody(body);
    const read = await this.members.read(imageId, ownAnd(caller, memberId));
    const { image, member: previous } = this.memberToChange('modify_member', 'update', caller, imageId, memberId, read);
    const next: StoredMember = { ...previous, status: memberStatus(requested), updated_at: glanceTimestamp(this.now()) };
    await this.write(imageId, () => this.members.update(image, next, previous));
    return toMemberView(next);
  }

  async remove(caller: Caller, imageId: string, memberId: string): Promise<void> {
    await this.retryingCountRaces(async () => {
      const read = await this.members.read(imageId, ownAnd(caller, memberId));
      const { image, member } = this.memberToChange('delete_member', 'delete', caller, imageId, memberId, read);
      await this.write(imageId, () => this.members.remove(image, member, read.memberCount, glanceTimestamp(this.now())));
    });
  }

  /**
   * Runs an add or remove again (read and write, from the start) when it lost only the member
   * count to a concurrent add or remove of another member: Glance serialises those in SQL
   * without an error, so a client sharing an image with many projects at once never sees 409
   * for it. Uncontended, the operation is still one read and one write.
   */
  private async retryingCountRaces<T>(operation: () => Promise<T>): Promise<T> {
    for (let attempt = 1; ; attempt++) {
      try {
        return await operation();
      } catch (error) {
        if (!(error instanceof CountRaceLost) || attempt >= COUNT_RACE_ATTEMPTS) throw error instanceof CountRaceLost ? error.answer : error;
        // Jitter, so transactions that collided (DynamoDB may cancel both) do not collide again.
        await new Promise((resolve) => setTimeout(resolve, Math.random() * 10 * attempt));
      }
    }
  }

  /**
   * The image if it is visible, shared, and `rule` allows the caller; else Glance's 404, the
   * action's 403 for an image that is not shared, or the policy's 403.
   */
  private enforce(rule: string, action: MemberAction, caller: Caller, imageId: string, read: ImagePartitionRead): Image {
    const found = forCaller(caller, read);
    const image = enforceOnImage(this.policy, 'get_image', caller, found, imageNotFoundForMembers(imageId));
    requireShared(image, action);
    this.allow(rule, caller, found as ImageForCaller);
    return image;
  }

  /**
   * An existing membership to change or remove, checked in Glance's order: the image visible
   * and shared, the member one the caller may look up (get_member), then `rule`.
   */
  private memberToChange(rule: string, action: MemberAction, caller: Caller, imageId: string, memberId: string, read: ImagePartitionRead): { image: Image; member: StoredMember } {
    const found = forCaller(caller, read);
    const image = enforceOnImage(this.policy, 'get_image', caller, found, imageNotFoundForMembers(imageId));
    requireShared(image, action);
    const member = this.lookup(caller, found as ImageForCaller, read, memberId);
    this.allow(rule, caller, found as ImageForCaller);
    return { image, member };
  }

  /**
   * `rule` allows the caller on the image, else the policy's own 403 ("You are not authorized to
   * complete <rule> action."): Glance's MemberAPIPolicy raises webob's HTTPForbidden, which the
   * controllers' `except exception.Forbidden` (and its rewording) never catches.
   */
  private allow(rule: string, caller: Caller, found: ImageForCaller): void {
    enforceOnImage(this.policy, rule, caller, found, imageNotFoundForMembers(found.image.id));
  }

  /**
   * Glance's _lookup_member: get_member must allow the caller (else 403), and the membership
   * must be one the caller may see: every one for the owner and admins, else only its own (404).
   */
  private lookup(caller: Caller, found: ImageForCaller, read: ImagePartitionRead, memberId: string): StoredMember {
    this.allow('get_member', caller, found);
    const [member] = membersVisibleTo(caller.projectId, this.ownerOrAdmin(caller, found.image), read.members.filter((m) => m.member_id === memberId));
    if (!member) throw memberNotFound(found.image.id, memberId);
    return member;
  }

  private ownerOrAdmin(caller: Caller, image: Image): boolean {
    return this.policy.isAdmin(caller) || (caller.projectId !== null && caller.projectId === image.owner);
  }

  /** One member write; a refused one is Glance's 409 (a lost race), or what `onDuplicate` says. */
  private async write(imageId: string, run: () => Promise<void>, onDuplicate?: () => GlanceError): Promise<void> {
    try {
      await run();
    } catch (error) {
      if (!(error instanceof MemberWriteRefused)) throw error;
      if (error.reason === 'duplicate' && onDuplicate) throw onDuplicate();
      if (error.reason === 'image-changed') throw conflict(`Image ${imageId} was changed by another request; fetch it and retry.`);
      const answer = conflict(`The members of image ${imageId} were changed by another request; fetch them and retry.`);
      if (error.reason === 'count-moved') throw new CountRaceLost(answer);
      throw conflict(`The members of image ${imageId} were changed by another request; fetch them and retry.`);
    }
  }
}

/** The image with the caller's membership where it matters (AuthorizedImages' rule), from one partition read. */
function forCaller(caller: Caller, read: ImagePartitionRead): ImageForCaller | undefined {
  if (!read.image) return undefined;
  const own = read.members.find((m) => m.member_id === caller.projectId);
  return { image: read.image, membership: needsMembership(caller, read.image) ? own : undefined };
}

/** The memberships a read needs: the one named, and the caller's own (for the policy's member_id). */
function ownAnd(caller: Caller, memberId: string): string[] {
  return caller.projectId !== null && caller.projectId !== memberId ? [memberId, caller.projectId] : [memberId];
}

/** How often an add or remove runs when other adds and removes on the same image keep winning the count. */
const COUNT_RACE_ATTEMPTS = 8;

/** An add or remove lost the member count to another; `answer` is the 409 if it keeps losing. */
class CountRaceLost extends Error {
  constructor(readonly answer: GlanceError) {
    super(answer.message);
  }
}

const duplicate = (memberId: string, imageId: string) => conflict(`Member ${memberId} is duplicated for image ${imageId}`);
