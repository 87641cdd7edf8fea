import type { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { ConditionalCheckFailedException, TransactionCanceledException } from '@aws-sdk/client-dynamodb';
import {
  BatchGetCommand,
  DynamoDBDocumentClient,
  GetCommand,
  PutCommand,
  QueryCommand,
  TransactWriteCommand,
  type PutCommandInput,
  type QueryCommandInput,
} from '@aws-sdk/lib-dynamodb';
import { unmarshall } from '@aws-sdk/util-dynamodb';
import { inGlanceList, type Lister } from '../domain/list-visibility.js';
import { MEMBER_STATUS_VALUES, type MemberStatus } from '../domain/member.js';
import { badRequest, type GlanceError } from '../domain/errors.js';
import { glanceTimestamp, isUuid, type Image } from '../domain/image.js';
import { usageDeltas } from '../domain/quota.js';
import { compareImages, matchesListFilters, type ListQuery } from '../domain/list-query.js';
import { overLimits, QuotaExceededError, QUOTA_RESOURCES, limitInUnits, type Limits, type ProjectDelta, type Usage } from '../domain/quota.js';
import { sourcesOf, type ImageStatus } from '../domain/status.js';
import { IMAGE_EVENT_TYPES, type ImageEvent, type ImageEventType } from '../ports/events.js';
import { ConcurrentUpdateError, DuplicateImageError, type ImageRepository, type ListPage, type StatusQuery } from '../ports/image-repository.js';
import { imageFromItem } from './image-item.js';
import { itemWrites } from './item-writes.js';
import { taskCreatePuts, taskSettlementUpdates, type TransactItem } from './dynamo-task-repository.js';
import { importTaskSettlement, type Task } from '../domain/task.js';
import { isCopying } from '../domain/stores.js';
import { memberOutboxOf } from './dynamo-member-repository.js';
import { storedUsageOf, usageIndexAttributes, usageKey } from './dynamo-usage-repository.js';
import {
  AFTER_LIST_KEYS, COPYING_STATUS_KEY, IMAGE_LIST_PARTITION, IMAGE_SORT_KEY, imagePartition, MEMBER_SORT_PREFIX, memberIndexPartition, INDEXES, inStatusIndex, LIST_SORT_KEY,
  isShardedIndex, listPartitionOf, listShardOf, NAME_INDEX_OF, nameShardOf, NAME_SORT_KEY, nameKeyPrefix, nameSortKey, OUTBOX_ATTRIBUTE, shardPartition, shardPartitions, SIZE_SORT_KEY,
  sizeSortKey, SORT_TWIN_OF, STATUS_LIST_SORT_KEY, statusKeyPrefix, statusListSortKey, statusSortKey, TABLE_KEYS, TAG_ITEMS_MAX, TAG_OVERFLOW_SORT_KEY, TAG_SORT_PREFIX, SELECTED_VISIBILITIES, VISIBILITY_SORT_KEY, visibilityPartition,
  TAG_TWIN_OF, tagOverflowPartition, tagPartition, TTL_ATTRIBUTE, UPDATED_SORT_KEY, updatedSortKey,
  type IndexKey, type TwinSortKey,
} from './table-design.js';

type Item = Record<string, unknown>;
type PutInput = PutCommandInput;
/** A task's Put or Update inside an image write's transaction. */
type TaskItem = TransactItem;

export interface DynamoImageRepositoryOptions {
  tableName: string;
  /** How long a deleted image's tombstone keeps its id from being reused. */
  tombstoneTtlSeconds?: number;
  now?: () => Date;
  /** Each project's quota limits (shared/domain/quota.ts); unlimited when absent. */
  limits?: (project: string) => Limits;
}


/** How often a write that collides with another transaction on a usage counter is tried. */
const TRANSACTION_ATTEMPTS = 12;

const IMAGE_SK = IMAGE_SORT_KEY;
const NO_OWNER = '-';
const LIVE = (image: Image) => image.status !== 'deleted' && image.status !== 'pending_delete';

/**
 * Images in one DynamoDB table (docs/table-design.md). Each image is one item keyed
 * `IMAGE#<id>`; sparse GSIs sorted by `<created_at>#<id>` (and their name-sorted twins) serve
 * listing by Query: the caller's own images, the public/community images, and (for admins)
 * every image, the last two spread over LIST_SHARDS partitions each and merged on read; one
 * more, by status and last change, serves the sweepers.
 */
export class DynamoImageRepository implements ImageRepository {
  private readonly doc: DynamoDBDocumentClient;
  private readonly table: string;
  private readonly tombstoneTtl: number;
  private readonly now: () => Date;

  private readonly limits: (project: string) => Limits;

  constructor(client: DynamoDBClient, options: DynamoImageRepositoryOptions) {
    this.doc = DynamoDBDocumentClient.from(client, { marshallOptions: { removeUndefinedValues: true } });
    this.table = options.tableName;
    this.tombstoneTtl = options.tombstoneTtlSeconds ?? 90 * 24 * 3600;
    this.now = options.now ?? (() => new Date());
    this.limits = options.limits ?? (() => ({}));
  }

  /** A new image; with `task`, the task that made it (a legacy import), in the same transaction. */
  async create(image: Image, events: readonly ImageEventType[] = [], task?: Task): Promise<void> {
    await this.write(
      {
        TableName: this.table,
        Item: this.toItem(task ? { ...image, task_id: task.id } : image, events),
        ConditionExpression: 'attribute_not_exists(#pk)',
        ExpressionAttributeNames: { '#pk': TABLE_KEYS.partitionKey },
      },
      usageDeltas(undefined, image),
      () => new DuplicateImageError(image.id),
      [...(task ? taskCreatePuts(this.table, task) : []), ...tagWrites(this.table, undefined, image, this.now())],
    );
  }

  async get(id: string): Promise<Image | undefined> {
    if (!isUuid(id)) return undefined; // no image has it, and DynamoDB refuses keys over 2,048 bytes
    const out = await this.doc.send(new GetCommand({ TableName: this.table, Key: imageKeyOf(id), ConsistentRead: true }));
    return out.Item ? imageFromItem(out.Item) : undefined;
  }

  async save(next: Image, previous: Image, events: readonly ImageEventType[] = [], task?: Task): Promise<void> {
    if (next.version !== previous.version + 1) throw new Error('save: next.version must be previous.version + 1');
    // An import's task changes with its image, in the same transaction: recorded by the write
    // that starts the import, finished by the one that takes the image out of importing.
    const settlement = importTaskSettlement(previous, next, this.now());
    const stored: Image = task ? { ...next, task_id: task.id } : settlement ? { ...next, task_id: null } : next;
    const taskItems: TaskItem[] = [
      ...(task ? taskCreatePuts(this.table, task) : []),
      ...(settlement ? taskSettlementUpdates(this.table, settlement) : []),
    ];
    // The status table decides which stored statuses this write may replace; the version pins
    // the exact item that was read, so a concurrent writer makes this write fail, never mix.
    const allowed = next.status === previous.status ? [previous.status] : sourcesOf(next.status);
    const values: Item = { ':v': previous.version };
    allowed.forEach((s, i) => (values[`:s${i}`] = s));
    await this.write(
      {
        TableName: this.table,
        Item: this.toItem(stored, events),
        ConditionExpression: `#version = :v AND #status IN (${allowed.map((_, i) => `:s${i}`).join(', ')})`,
        ExpressionAttributeNames: { '#version': 'version', '#status': 'status' },
        ExpressionAttributeValues: values,
        ReturnValuesOnConditionCheckFailure: 'ALL_OLD',
      },
      usageDeltas(previous, next),
      (old) => new ConcurrentUpdateError(old ? imageFromItem(old) : undefined),
      [...taskItems, ...tagWrites(this.table, previous, stored, this.now())],
    );
  }

  /**
   * One conditional PutItem of an image; a write that changes quota usage is instead one
   * transaction with the owners' usage counters, each counter that grows conditioned on staying
   * within its limit, so concurrent writes can never take a project over (and a refused write
   * writes nothing). Transactions that collide on a counter are cancelled by DynamoDB without
   * effect, and tried again.
   */
  private async write(put: PutInput, deltas: ProjectDelta[], imageRefused: (old: Item | undefined) => Error, taskItems: readonly TaskItem[] = []): Promise<void> {
    if (deltas.length === 0 && taskItems.length === 0) {
      try {
        await this.doc.send(new PutCommand(put));
        return;
      } catch (error) {
        if (error instanceof ConditionalCheckFailedException) throw imageRefused(oldItemOf(error));
        throw error;
      }
    }
    const updates = deltas.map(({ project, delta }) => usageUpdate(this.table, project, delta, this.limits(project)));
    for (let attempt = 1; ; attempt++) {
      try {
        await this.doc.send(new TransactWriteCommand({ TransactItems: [{ Put: put }, ...updates.map((u) => ({ Update: u.update })), ...taskItems] }));
        return;
      } catch (error) {
        if (!(error instanceof TransactionCanceledException)) throw error;
        const reasons = error.CancellationReasons ?? [];
        if (reasons[0]?.Code === 'ConditionalCheckFailed') throw imageRefused(reasons[0].Item ? unmarshallLoose(reasons[0].Item) : undefined);
        const refused = reasons.findIndex((r, i) => i > 0 && r.Code === 'ConditionalCheckFailed');
        // A task item refused: its task was finished (or recorded) by a concurrent write of the image.
        if (refused > updates.length) throw imageRefused(undefined);
        if (refused > 0) throw updates[refused - 1]!.exceeded(reasons[refused]!.Item ? unmarshallLoose(reasons[refused]!.Item) : undefined);
        const conflict = reasons.some((r) => r.Code === 'TransactionConflict');
        if (!conflict || attempt >= TRANSACTION_ATTEMPTS) throw error;
        await new Promise((resolve) => setTimeout(resolve, Math.random() * 20 * attempt));
      }
    }
  }

  /** The images in byStatus partitions (statuses, or COPYING_STATUS_KEY), oldest change first. */
  private async *statusPartitions(keys: readonly string[], query: StatusQuery): AsyncIterable<Image> {
    // Timestamps are Glance's (whole seconds, UTC, fixed width), so they compare as strings.
    const cutoff = query.updatedAtOrBefore ? glanceTimestamp(query.updatedAtOrBefore) : undefined;
    for (const key of keys) {
      const index = INDEXES.byStatus;
      // `<updated_at>#<id>` < `<cutoff>$` exactly when updated_at <= cutoff ('$' sorts right after '#').
      yield* this.pages({
        TableName: this.table,
        IndexName: index.name,
        KeyConditionExpression: cutoff ? '#p = :p AND #s < :cutoff' : '#p = :p',
        ExpressionAttributeNames: { '#p': index.partitionKey, ...(cutoff ? { '#s': index.sortKey } : {}) },
        ExpressionAttributeValues: { ':p': key, ...(cutoff ? { ':cutoff': `${cutoff}$` } : {}) },
      });
    }
  }

  findCopying(query: StatusQuery = {}): AsyncIterable<Image> {
    return this.statusPartitions([COPYING_STATUS_KEY], query);
  }

  async *findByStatus(statuses: readonly ImageStatus[], query: StatusQuery = {}): AsyncIterable<Image> {
    yield* this.statusPartitions(statuses.filter(inStatusIndex), query);
    // Timestamps are Glance's (whole seconds, UTC, fixed width), so they compare as strings.
    const cutoff = query.updatedAtOrBefore ? glanceTimestamp(query.updatedAtOrBefore) : undefined;
    const others = statuses.filter((status) => !inStatusIndex(status));
    if (others.length === 0) return;
    // No sweep-sized index holds these (the audit's active and deactivated: most images): page
    // through every live image on `all`, shard after shard, letting DynamoDB drop the other statuses.
    const values: Item = {};
    others.forEach((s, i) => (values[`:s${i}`] = s));
    if (cutoff) values[':cutoff'] = cutoff;
    // Hidden images are on `all` too, in partitions of their own (hiddenPartition).
    for (const partition of [false, true].flatMap((hidden) => shardPartitions(listPartitionOf(IMAGE_LIST_PARTITION, hidden)))) {
      yield* this.pages({
        TableName: this.table,
        IndexName: INDEXES.all.name,
        KeyConditionExpression: '#p = :p',
        FilterExpression: `#status IN (${others.map((_, i) => `:s${i}`).join(', ')})${cutoff ? ' AND #updated <= :cutoff' : ''}`,
        ExpressionAttributeNames: { '#p': INDEXES.all.partitionKey, '#status': 'status', ...(cutoff ? { '#updated': 'updated_at' } : {}) },
        ExpressionAttributeValues: { ...values, ':p': partition },
      });
    }
  }

  /** Every item a Query returns, page after page. */
  private async *pages(input: QueryCommandInput): AsyncIterable<Image> {
    let startKey: Item | undefined;
    do {
      const out = await this.doc.send(new QueryCommand({ ...input, ExclusiveStartKey: startKey }));
      for (const item of out.Items ?? []) yield imageFromItem(item);
      startKey = out.LastEvaluatedKey;
    } while (startKey);
  }

  private toItem(image: Image, events: readonly ImageEventType[]): Item {
    return imageItem(image, events, image.status === 'deleted' ? Math.floor(this.now().getTime() / 1000) + this.tombstoneTtl : undefined);
  }
}

/**
 * The item an image is stored as: its key, its fields, the outbox, every index attribute its
 * status and visibility call for, and for a tombstone the TTL (`expiresAt`, epoch seconds).
 * The bench builds large catalogues with it, straight into DynamoDB Local.
 */
export function imageItem(image: Image, events: readonly ImageEventType[], expiresAt: number | undefined): Item {
  // Custom properties are stored as one JSON string: their keys are client data (`__proto__`
  // included) and must never pass through object-building code as keys.
  const item: Item = { ...imageKeyOf(image.id), ...image, properties: JSON.stringify(image.properties) };
  if (events.length) item[OUTBOX_ATTRIBUTE] = [...events];
  Object.assign(item, listIndexAttributes(image));
  const statusKey = inStatusIndex(image.status) ? image.status : isCopying(image) ? COPYING_STATUS_KEY : undefined;
  if (statusKey) {
    item[INDEXES.byStatus.partitionKey] = statusKey;
    item[INDEXES.byStatus.sortKey] = statusSortKey(image.updated_at, image.id);
  }
  if (expiresAt !== undefined) item[TTL_ATTRIBUTE] = expiresAt;
  return item;
}

/**
 * The list index attributes of an image item (docs/table-design.md): its keys on byOwner and
 * its twin, and on the sharded `all` and byVisibility (shard of the id) and their name twins
 * (shard of the name). None for a deleted image; on `all` only for a pending_delete one (an
 * admin finds it to restore it). The local backfill gives older items the same.
 */
export function listIndexAttributes(image: Pick<Image, 'id' | 'name' | 'status' | 'visibility' | 'owner' | 'created_at' | 'updated_at' | 'size' | 'os_hidden'>): Item {
  const item: Item = {};
  if (image.status === 'deleted') return item;
  // A hidden image sits on the hidden partitions of each index (hiddenPartition): only
  // os_hidden=true lists read them, and the default list never does.
  const part = (base: string) => listPartitionOf(base, image.os_hidden);
  const listKey = listSortKeyOf(image);
  const idShard = listShardOf(image.id);
  const nameShard = nameShardOf(image.name);
  item[LIST_SORT_KEY] = listKey;
  item[NAME_SORT_KEY] = nameSortKey(image.name, listKey);
  // The sort twins share byOwner's, byVisibility's and `all`'s partition keys: these put the image in them.
  for (const attr of TWIN_SORT_KEYS) item[attr] = twinSortKeyOf(attr, image);
  item[INDEXES.all.partitionKey] = shardPartition(part(IMAGE_LIST_PARTITION), idShard);
  item[INDEXES.allByName.partitionKey] = shardPartition(part(IMAGE_LIST_PARTITION), nameShard);
  if (image.status === 'pending_delete') return item;
  item[INDEXES.byOwner.partitionKey] = part(image.owner ?? NO_OWNER);
  if (image.visibility === 'public' || image.visibility === 'community') {
    item[INDEXES.byVisibility.partitionKey] = shardPartition(part(image.visibility), idShard);
    item[INDEXES.byVisibilityName.partitionKey] = shardPartition(part(image.visibility), nameShard);
  }
  return item;
}

/**
 * The tag items a stored image has (docs/table-design.md, "Tags"): none once deleted; one per
 * tag, `IMAGE#<id>` / `TAG#<tag>`, on the tag twin of each list partition the image is in
 * (tagPartition of its ownerPk, visPk, allPk: so hidden, pending_delete and visibility are the
 * image's own), sorted by its `listSk`; or, past TAG_ITEMS_MAX tags, one overflow item on the
 * overflow key of each; and a private or shared image's visibility item (`VISIBILITY`, on
 * visibilityPartition of its ownerPk and allPk). The bench writes them with imageItem when it
 * builds a catalogue.
 */
export function tagItems(image: Image): Item[] {
  const listed = listIndexAttributes(image);
  const listKey = listed[LIST_SORT_KEY];
  const selected = SELECTED_VISIBILITIES.includes(image.visibility);
  if (listKey === undefined || (image.tags.length === 0 && !selected)) return [];
  const bases: [IndexKey, string | undefined, string][] = [
    ['byOwner', listed[INDEXES.byOwner.partitionKey] as string | undefined, listPartitionOf(image.owner ?? NO_OWNER, image.os_hidden)],
    ['byVisibility', listed[INDEXES.byVisibility.partitionKey] as string | undefined, listPartitionOf(image.visibility, image.os_hidden)],
    ['all', listed[INDEXES.all.partitionKey] as string | undefined, listPartitionOf(IMAGE_LIST_PARTITION, image.os_hidden)],
  ];
  const keyed = (sk: string, partitionOf: (partition: string, base: string) => string): Item => {
    const item: Item = { ...imageKeyOf(image.id), [TABLE_KEYS.sortKey]: sk, id: image.id, [LIST_SORT_KEY]: listKey };
    for (const [index, partition, base] of bases) if (partition !== undefined) item[INDEXES[TAG_TWIN_OF[index]!].partitionKey] = partitionOf(partition, base);
    return item;
  };
  // Its visibility item, on its own and `all` partitions (a private or shared image is in no byVisibility one).
  const visibility = selected ? [keyed(VISIBILITY_SORT_KEY, (partition) => visibilityPartition(partition, image.visibility))] : [];
  if (image.tags.length > TAG_ITEMS_MAX) return [keyed(TAG_OVERFLOW_SORT_KEY, (_partition, base) => tagOverflowPartition(base)), ...visibility];
  return [...[...new Set(image.tags)].map((tag) => ({ ...keyed(`${TAG_SORT_PREFIX}${tag}`, (partition) => tagPartition(partition, tag)), tag })), ...visibility];
}

/**
 * The tag item writes that take an image from `before` (as stored; none for a create) to
 * `after`, for the image's own transaction: a Put of each new or changed item (a tag added, or
 * its image moved: visibility, owner, os_hidden, status), and for each item it no longer has a
 * Put of the bare key with a TTL of now: out of every index at once, removed by DynamoDB's TTL
 * later (no function holds DeleteItem). Tag items are written only with their image, on its
 * version, so no condition of their own is needed. A property change, a rename, an upload:
 * nothing; a tag added or removed: that tag's item.
 */
export function tagWrites(table: string, before: Image | undefined, after: Image, now: Date): TaskItem[] {
  return itemWrites(table, imageKeyOf(after.id), before ? tagItems(before) : [], tagItems(after), now);
}

/** The old item a refused PutItem returned (ReturnValuesOnConditionCheckFailure), in the document client's form. */
function oldItemOf(error: ConditionalCheckFailedException): Item | undefined {
  const old = (error as { Item?: Record<string, unknown> }).Item;
  return old ? unmarshallLoose(old) : undefined;
}

/**
 * A usage counter's update within an image write's transaction: ADD each resource's delta,
 * conditioned, for each resource that grows and has a limit, on the counter staying within it
 * (counter <= limit - delta); and the 413 to answer when that condition fails.
 */
function usageUpdate(table: string, project: string, delta: Usage, limits: Limits) {
  const names: Record<string, string> = { '#version': 'version' };
  const values: Item = { ':one': 1 };
  const adds: string[] = ['#version :one'];
  const conditions: string[] = [];
  QUOTA_RESOURCES.forEach((resource, i) => {
    if (delta[resource] === 0) return;
    names[`#r${i}`] = resource;
    values[`:d${i}`] = delta[resource];
    adds.push(`#r${i} :d${i}`);
    const limit = limitInUnits(limits, resource);
    if (limit === undefined || delta[resource] < 0) return;
    values[`:max${i}`] = limit - delta[resource];
    // A counter never written is 0: within the limit exactly when the delta alone is.
    conditions.push(limit - delta[resource] >= 0 ? `(attribute_not_exists(#r${i}) OR #r${i} <= :max${i})` : `#r${i} <= :max${i}`);
  });
  const sets = Object.entries(usageIndexAttributes(project)).map(([name, value]) => {
    names[`#${name}`] = name;
    values[`:${name}`] = value;
    return `#${name} = :${name}`;
  });
  return {
    update: {
      TableName: table,
      Key: usageKey(project),
      UpdateExpression: `ADD ${adds.join(', ')} SET ${sets.join(', ')}`,
      ...(conditions.length ? { ConditionExpression: conditions.join(' AND ') } : {}),
      ExpressionAttributeNames: names,
      ExpressionAttributeValues: values,
      ReturnValuesOnConditionCheckFailure: 'ALL_OLD' as const,
    },
    exceeded: (old: Item | undefined) => {
      const current = storedUsageOf(project, old).usage;
      const over = overLimits(limits, current, delta);
      return new QuotaExceededError(project, over.length ? over : overLimits(limits, { ...current, ...maxedOut(delta, limits) }, delta));
    },
  };
}

/** Usage at every limit a delta grows: the 413's figures when the counter read back is already stale. */
function maxedOut(delta: Usage, limits: Limits): Partial<Usage> {
  const at: Partial<Usage> = {};
  for (const resource of QUOTA_RESOURCES) {
    const limit = limitInUnits(limits, resource);
    if (limit !== undefined && delta[resource] > 0) at[resource] = limit;
  }
  return at;
}

/** The table key of an image's item. */
export function imageKeyOf(id: string): Item {
  return { [TABLE_KEYS.partitionKey]: imagePartition(id), [TABLE_KEYS.sortKey]: IMAGE_SK };
}

/** An image's `listSk`: `<created_at>#<id>`. */
export function listSortKeyOf(image: Pick<Image, 'created_at' | 'id'>): string {
  return `${image.created_at}#${image.id}`;
}

const TWIN_SORT_KEYS = [UPDATED_SORT_KEY, SIZE_SORT_KEY, STATUS_LIST_SORT_KEY] as const;

/** An image's key on a sort twin: the sorted value's key, then `<created_at>#<id>`. */
export function twinSortKeyOf(attr: TwinSortKey, image: Pick<Image, 'id' | 'created_at' | 'updated_at' | 'size' | 'status'>): string {
  const listKey = listSortKeyOf(image);
  if (attr === UPDATED_SORT_KEY) return updatedSortKey(image.updated_at, listKey);
  if (attr === SIZE_SORT_KEY) return sizeSortKey(image.size, listKey);
  return statusListSortKey(image.status, listKey);
}

/**
 * The events an item's write recorded (its outbox), from a stream record's new image in
 * DynamoDB's wire format: what the relay publishes. Nothing for items without an outbox.
 * Image items carry image events, member items membership events.
 */
export function outboxOf(newImage: Record<string, unknown> | undefined): ImageEvent[] {
  if (!newImage) return [];
  // Only image and member items carry an outbox: others (the metadefs catalogue's) are not decoded.
  const sortKey = (newImage[TABLE_KEYS.sortKey] as { S?: unknown } | undefined)?.S;
  if (typeof sortKey !== 'string' || (sortKey !== IMAGE_SK && !sortKey.startsWith(MEMBER_SORT_PREFIX))) return [];
  const item = unmarshallLoose(newImage);
  if (String(item[TABLE_KEYS.sortKey]).startsWith(MEMBER_SORT_PREFIX)) return memberOutboxOf(item);
  const recorded = item[OUTBOX_ATTRIBUTE];
  if (!Array.isArray(recorded) || recorded.length === 0 || item[TABLE_KEYS.sortKey] !== IMAGE_SK) return [];
  const image = imageFromItem(item);
  return recorded
    .filter((type): type is ImageEventType => (IMAGE_EVENT_TYPES as readonly unknown[]).includes(type))
    .map((type) => ({ type, image }));
}

/** ALL_OLD arrives on the exception in DynamoDB's wire format, not the document client's. */
function unmarshallLoose(raw: Record<string, unknown>): Item {
  return unmarshall(raw as Parameters<typeof unmarshall>[0]);
}
