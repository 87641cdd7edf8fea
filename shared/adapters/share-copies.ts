import type { Image } from '../domain/image.js';
import type { MemberStatus } from '../domain/member.js';
import {
  INDEXES, LIST_SORT_KEY, listPartitionOf, NAME_SORT_KEY, nameSortKey, sharedPartition, SIZE_SORT_KEY, sizeSortKey, STATUS_LIST_SORT_KEY, statusListSortKey, UPDATED_SORT_KEY,
  updatedSortKey,
} from './table-design.js';

type Item = Record<string, unknown>;

/** The attribute a membership records its image's version in: the version its copies were taken from. */
export const IMAGE_VERSION_ATTRIBUTE = 'imageVersion';

/**
 * The index attributes a membership copies from its image (docs/table-design.md, "Shared-with-me
 * images"): byOwner's partition `<member>#shared#<status>` (hidden: its hidden partition), the
 * image's `listSk`, `nameSk`, `updatedSk`, `sizeSk`, `statusListSk`, and `id` = the image id (the
 * sort twins project `id` and `listSk`, so a shares stream names its images the way an own one
 * does). Present while the image is live, whatever its visibility: Glance keeps memberships when
 * an image stops being shared and they count again when it is shared again, so the copies stay
 * (lists re-check `visibility` on each image they fetch; an unshared image's memberships cost
 * their members' lists a read each), and sharing again needs no copy to follow first.
 */
export const SHARE_COPY_ATTRIBUTES = [INDEXES.byOwner.partitionKey, NAME_SORT_KEY, UPDATED_SORT_KEY, SIZE_SORT_KEY, STATUS_LIST_SORT_KEY] as const;

type CopiedImage = Pick<Image, 'id' | 'name' | 'status' | 'created_at' | 'updated_at' | 'size' | 'os_hidden'>;

/** Whether a membership of this image is on its shares partition: while the image is live (lists re-check the rest on the image itself). */
export function sharesListed(image: Pick<Image, 'status'>): boolean {
  return image.status !== 'deleted' && image.status !== 'pending_delete';
}

/**
 * What a membership of `member` in `status` carries of `image`: the copies (SHARE_COPY_ATTRIBUTES)
 * while the image is listed, none otherwise; always `id`, `listSk` (byMember's sort key, which
 * never changes) and `imageVersion`, so a late or replayed copy of an older version is refused.
 */
export function shareCopyAttributes(image: CopiedImage & Pick<Image, 'version'>, member: string, status: MemberStatus): Item {
  const listKey = `${image.created_at}#${image.id}`;
  const item: Item = { id: image.id, [LIST_SORT_KEY]: listKey, [IMAGE_VERSION_ATTRIBUTE]: image.version };
  if (!sharesListed(image)) return item;
  item[INDEXES.byOwner.partitionKey] = listPartitionOf(sharedPartition(member, status), image.os_hidden);
  item[NAME_SORT_KEY] = nameSortKey(image.name, listKey);
  item[UPDATED_SORT_KEY] = updatedSortKey(image.updated_at, listKey);
  item[SIZE_SORT_KEY] = sizeSortKey(image.size, listKey);
  item[STATUS_LIST_SORT_KEY] = statusListSortKey(image.status, listKey);
  return item;
}
