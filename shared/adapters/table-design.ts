import { createHash } from 'node:crypto';

/**
 * The DynamoDB table's key design, shared by the CDK stack and the local runtime so both
 * create the same table. See docs/table-design.md for the access patterns it serves.
 */
export const TABLE_KEYS = { partitionKey: 'pk', sortKey: 'sk' } as const;

/** The partition of one image: its item (`sk = IMAGE`) and everything kept beside it (members). */
export function imagePartition(imageId: string): string {
  return `IMAGE#${imageId}`;
}

/** The sort key of the image item itself within its partition. */
export const IMAGE_SORT_KEY = 'IMAGE';

/** Sort keys of a membership (`MEMBER#<project>`) in its image's partition. */
export const MEMBER_SORT_PREFIX = 'MEMBER#';

/** The sort key of an image's member counter (its `count` is what image_member_quota limits). */
export const MEMBER_COUNT_SORT_KEY = 'MEMBERS';

/** byMember's partition of one project's memberships in one status. */
export function memberIndexPartition(project: string, status: string): string {
  return `${project}#${status}`;
}

/**
 * The byOwner partition (and its name and sort twins', which share `ownerPk`) of one project's
 * memberships in one status: `<project>#shared#<status>`. A live membership carries copies of its
 * image's list sort keys there (shareCopyAttributes), so the images shared with a project are
 * read in every indexed order, with markers, exactly as its own partition is, and merged with it
 * (docs/table-design.md, "Shared-with-me images"). A hidden image's memberships take
 * hiddenPartition of it, as the image's own entries do. A project id that itself ends in
 * `#shared#<status>` shares that partition: lists take only member items of the caller from a
 * shares stream and only image items from every other, so that costs reads, never a wrong answer.
 */
export function sharedPartition(project: string, status: string): string {
  return `${project}#shared#${status}`;
}

/**
 * One project's quota usage (shared/domain/quota.ts): the item `PROJECT#<project>` / `USAGE`,
 * updated in the same transaction as every image write that changes it. Usage items also sit
 * on the `all` index, in a partition of their own (USAGE_LIST_PARTITION, sorted by project),
 * so the daily auditor finds every counter with a Query, never a Scan.
 */
export function projectPartition(projectId: string): string {
  return `PROJECT#${projectId}`;
}

export const USAGE_SORT_KEY = 'USAGE';

/**
 * The metadefs catalogue partition: every namespace (`NAMESPACE#<name>`), resource type
 * (`RESOURCE_TYPE#<name>`), seed marker and purge marker (docs/table-design.md, "Metadata definitions").
 */
export const METADEF_CATALOGUE_PARTITION = 'METADEFS';

/**
 * What every metadefs partition key begins with (the catalogue's METADEFS and each namespace's
 * METADEF#<uuid>), and no other item's: the metadefs functions' IAM grants are conditioned on it
 * (`dynamodb:LeadingKeys`), so they can neither read nor write an image.
 */
export const METADEF_KEY_PREFIX = 'METADEF';

/** One namespace's partition: its objects, properties and tags, keyed by the namespace's uuid (so a rename moves none of them). */
export function metadefChildPartition(namespaceUuid: string): string {
  return `METADEF#${namespaceUuid}`;
}

/** The `all` index partitions of the usage items, `usage#<shard>` (images are in `image#<shard>`). */
export const USAGE_LIST_PARTITION = 'usage';

/**
 * A task (shared/domain/task.ts): the item `TASK#<task id>` / `TASK` (GET /v2/tasks/{id}, one
 * GetItem), on the `all` index as `task#<shard of the id>` sorted by `<created_at>#<id>` (the
 * admin's GET /v2/tasks). A task of an image is also kept, attribute for attribute, in the
 * image's partition as `IMAGE#<image id>` / `IMAGE#TASK#<task id>`, right after the image's own
 * item, so GET /v2/images/{id}/tasks is one Query (`begins_with(sk, 'IMAGE')`) that returns the
 * image and its tasks and nothing else. Both copies change in the same transaction.
 */
export function taskPartition(taskId: string): string {
  return `TASK#${taskId}`;
}

export const TASK_SORT_KEY = 'TASK';

/** Sort keys of an image's tasks in its partition; they start with IMAGE_SORT_KEY on purpose (see taskPartition). */
export const IMAGE_TASK_SORT_PREFIX = 'IMAGE#TASK#';

