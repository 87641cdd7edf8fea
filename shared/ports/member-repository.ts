import type { Image } from '../domain/image.js';
import type { ImageMember } from '../domain/member.js';

/**
 * A membership as stored: with the optimistic version every write of it is conditional on, and
 * the store's record of the image tags it keeps list entries for (so that a write can retire
 * those the image no longer has; none or absent: no such entries).
 */
export type StoredMember = ImageMember & { version: number; shareTags?: readonly string[] };

/** What one read of an image's partition found: the image item, members, and the member count. */
export interface ImagePartitionRead {
  /** The image (tombstones included), or undefined. */
  image: Image | undefined;
  /** Live members found (deleted memberships are not members). */
  members: StoredMember[];
  /** How many live members the image has (the quota's counter). */
  memberCount: number;
}

/** Why a member write was refused; the use case turns each into Glance's answer. */
export type MemberWriteRefusal =
  /** The image is no longer the version that was read (changed, deleted, or no longer shared). */
  | 'image-changed'
  /** A live membership of that project exists already. */
  | 'duplicate'
  /** The member count moved since it was read (another add or remove), or another transaction was in flight. */
  | 'count-moved'
  /** The membership changed or went since it was read. */
  | 'member-changed';

export class MemberWriteRefused extends Error {
  constructor(readonly reason: MemberWriteRefusal) {
    super(`member write refused: ${reason}`);
    this.name = 'MemberWriteRefused';
  }
}

/**
 * Image members, stored beside their image (`IMAGE#<id>` / `MEMBER#<project>`, docs/table-design.md),
 * so an image and its members share a partition and change in one transaction. Every write is
 * one transaction that also checks the image is still the version read (live, shared, same
 * owner), so a member never lands on an image that changed; it records its event (outbox).
 */
export interface MemberRepository {
  /** The membership of one project in one image (any status), or undefined; one strongly consistent read. */
  get(imageId: string, memberId: string): Promise<StoredMember | undefined>;
  /** The image, the named projects' memberships, and the member count: one strongly consistent read. */
  read(imageId: string, memberIds: readonly string[]): Promise<ImagePartitionRead>;
  /** The image and all its members: one strongly consistent read of the partition. */
  readAll(imageId: string): Promise<ImagePartitionRead>;
  /** Adds `member` to `image`, which holds `memberCount` members (the count read: the write fails if it moved). */
  add(image: Image, member: StoredMember, memberCount: number): Promise<void>;
  /** Replaces `previous` with `next` (a status change). */
  update(image: Image, next: StoredMember, previous: StoredMember): Promise<void>;
  /** Removes `member` from `image`, which holds `memberCount` members; `at` is when (the event's time). */
  remove(image: Image, member: StoredMember, memberCount: number, at: string): Promise<void>;
}
