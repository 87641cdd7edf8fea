import type { Image } from '../domain/image.js';
import type { MemberStatus } from '../domain/member.js';
import { itemWrites, type PutAction } from './item-writes.js';
import {
  imagePartition, INDEXES, LIST_SORT_KEY, listPartitionOf, NAME_SORT_KEY, nameSortKey, shareTagOverflowSortKey, shareTagSortKey, sharedPartition, SIZE_SORT_KEY, sizeSortKey,
  STATUS_LIST_SORT_KEY, statusListSortKey, TABLE_KEYS, TAG_ITEMS_MAX, tagOverflowPartition, tagPartition, UPDATED_SORT_KEY, updatedSortKey,
} from './table-design.js';

type Item = Record<string, unknown>;

/** The attribute a membership records its image's version in: the version its copies were taken from. */
export const IMAGE_VERSION_ATTRIBUTE = 'imageVersion';

/**
 * The attribute a live membership records the tags of its share-tag items in (shareTagItems):
 * `[]` when it has none (its image not live, or untagged). A membership without it was written
 * before share-tag items (list keys version 4): its copies are stale whatever their version.
 */
export const SHARE_TAGS_ATTRIBUTE = 'shareTags';

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

type CopiedImage = Pick<Image, 'id' | 'name' | 'status' | 'created_at' | 'updated_at' | 'size' | 'os_hidden' | 'tags'>;

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
  const item: Item = { id: image.id, [LIST_SORT_KEY]: listKey, [IMAGE_VERSION_ATTRIBUTE]: image.version, [SHARE_TAGS_ATTRIBUTE]: sharesListed(image) ? [...new Set(image.tags)] : [] };
  if (!sharesListed(image)) return item;
  item[INDEXES.byOwner.partitionKey] = listPartitionOf(sharedPartition(member, status), image.os_hidden);
  item[NAME_SORT_KEY] = nameSortKey(image.name, listKey);
  item[UPDATED_SORT_KEY] = updatedSortKey(image.updated_at, listKey);
  item[SIZE_SORT_KEY] = sizeSortKey(image.size, listKey);
  item[STATUS_LIST_SORT_KEY] = statusListSortKey(image.status, listKey);
  return item;
}

/**
 * A membership's share-tag items (docs/table-design.md, "Shared-with-me images"): with its copies
 * on `partition` (the shares partition, hidden or not; undefined: none) of an image with `tags`,
 * one item per tag in the image's partition (`SHARETAG#<h(member, tag)>`) on byOwnerTag under
 * tagPartition(partition, tag), sorted by the image's `listSk`; past TAG_ITEMS_MAX tags one
 * overflow item on the partition's overflow key instead, as the image's own tag items are.
 */
export function shareTagItems(imageId: string, listKey: string, member: string, partition: string | undefined, tags: readonly string[]): Item[] {
  if (partition === undefined || tags.length === 0) return [];
  const item = (sk: string, tagOwnerPk: string): Item => ({
    [TABLE_KEYS.partitionKey]: imagePartition(imageId), [TABLE_KEYS.sortKey]: sk, id: imageId, [LIST_SORT_KEY]: listKey, member_id: member, [INDEXES.byOwnerTag.partitionKey]: tagOwnerPk,
  });
  const unique = [...new Set(tags)];
  if (unique.length > TAG_ITEMS_MAX) return [item(shareTagOverflowSortKey(member), tagOverflowPartition(partition))];
  return unique.map((tag) => ({ ...item(shareTagSortKey(member, tag), tagPartition(partition, tag)), tag }));
}

/** The share-tag items a stored membership item has: those of the tags it records, on the shares partition its copies are on. */
export function shareTagItemsOfMember(member: Item): Item[] {
  const tags = member[SHARE_TAGS_ATTRIBUTE];
  const partition = member[INDEXES.byOwner.partitionKey];
  return shareTagItems(String(member.id), String(member[LIST_SORT_KEY]), String(member.member_id), typeof partition === 'string' ? partition : undefined, Array.isArray(tags) ? tags.map(String) : []);
}

/**
 * The share-tag writes of a member write (add, status change, removal: `status` undefined), for
 * its transaction: a Put of each share-tag item of `image` on the membership's shares partition
 * in `status` (every one, as a status change moves them all and the items' partition before is
 * not read), and a bare key with a TTL of each tag the membership `recorded` that it no longer has.
 */
export function memberShareTagWrites(table: string, image: CopiedImage & Pick<Image, 'version'>, member: string, status: MemberStatus | undefined, recorded: readonly string[], now: Date): PutAction[] {
  const listKey = `${image.created_at}#${image.id}`;
  const before = shareTagItems(image.id, listKey, member, '', recorded);
  const after = status === undefined ? [] : shareTagItemsOfMember({ ...shareCopyAttributes(image, member, status), member_id: member });
  return itemWrites(table, { [TABLE_KEYS.partitionKey]: imagePartition(image.id) }, before, after, now, false);
}