/** The `all` index partitions of the tasks, `task#<shard>`. */
export const TASK_LIST_PARTITION = 'task';

/** The `all` index partitions of the images, `image#<shard>`. */
export const IMAGE_LIST_PARTITION = 'image';

/**
 * How many partitions `all` (images, usage counters) and byVisibility (public, community) are
 * spread over, so that no index key is shared by every image (docs/table-design.md, "Sharding"):
 * each shard is a partition of its own, capped by DynamoDB near 1,000 WCU/s and 3,000 RCU/s,
 * and a list reads every shard of what it lists and merges them. 16 holds ~16,000 image
 * writes/s on `all` while a page of 25 still reads at most 3 entries per shard. Fixed: changing
 * it rewrites every item's key (as the local backfill from unsharded keys does).
 */
export const LIST_SHARDS = 16;

/**
 * The shard of an image (by its id) or a usage counter (by its project): from a hash, so ids a
 * client chooses cannot crowd one shard, and fixed for the item's life, so no write moves it.
 */
export function listShardOf(key: string): number {
  return createHash('sha256').update(key).digest()[0]! % LIST_SHARDS;
}

/** One shard's partition key on a sharded index: `<base>#<shard in hex>` (`image#a`, `public#3`). */
export function shardPartition(base: string, shard: number): string {
  return `${base}#${shard.toString(16)}`;
}

/** Every shard's partition key of `base`, which a read of all of it queries and merges. */
export function shardPartitions(base: string): string[] {
  return Array.from({ length: LIST_SHARDS }, (_, shard) => shardPartition(base, shard));
}

/**
 * The partition a hidden image (`os_hidden: true`) takes instead of `base` on every list index
 * it is in: byOwner `<project>#hidden`, byVisibility `public#hidden#<s>`, `all`
 * `image#hidden#<s>`, and the same on their name and sort twins, which share those attributes.
 * Glance lists hidden images only when asked (`os_hidden=true`), and then only them: so a list
 * reads exactly the partitions of the hidden state it asks for, and hidden images cost a
 * default list nothing (docs/table-design.md, "os_hidden"). A PATCH of os_hidden moves the
 * entries (a key change in the same one item write). A project id ending `#hidden` would share
 * a partition with another's hidden images: every list re-checks owner and os_hidden on the
 * images it reads, so that costs reads, never a wrong answer.
 */
export function hiddenPartition(base: string): string {
  return `${base}#hidden`;
}

/** The partition `base` stands for in the lists of images whose os_hidden is `hidden`. */
export function listPartitionOf(base: string, hidden: boolean): string {
  return hidden ? hiddenPartition(base) : base;
}

/**
 * The table's record that every item carries the list index keys of LIST_KEYS_VERSION: the item
 * `TABLE` / `LIST_KEYS#<version>`, written once the items of an older table have been rewritten
 * (infra/local/dynamodb.ts backfillListKeys, `npm run rewrite-list-keys`), and at once on a new
 * table. It tells a start whether a rewrite is due when no index change shows it: moving hidden
 * images to their partitions (version 2) changed keys, not indexes (version 3: tag items; version 4: memberships' copies of their
 * image's list keys, sharedPartition; version 5: memberships' share-tag items; version 6: images'
 * visibility items). No function reads it.
 */
export const TABLE_RECORD_PARTITION = 'TABLE';
export const LIST_KEYS_VERSION = 6;
export function listKeysRecordSortKey(version: number = LIST_KEYS_VERSION): string {
  return `LIST_KEYS#${version}`;
}

/** The list sort key the list indexes share: `<created_at>#<id>`, so a descending Query is Glance's default order. */
export const LIST_SORT_KEY = 'listSk';

/**
 * The statuses a sweep looks for (in-flight uploads, verifications and imports, and images
 * waiting for their scrubber): only images in these statuses are in the byStatus index.
 */
export const STATUS_INDEX_STATUSES = ['saving', 'uploading', 'importing', 'pending_delete'] as const;
/**
 * byStatus's partition for images in a copy-image import (active or deactivated, with targets):
 * the lost-workflow sweep's candidates among images whose status no other sweep looks for.
 */
export const COPYING_STATUS_KEY = 'copying';

