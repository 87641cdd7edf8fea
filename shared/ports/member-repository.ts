import type { ImageMember } from '../domain/member.js';

/**
 * Image members, stored beside their image (`IMAGE#<id>` / `MEMBER#<project>`, docs/table-design.md),
 * so an image and its members share a partition and can change in one transaction.
 */
export interface MemberRepository {
  /** The membership of one project in one image (any status), or undefined; one strongly consistent read. */
  get(imageId: string, memberId: string): Promise<ImageMember | undefined>;
}
