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
