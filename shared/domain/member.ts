/** An image member (Glance's image_members row): one project an image is shared with. */
export const MEMBER_STATUS_VALUES = ['pending', 'accepted', 'rejected'] as const;
export type MemberStatus = (typeof MEMBER_STATUS_VALUES)[number];

export interface ImageMember {
  image_id: string;
  /** The project the image is shared with. */
  member_id: string;
  status: MemberStatus;
  created_at: string;
  updated_at: string;
}
