/**
 * The DynamoDB table's key design, shared by the CDK stack and the local runtime so both
 * create the same table. See docs/table-design.md for the access patterns it serves.
 */
export const TABLE_KEYS = { partitionKey: 'pk', sortKey: 'sk' } as const;

/** The list sort key every index shares: `<created_at>#<id>`, so a descending Query is Glance's default order. */
export const LIST_SORT_KEY = 'listSk';

export const INDEXES = {
  /** Every live image of one project: `ownerPk = <project>`. */
  byOwner: { name: 'byOwner', partitionKey: 'ownerPk', sortKey: LIST_SORT_KEY },
  /** Sparse: only public and community images, `visPk = public | community`. */
  byVisibility: { name: 'byVisibility', partitionKey: 'visPk', sortKey: LIST_SORT_KEY },
  /** Sparse: every live image, for the admin's list: `allPk = "image"`. */
  all: { name: 'all', partitionKey: 'allPk', sortKey: LIST_SORT_KEY },
} as const;

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