export const INDEXES = {
  /** Every live image of one project: `ownerPk = <project>`. */
  byOwner: { name: 'byOwner', partitionKey: 'ownerPk', sortKey: LIST_SORT_KEY },
  /** Sparse: only public and community images, `visPk = public#<shard> | community#<shard>` (LIST_SHARDS). */
  byVisibility: { name: 'byVisibility', partitionKey: 'visPk', sortKey: LIST_SORT_KEY },
  /** Sparse: every live image, for the admin's list and the audit, `allPk = image#<shard>`; and the usage counters, `usage#<shard>`. */
  all: { name: 'all', partitionKey: 'allPk', sortKey: LIST_SORT_KEY },
  /**
   * Sparse: images in one of STATUS_INDEX_STATUSES, `statusPk = <status>` (or COPYING_STATUS_KEY while copied to more stores), sorted by
   * `statusSk = <updated_at>#<id>`, so a sweep reads only its candidates, oldest first, and
   * "not changed since T" is a key condition.
   */
  byStatus: { name: 'byStatus', partitionKey: 'statusPk', sortKey: 'statusSk' },
  /**
   * Sparse: live memberships (member items, not images), `memberPk = <project>#<status>`,
   * sorted by their image's list sort key. No list reads it any more (the shares are read from
   * the memberships' copies on byOwner, sharedPartition); kept written so that a stack is never
   * without it while it is deployed, and removable in a later update (one GSI freed).
   */
  byMember: { name: 'byMember', partitionKey: 'memberPk', sortKey: LIST_SORT_KEY },
  /**
   * The name-sorted twins of byOwner, byVisibility and `all`: the same images, sorted by
   * `nameSk = <encoded name><created_at>#<id>` (nameSortKey), so `name=` is a key condition on
   * the name's prefix (newest first within it) and `sort=name` is a Query in either direction.
   * The sharded two are sharded by name (`visNamePk = <visibility>#<shard of the name>`,
   * `allNamePk = image#<shard of the name>`), so a name lookup reads one shard per name.
   */
  byOwnerName: { name: 'byOwnerName', partitionKey: 'ownerPk', sortKey: 'nameSk' },
  byVisibilityName: { name: 'byVisibilityName', partitionKey: 'visNamePk', sortKey: 'nameSk' },
  allByName: { name: 'allByName', partitionKey: 'allNamePk', sortKey: 'nameSk' },
  /**
   * The sort twins of byOwner, byVisibility and `all` for Glance's other sort keys: the same
   * partitions (and shards, by image id), sorted by `<value><created_at>#<id>` (the value's
   * key, then Glance's tie-breakers), so `sort=updated_at|size|status` in either direction is a
   * Query, and `status=` is a key condition on its status's prefix. They project only the image
   * id and its `listSk` (SORT_TWIN_PROJECTION): an entry is written only when the image enters,
   * leaves or moves within the index, not on every write as a projection of the whole image
   * would be; a page fetches its images with one BatchGetItem.
   */
  byOwnerUpdated: { name: 'byOwnerUpdated', partitionKey: 'ownerPk', sortKey: 'updatedSk', projection: 'sortTwin' },
  byVisibilityUpdated: { name: 'byVisibilityUpdated', partitionKey: 'visPk', sortKey: 'updatedSk', projection: 'sortTwin' },
  allByUpdated: { name: 'allByUpdated', partitionKey: 'allPk', sortKey: 'updatedSk', projection: 'sortTwin' },
  byOwnerSize: { name: 'byOwnerSize', partitionKey: 'ownerPk', sortKey: 'sizeSk', projection: 'sortTwin' },
  byVisibilitySize: { name: 'byVisibilitySize', partitionKey: 'visPk', sortKey: 'sizeSk', projection: 'sortTwin' },
  allBySize: { name: 'allBySize', partitionKey: 'allPk', sortKey: 'sizeSk', projection: 'sortTwin' },
  byOwnerStatus: { name: 'byOwnerStatus', partitionKey: 'ownerPk', sortKey: 'statusListSk', projection: 'sortTwin' },
  byVisibilityStatus: { name: 'byVisibilityStatus', partitionKey: 'visPk', sortKey: 'statusListSk', projection: 'sortTwin' },
  allByStatus: { name: 'allByStatus', partitionKey: 'allPk', sortKey: 'statusListSk', projection: 'sortTwin' },
  /**
   * The tag twins of byOwner, byVisibility and `all` (the GSI budget's last three): a GSI cannot
   * index a list's elements, so each tag of a live image is an item of its own in the image's
   * partition (`IMAGE#<id>` / `TAG#<tag>`, tagItems), keyed on these by the image's list
   * partition and the tag (tagPartition) and sorted by the image's `listSk`: `tag=` under
   * Glance's default order or `created_at` is a Query per partition the caller may see. Written
   * in the image's own transaction. Projection: the image id and `listSk`, as the sort twins.
   */
  byOwnerTag: { name: 'byOwnerTag', partitionKey: 'tagOwnerPk', sortKey: LIST_SORT_KEY, projection: 'sortTwin' },
  byVisibilityTag: { name: 'byVisibilityTag', partitionKey: 'tagVisPk', sortKey: LIST_SORT_KEY, projection: 'sortTwin' },
  allByTag: { name: 'allByTag', partitionKey: 'tagAllPk', sortKey: LIST_SORT_KEY, projection: 'sortTwin' },
} as const;

