import { DEFAULT_IMAGE_MEMBER_QUOTA } from '../domain/image-members.js';
import { ImageMembers } from './image-members.js';
import { policy } from './policy-config.js';
import { memberRepository } from './read-services.js';

// Built on first use and kept for the life of the (Lambda) process. The members functions
// import this module alone: their bundles carry the DynamoDB client and nothing else.
let members: ImageMembers | undefined;

/** Glance's image_member_quota from IMAGE_MEMBER_QUOTA (default 128; negative: no limit). */
export function imageMemberQuota(raw = process.env.IMAGE_MEMBER_QUOTA): number {
  if (raw === undefined || raw === '') return DEFAULT_IMAGE_MEMBER_QUOTA;
  const value = Number(raw);
  if (!Number.isSafeInteger(value)) throw new Error('IMAGE_MEMBER_QUOTA must be a whole number (negative: no limit)');
  return value;
}

/** Add, list, show, update and remove image members. */
export function imageMembers(): ImageMembers {
  return (members ??= new ImageMembers(memberRepository(), policy(), { quota: imageMemberQuota() }));
}
