import { badRequest, forbidden, GlanceError, notFound } from './errors.js';
import type { Image } from './image.js';
import { collectionSchema } from './image-schema.js';
import { MEMBER_STATUS_VALUES, type ImageMember, type MemberStatus } from './member.js';

/**
 * Glance's rules for image members (glance/api/v2/image_members.py, glance/domain, glance/quota):
 * request bodies, the "only shared images have members" rule, the member quota, and the view.
 */

/** Glance's default `image_member_quota`; a negative quota means no limit. */
export const DEFAULT_IMAGE_MEMBER_QUOTA = 128;

/** Longest member id: Glance stores it in a String(255) column. */
export const MAX_MEMBER_ID_LENGTH = 255;

/** `{"member": "<project>"}` as Glance's RequestDeserializer.create reads it. */
export function parseMemberToAdd(body: unknown): string {
  if (body === null || typeof body !== 'object' || Array.isArray(body)) {
    throw badRequest('Expected a member in the form: {"member": "image_id"}');
  }
  if (!Object.prototype.hasOwnProperty.call(body, 'member')) throw badRequest('Member to be added not specified');
  const member = (body as Record<string, unknown>).member;
  // Python's falsiness: "", null, 0, false, [] and {} are all "empty".
  if (!member || (Array.isArray(member) && member.length === 0) || (typeof member === 'object' && Object.keys(member).length === 0)) {
    throw badRequest("Member can't be empty");
  }
  // Deliberately stricter than Glance, which stores str() of any JSON value: a project id is a string.
  if (typeof member !== 'string' || member.length > MAX_MEMBER_ID_LENGTH) {
    throw badRequest('Expected a member in the form: {"member": "image_id"}');
  }
  return member;
}

/** `{"status": "..."}` as Glance's RequestDeserializer.update reads it (the value is checked later). */
export function parseStatusBody(body: unknown): unknown {
  if (body === null || typeof body !== 'object' || Array.isArray(body)) {
    throw badRequest('Expected a status in the form: {"status": "status"}');
  }
  if (!Object.prototype.hasOwnProperty.call(body, 'status')) throw badRequest('Status not specified');
  return (body as Record<string, unknown>).status;
}

/** ImageMembership.status's setter: a ValueError, which the controller answers 400 "Incorrect request: ...". */
export function memberStatus(value: unknown): MemberStatus {
  if (typeof value === 'string' && (MEMBER_STATUS_VALUES as readonly string[]).includes(value)) return value as MemberStatus;
  throw badRequest('Incorrect request: Status must be "pending", "accepted" or "rejected".');
}

/** The operations of the members API, with the 403 message each answers when refused. */
export const MEMBER_ACTIONS = {
  create: (id: string) => `Not allowed to create members for image ${id}.`,
  update: (id: string) => `Not allowed to update members for image ${id}.`,
  delete: (id: string) => `Not allowed to delete members for image ${id}.`,
  list: (id: string) => `Not allowed to list members for image ${id}: Only shared images have members.`,
} as const;
export type MemberAction = keyof typeof MEMBER_ACTIONS;

/** The 404 of an image the caller cannot see, as the members controller words it. */
export const imageNotFoundForMembers = (id: string) => `Image ${id} not found.`;

/** The 404 of a member the caller cannot see (or that does not exist). */
export function memberNotFound(imageId: string, memberId: string): GlanceError {
  return notFound(`${memberId} not found in the member list of the image ${imageId}.`);
}

/**
 * Only shared images have members. Show answers 404 (Glance hides the reason as a 404), the
 * others 403 with their own message.
 */
export function requireShared(image: Image, action: MemberAction | 'show'): void {
  if (image.visibility === 'shared') return;
  if (action === 'show') throw notFound('Only shared images have members.');
  throw forbidden(MEMBER_ACTIONS[action](image.id));
}

/** Glance's ImageMemberLimitExceeded, as the create controller words its 413. */
export function memberQuotaExceeded(imageId: string, attempted: number, maximum: number): GlanceError {
  return new GlanceError(
    413,
    `Image member limit exceeded for image ${imageId}: The limit has been exceeded on the number of allowed image members for this image. Attempted: ${attempted}, Maximum: ${maximum}:`,
  );
}

/** Whether one more member fits under the quota (negative: unlimited). */
export function memberFits(currentCount: number, quota: number): boolean {
  return quota < 0 || currentCount + 1 <= quota;
}

/** Which members of an image a caller may list: all for the owner and admins, else only its own. */
export function membersVisibleTo<M extends ImageMember>(callerProject: string | null, isOwnerOrAdmin: boolean, members: readonly M[]): M[] {
  if (isOwnerOrAdmin) return [...members];
  return members.filter((m) => callerProject !== null && m.member_id === callerProject);
}

export interface MemberView {
  member_id: string;
  image_id: string;
  status: MemberStatus;
  created_at: string;
  updated_at: string;
  schema: '/v2/schemas/member';
}

export function toMemberView(member: ImageMember): MemberView {
  return {
    member_id: member.member_id,
    image_id: member.image_id,
    status: member.status,
    created_at: member.created_at,
    updated_at: member.updated_at,
    schema: '/v2/schemas/member',
  };
}

function memberSchemaProperties(): Record<string, unknown> {
  return {
    member_id: { type: 'string', description: 'An identifier for the image member (tenantId)' },
    image_id: {
      type: 'string',
      description: 'An identifier for the image',
      pattern: '^([0-9a-fA-F]){8}-([0-9a-fA-F]){4}-([0-9a-fA-F]){4}-([0-9a-fA-F]){4}-([0-9a-fA-F]){12}$',
    },
    created_at: { type: 'string', description: 'Date and time of image member creation' },
    updated_at: { type: 'string', description: 'Date and time of last modification of image member' },
    status: { type: 'string', description: 'The status of this image member', enum: ['pending', 'accepted', 'rejected'] },
    schema: { readOnly: true, type: 'string' },
  };
}

/** GET /v2/schemas/member (glance.schema.Schema('member', ...).raw()). */
export function memberSchema(): Record<string, unknown> {
  return { name: 'member', properties: memberSchemaProperties(), additionalProperties: false };
}

/** GET /v2/schemas/members (glance.schema.CollectionSchema('members', member).raw()). */
export function membersSchema(): Record<string, unknown> {
  return collectionSchema('members', memberSchema());
}