export type IndexDefinition = { name: string; partitionKey: string; sortKey: string; projection?: 'sortTwin' };

/**
 * What the sort twins project besides the keys: the image id (its entries are fetched by it)
 * and `listSk` (a status lookup under the default order merges on it). Neither ever changes.
 */
export const SORT_TWIN_PROJECTION = ['id', 'listSk'] as const;

export type IndexKey = keyof typeof INDEXES;

/** The name-sorted twin of each list index that has one (byMember has none: member items do not copy the name). */
export const NAME_INDEX_OF: Partial<Record<IndexKey, IndexKey>> = { byOwner: 'byOwnerName', byVisibility: 'byVisibilityName', all: 'allByName' };

/** The sort key attributes of the sort twins: `updatedSk`, `sizeSk`, `statusListSk`. */
export const UPDATED_SORT_KEY = 'updatedSk';
export const SIZE_SORT_KEY = 'sizeSk';
export const STATUS_LIST_SORT_KEY = 'statusListSk';
export type TwinSortKey = typeof UPDATED_SORT_KEY | typeof SIZE_SORT_KEY | typeof STATUS_LIST_SORT_KEY;

/** Each list index's sort twin by sort key attribute (byMember has none, as for names). */
export const SORT_TWIN_OF: Record<TwinSortKey, Partial<Record<IndexKey, IndexKey>>> = {
  updatedSk: { byOwner: 'byOwnerUpdated', byVisibility: 'byVisibilityUpdated', all: 'allByUpdated' },
  sizeSk: { byOwner: 'byOwnerSize', byVisibility: 'byVisibilitySize', all: 'allBySize' },
  statusListSk: { byOwner: 'byOwnerStatus', byVisibility: 'byVisibilityStatus', all: 'allByStatus' },
};

/**
 * The indexes a table has when a stack declares only the first `count` of INDEXES
 * (`skyglass:tableIndexes`, while an older stack is brought up one index per deploy); all of them
 * without a count. Lists read only these, so an order or filter whose twin is not there yet is
 * served the bounded unindexed way rather than by a Query naming a missing index (a 500).
 */
export function deployedIndexes(count?: number): ReadonlySet<IndexKey> {
  const all = Object.keys(INDEXES) as IndexKey[];
  return new Set(count === undefined ? all : all.slice(0, count));
}

/** Each list index's tag twin (byOwner's also holds the shares partitions' share-tag items; byMember has none). */
export const TAG_TWIN_OF: Partial<Record<IndexKey, IndexKey>> = { byOwner: 'byOwnerTag', byVisibility: 'byVisibilityTag', all: 'allByTag' };

/** Sort keys of an image's tag items in its partition: `TAG#<tag>`. */
export const TAG_SORT_PREFIX = 'TAG#';

/**
 * The sort key of the one tag item of an image with more than TAG_ITEMS_MAX tags: such an image
 * has no item per tag but this one, on its partitions' overflow key (tagOverflowPartition),
 * which every `tag=` list reads too and filters. Distinct from every `TAG#<tag>`.
 */
export const TAG_OVERFLOW_SORT_KEY = 'TAGS#MANY';

/**
 * The sort key of a membership's share-tag item for one tag (docs/table-design.md, "Shared-with-me
 * images"): `SHARETAG#<SHA-256 of member and tag>`, in the image's partition, on byOwnerTag under
 * tagPartition(the membership's shares partition, tag). Hashed so that any member id and tag
 * (`#` in either, 255 characters each) give one short key no other pair gives; a list computes the
 * caller's key to take only its own entries from a shares partition.
 */
export const SHARE_TAG_SORT_PREFIX = 'SHARETAG#';
export function shareTagSortKey(member: string, tag: string): string {
  return `${SHARE_TAG_SORT_PREFIX}${createHash('sha256').update(JSON.stringify([member, tag])).digest('hex')}`;
}

/** The one share-tag item of a membership of an image with more than TAG_ITEMS_MAX tags: `SHARETAGS#<SHA-256 of member>`, on the shares partition's overflow key. */
export function shareTagOverflowSortKey(member: string): string {
  return `SHARETAGS#${createHash('sha256').update(member).digest('hex')}`;
}

/**
 * The sort key of an image's visibility item (docs/table-design.md, "Visibility items"): a
 * private or shared image has one, on the tag twins of its own and `all` partitions under
 * visibilityPartition, so `visibility=private|shared` reads only those images' entries. Public
 * and community images have none: byVisibility already holds them apart.
 */
export const VISIBILITY_SORT_KEY = 'VISIBILITY';

/** The visibilities a visibility item selects: those byVisibility does not hold. */
export const SELECTED_VISIBILITIES: readonly string[] = ['private', 'shared'];

/** A visibility item's partition on a tag twin: the image's list partition, then `#visibility=<v>`. */
export function visibilityPartition(listPartition: string, visibility: string): string {
  return `${listPartition}#visibility=${visibility}`;
}

/**
 * The most tags an image keeps one tag item each for. A write's tag items change in the image's
 * own TransactWriteItems (≤ 100 actions): replacing every tag of such an image deletes up to this
 * many and puts as many, beside the image, 2 usage counters and 2 task items: 2 × 40 + 1 + 6 ≤ 100.
 * Glance allows 128 tags (image_tag_quota); images with more than 40 are few, and are read by
 * every tag list of their partitions through the overflow key instead.
 */
export const TAG_ITEMS_MAX = 40;

/**
 * A tag twin's partition: the image's partition on the list index it twins (`<project>`,
 * `public#<s>`, `image#hidden#<s>`, ...), then the tag: `<partition>#tag=<tag>`. A tag of more
 * than 512 bytes is keyed by its SHA-256 (`#sha=<hex>`), so the key stays within DynamoDB's
 * 2,048 bytes whatever the project id; lists re-check each image's tags, so a collision of keys
 * (a project id holding `#tag=`) costs reads, never a wrong answer.
 */
export function tagPartition(listPartition: string, tag: string): string {
  const key = Buffer.byteLength(tag, 'utf8') > 512 ? `#sha=${createHash('sha256').update(tag).digest('hex')}` : tag;
  return `${listPartition}#tag=${key}`;
}

/**
 * Where the overflow items of images with more than TAG_ITEMS_MAX tags sit: one partition per
 * list partition base, unsharded (`<project>#tags*`, `public#tags*`, `image#hidden#tags*`): such
 * images are few, and a sharded one would add 16 Queries to every tag list.
 */
export function tagOverflowPartition(listPartitionBase: string): string {
  return `${listPartitionBase}#tags*`;
}

/** The list indexes spread over LIST_SHARDS partitions each: `all` and byVisibility (and their sort twins) by image id, their name twins by name. */
const SHARDED_INDEXES: readonly IndexKey[] = [
  'all', 'byVisibility', 'allByName', 'byVisibilityName',
  'allByUpdated', 'byVisibilityUpdated', 'allBySize', 'byVisibilitySize', 'allByStatus', 'byVisibilityStatus',
  'allByTag', 'byVisibilityTag',
];

export function isShardedIndex(index: IndexKey): boolean {
  return SHARDED_INDEXES.includes(index);
}

/** The name sort key attribute the name indexes share. */
export const NAME_SORT_KEY = 'nameSk';

/**
 * The longest encoded name a key holds, in UTF-8 bytes: a GSI sort key may be 1,024 bytes, and
 * `<created_at>#<id>` takes 57. A name longer than this (only names of 225+ four-byte
 * characters) is keyed by its first 900 bytes: lookups stay exact (the page filters on the
 * whole name), only `sort=name` orders such names among themselves by created_at.
 */
const MAX_NAME_KEY_BYTES = 900;

/**
 * A name as a key prefix that sorts, byte for byte (DynamoDB compares UTF-8 bytes), as Glance
 * orders names (SQLite's BINARY collation: code points, which UTF-8 bytes preserve), and that
 * no other name's encoding starts with: U+0000 and U+0001 are escaped as U+0001 U+0003/U+0004,
 * the name ends with U+0001 U+0002, and NULL (Glance's smallest value) is U+0001 U+0001. So
 * `a` < `a\0` < `ab`, a name is never confused with a longer one, and no key holds U+0000.
 */
export function nameKeyPrefix(name: string | null): string {
  if (name === null) return '\u0001\u0001';
  let out = '';
  let bytes = 0;
  for (const ch of name) {
    const piece = ch === '\u0000' ? '\u0001\u0003' : ch === '\u0001' ? '\u0001\u0004' : ch;
    const size = Buffer.byteLength(piece, 'utf8');
    if (bytes + size > MAX_NAME_KEY_BYTES) break;
    out += piece;
    bytes += size;
  }
  return `${out}\u0001\u0002`;
}

/** The shard of the name twins (byVisibilityName, allByName) that holds the images of this name. */
export function nameShardOf(name: string | null): number {
  return listShardOf(nameKeyPrefix(name));
}

/** An image's `nameSk`: its encoded name, then its list sort key (`<created_at>#<id>`). */
export function nameSortKey(name: string | null, listSortKey: string): string {
  return nameKeyPrefix(name) + listSortKey;
}

/** Sorts after every `<created_at>#<id>`: the upper bound of one name's keys. */
export const AFTER_LIST_KEYS = '~';

/**
 * `updatedSk`: `<updated_at><created_at>#<id>`. Glance's timestamps are fixed-width (whole
 * seconds, UTC), so the key orders by updated_at, then Glance's tie-breakers.
 */
export function updatedSortKey(updatedAt: string, listSortKey: string): string {
  return updatedAt + listSortKey;
}

/**
 * `sizeSk`: the size as 20 digits (any 64-bit size fits), or `!` for none, which sorts before
 * every digit (NULL is Glance's smallest value), then `<created_at>#<id>`.
 */
export function sizeSortKey(size: number | null, listSortKey: string): string {
  return (size === null ? '!' : String(size).padStart(20, '0')) + listSortKey;
}

/**
 * `statusListSk`: `<status>#<created_at>#<id>`. No status is a prefix of another and `#` sorts
 * before every letter and `_`, so the key orders by status, then the tie-breakers, and one
 * status's keys are exactly those starting with `<status>#`.
 */
export function statusListSortKey(status: string, listSortKey: string): string {
  return statusKeyPrefix(status) + listSortKey;
}

export function statusKeyPrefix(status: string): string {
  return `${status}#`;
}

/**
 * Index attributes by purpose, for the functions' grants: which indexes each kind of read queries.
 * Not byMember: the lists read the caller's shares from its memberships' copies on byOwner and
 * its twins (sharedPartition); byMember is still written, and read by nothing.
 */
export const LIST_INDEXES = [
  INDEXES.byOwner.name, INDEXES.byVisibility.name, INDEXES.all.name,
  INDEXES.byOwnerName.name, INDEXES.byVisibilityName.name, INDEXES.allByName.name,
  ...Object.values(SORT_TWIN_OF).flatMap((twins) => Object.values(twins).map((twin) => INDEXES[twin].name)),
  ...Object.values(TAG_TWIN_OF).map((twin) => INDEXES[twin].name),
];
/** The sweepers read their candidates from byStatus, and the audit pages through every live image on `all`. */
export const SWEEP_INDEXES = [INDEXES.byStatus.name, INDEXES.all.name] as const;

/** Whether an image in this status is in the byStatus index. */
export function inStatusIndex(status: string): boolean {
  return (STATUS_INDEX_STATUSES as readonly string[]).includes(status);
}

/** byStatus's sort key of an image last written at `updatedAt` (a Glance timestamp, whole seconds, UTC). */
export function statusSortKey(updatedAt: string, id: string): string {
  return `${updatedAt}#${id}`;
}

/** Epoch-seconds attribute that DynamoDB's TTL reads (tombstones of deleted images). */
export const TTL_ATTRIBUTE = 'expiresAt';

/**
 * The outbox: each write stores, on the item itself, the events it means (`image.update`, ...),
 * and the table's stream (new images) carries them to the event relay once the write commits.
 * A write and its events therefore commit together or not at all; the next write replaces
 * the list, so it never outlives the version that caused it.
 */
export const OUTBOX_ATTRIBUTE = 'outbox';

/** What the table's stream carries: the item as written, which holds the outbox. */
export const STREAM_VIEW = 'NEW_IMAGE';
