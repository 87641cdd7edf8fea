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
import { taskCreatePuts, taskSettlementUpdates, type TransactItem } from './dynamo-task-repository.js';
import { importTaskSettlement, type Task } from '../domain/task.js';
import { memberOutboxOf } from './dynamo-member-repository.js';
import { storedUsageOf, usageIndexAttributes, usageKey } from './dynamo-usage-repository.js';
import {
  AFTER_LIST_KEYS, IMAGE_LIST_PARTITION, IMAGE_SORT_KEY, imagePartition, MEMBER_SORT_PREFIX, memberIndexPartition, INDEXES, inStatusIndex, LIST_SORT_KEY,
  isShardedIndex, listShardOf, NAME_INDEX_OF, nameShardOf, NAME_SORT_KEY, nameKeyPrefix, nameSortKey, OUTBOX_ATTRIBUTE, shardPartition, shardPartitions, statusSortKey, TABLE_KEYS,
  TTL_ATTRIBUTE, type IndexKey,
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
  /**
   * A list no index serves (any sort but the default, created_at asc and name) reads every
   * visible image and sorts them in the function; past this many entries read, or this many
   * milliseconds, it stops with a 400 that says how to narrow it, rather than run into the
   * function's 10 s timeout (a gateway 504). Defaults: UNINDEXED_LIST_MAX_ITEMS, UNINDEXED_LIST_MAX_MS.
   */
  unindexedListMaxItems?: number;
  unindexedListMaxMs?: number;
}

/** ~20 MB of items, about 20 Query pages of 1 MB: a second or two from DynamoDB, sorted in well under the 10 s a list function has. */
export const UNINDEXED_LIST_MAX_ITEMS = 20_000;
/** The list function's timeout is 10 s (infra/constructs/skyglass-function.ts): stop reading with 3 s to spare. */
export const UNINDEXED_LIST_MAX_MS = 7_000;

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
  private readonly unindexedMaxItems: number;
  private readonly unindexedMaxMs: number;

  constructor(client: DynamoDBClient, options: DynamoImageRepositoryOptions) {
    this.doc = DynamoDBDocumentClient.from(client, { marshallOptions: { removeUndefinedValues: true } });
    this.table = options.tableName;
    this.tombstoneTtl = options.tombstoneTtlSeconds ?? 90 * 24 * 3600;
    this.now = options.now ?? (() => new Date());
    this.limits = options.limits ?? (() => ({}));
    this.unindexedMaxItems = options.unindexedListMaxItems ?? UNINDEXED_LIST_MAX_ITEMS;
    this.unindexedMaxMs = options.unindexedListMaxMs ?? UNINDEXED_LIST_MAX_MS;
  }

  async create(image: Image, events: readonly ImageEventType[] = []): Promise<void> {
    await this.write(
      {
        TableName: this.table,
        Item: this.toItem(image, events),
        ConditionExpression: 'attribute_not_exists(#pk)',
        ExpressionAttributeNames: { '#pk': TABLE_KEYS.partitionKey },
      },
      usageDeltas(undefined, image),
      () => new DuplicateImageError(image.id),
    );
  }

  async get(id: string): Promise<Image | undefined> {
    if (!isUuid(id)) return undefined; // no image has it, and DynamoDB refuses keys over 2,048 bytes
    const out = await this.doc.send(new GetCommand({ TableName: this.table, Key: keyOf(id), ConsistentRead: true }));
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
      taskItems,
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

  async list(caller: Lister, query: ListQuery, marker: Image | undefined): Promise<ListPage> {
    if (query.limit === 0) return { images: [] };
    // An admin asking for status=pending_delete finds those images (to restore them); they stay
    // in the admin's index until the scrubber tombstones them.
    const pendingDelete = caller.isAdmin && asksFor(query, 'pending_delete');
    const keep = (image: Image, shared: MemberStatus | undefined) =>
      (LIVE(image) ? inGlanceList(caller, image, shared, query) : pendingDelete && image.status === 'pending_delete') &&
      matchesListFilters(image, query, { pendingDelete });
    const order = indexedOrder(query);
    const streams = this.streamsFor(caller, query, order, order ? marker : undefined);
    const resolve = (ids: readonly string[]) => this.batchGet(ids);
    if (order) return { images: await mergeInOrder(streams, query.limit, resolve, keep, order.forward) };
    // Any other order has no index behind it: read every visible candidate, sort in memory,
    // within a bound on what is read and for how long.
    const all = new Map<string, Image>();
    const started = this.now().getTime();
    let read = 0;
    for (const stream of streams) {
      const candidates: Candidate[] = [];
      for (let c = await stream.next(); c; c = await stream.next()) {
        candidates.push(c);
        if (++read > this.unindexedMaxItems || this.now().getTime() - started > this.unindexedMaxMs) throw tooCostlyToSort(query, this.unindexedMaxItems);
      }
      const fetched = await resolve(candidates.filter((c) => !c.image).map((c) => c.id));
      for (const c of candidates) {
        const image = c.image ?? fetched.get(c.id);
        if (image && keep(image, c.shared)) all.set(image.id, image);
      }
    }
    const compare = compareImages(query.sort);
    const sorted = [...all.values()].sort(compare);
    const start = marker ? sorted.filter((image) => compare(image, marker) <= 0).length : 0;
    return { images: sorted.slice(start, start + query.limit) };
  }

  /** The images with these ids (those that exist), in BatchGetItems of at most 100 keys. */
  private async batchGet(ids: readonly string[]): Promise<Map<string, Image>> {
    const found = new Map<string, Image>();
    for (let i = 0; i < ids.length; i += 100) {
      let keys: Item[] = ids.slice(i, i + 100).map(keyOf);
      // Unprocessed keys (throttling) are asked for again: a page never silently drops an image.
      while (keys.length) {
        const out = await this.doc.send(new BatchGetCommand({ RequestItems: { [this.table]: { Keys: keys } } }));
        for (const item of out.Responses?.[this.table] ?? []) found.set(String(item.id), imageFromItem(item));
        keys = (out.UnprocessedKeys?.[this.table]?.Keys as Item[] | undefined) ?? [];
      }
    }
    return found;
  }

  async *findByStatus(statuses: readonly ImageStatus[], query: StatusQuery = {}): AsyncIterable<Image> {
    // Timestamps are Glance's (whole seconds, UTC, fixed width), so they compare as strings.
    const cutoff = query.updatedAtOrBefore ? glanceTimestamp(query.updatedAtOrBefore) : undefined;
    for (const status of statuses.filter(inStatusIndex)) {
      const index = INDEXES.byStatus;
      // `<updated_at>#<id>` < `<cutoff>$` exactly when updated_at <= cutoff ('$' sorts right after '#').
      yield* this.pages({
        TableName: this.table,
        IndexName: index.name,
        KeyConditionExpression: cutoff ? '#p = :p AND #s < :cutoff' : '#p = :p',
        ExpressionAttributeNames: { '#p': index.partitionKey, ...(cutoff ? { '#s': index.sortKey } : {}) },
        ExpressionAttributeValues: { ':p': status, ...(cutoff ? { ':cutoff': `${cutoff}$` } : {}) },
      });
    }
    const others = statuses.filter((status) => !inStatusIndex(status));
    if (others.length === 0) return;
    // No sweep-sized index holds these (the audit's active and deactivated: most images): page
    // through every live image on `all`, shard after shard, letting DynamoDB drop the other statuses.
    const values: Item = {};
    others.forEach((s, i) => (values[`:s${i}`] = s));
    if (cutoff) values[':cutoff'] = cutoff;
    for (const partition of shardPartitions(IMAGE_LIST_PARTITION)) {
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

  /**
   * Streams over the index partitions that can hold images this caller may see, in `order`
   * (none: any order, everything is read). A name filter reads each partition's name-sorted
   * twin, one stream per name, only that name's keys (in `<created_at>#<id>` order within it);
   * `sort=name` reads the name-sorted twins whole. Past the marker when there is one.
   */
  private streamsFor(caller: Lister, query: ListQuery, order: IndexedOrder | undefined, marker: Image | undefined): Stream[] {
    const names = namesAskedFor(query);
    const byName = names !== undefined || order?.key === NAME_SORT_KEY;
    // What each partition the caller may see is read as: a sharded one (`all`, byVisibility) is
    // one stream per shard; on a name twin, sharded by name, a name lookup reads its name's
    // shard only (one stream per name), `sort=name` every shard.
    const plans: StreamPlan[] = [];
    for (const [index, value, shared] of this.partitionsFor(caller, query)) {
      const sharded = isShardedIndex(index);
      if (shared && order?.key === NAME_SORT_KEY) {
        plans.push({ kind: 'members by name', index, partition: value, shared });
        continue;
      }
      const nameIndex = NAME_INDEX_OF[index];
      if (shared || !byName || !nameIndex) {
        for (const partition of sharded ? shardPartitions(value) : [value]) plans.push({ kind: 'list', index, partition, shared });
        continue;
      }
      for (const name of names ?? [undefined]) {
        const partitions = !sharded ? [value] : name === undefined ? shardPartitions(value) : [shardPartition(value, nameShardOf(name))];
        for (const partition of partitions) plans.push({ kind: 'name', index: nameIndex, partition, name });
      }
    }
    // Merging k streams, each is read in chunks of about limit/k: a page that comes mostly from
    // one stream costs an extra Query there, not a full page read from every other. Without an
    // indexed order everything is read anyway, in the largest chunks.
    const streamCount = Math.max(plans.length, 1);
    const pageSize = order ? Math.min(Math.ceil(Math.max(query.limit, 1) / streamCount) + 1, 1000) : 1000;
    const forward = order?.forward ?? false;
    const markerListKey = marker ? sortKeyOf(marker) : undefined;
    const markerKey = marker && order?.key === NAME_SORT_KEY ? nameSortKey(marker.name, sortKeyOf(marker)) : markerListKey;
    const streams: Stream[] = [];
    for (const plan of plans) {
      const base = { doc: this.doc, table: this.table, partitionValue: plan.partition, pageSize, shared: plan.kind === 'name' ? undefined : plan.shared };
      if (plan.kind === 'members by name') {
        // Member items hold no copy of the name (docs/table-design.md): the caller's memberships
        // in this status are read whole and their images ordered here.
        const all = new CandidateStream({ ...base, index: INDEXES[plan.index], sortAttr: LIST_SORT_KEY, forward: false, pageSize: 1000 });
        streams.push(new SortedInMemoryStream(all, (ids) => this.batchGet(ids), names, markerKey, forward));
        continue;
      }
      if (plan.kind === 'list') {
        const bound = forward ? { lo: markerListKey } : { hi: markerListKey };
        streams.push(new CandidateStream({ ...base, index: INDEXES[plan.index], sortAttr: LIST_SORT_KEY, forward, ...bound, exclude: markerListKey }));
        continue;
      }
      const prefix = plan.name === undefined ? undefined : nameKeyPrefix(plan.name);
      let lo = prefix;
      let hi = prefix === undefined ? undefined : prefix + AFTER_LIST_KEYS;
      let exclude: string | undefined;
      if (order?.key === LIST_SORT_KEY && markerListKey && prefix !== undefined) {
        // Within one name, by created_at: newest first (the default) or oldest first.
        exclude = prefix + markerListKey;
        if (forward) lo = exclude;
        else hi = exclude;
      } else if (order?.key === NAME_SORT_KEY && markerKey) {
        exclude = markerKey;
        if (forward) lo = lo === undefined || markerKey > lo ? markerKey : lo;
        else hi = hi === undefined || markerKey < hi ? markerKey : hi;
      }
      if (lo !== undefined && hi !== undefined && lo > hi) continue; // the marker is past this name
      streams.push(
        new CandidateStream({ ...base, index: INDEXES[plan.index], sortAttr: NAME_SORT_KEY, forward, lo, hi, exclude, mergeKeyAttr: order?.key ?? LIST_SORT_KEY }),
      );
    }
    return streams;
  }

  /**
   * Which index partitions can hold images this caller may list, narrowed by the query (Glance's
   * union: own, public, community, shared with the caller in `member_status`; admin: all).
   * A byMember partition holds memberships, not images: its images are fetched once they are
   * known to be on the page.
   */
  private partitionsFor(caller: Lister, query: ListQuery): Partition[] {
    const { visibility, owner } = query;
    // `all` and byVisibility are sharded: streamsFor reads the shards each of these stands for.
    const visible = (v: 'public' | 'community'): Partition[] => [['byVisibility', v]];
    if (caller.isAdmin) {
      if (owner) return [['byOwner', owner]];
      if (visibility === 'public' || visibility === 'community') return visible(visibility);
      return [['all', IMAGE_LIST_PARTITION]];
    }
    const me = caller.projectId;
    const own: Partition[] = me && (!owner || owner === me) ? [['byOwner', me]] : [];
    const statuses = query.filters.member_status === 'all' ? MEMBER_STATUS_VALUES : [query.filters.member_status];
    const shared: Partition[] = me ? statuses.map((status): Partition => ['byMember', memberIndexPartition(me, status), status]) : [];
    switch (visibility) {
      case 'public':
      case 'community':
        return visible(visibility);
      case 'private':
        return own;
      case 'shared':
        return [...own, ...shared];
      case 'all':
        return [...own, ...visible('public'), ...visible('community'), ...shared];
      default:
        return [...own, ...visible('public'), ...shared];
    }
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
  const item: Item = { ...keyOf(image.id), ...image, properties: JSON.stringify(image.properties) };
  if (events.length) item[OUTBOX_ATTRIBUTE] = [...events];
  Object.assign(item, listIndexAttributes(image));
  if (inStatusIndex(image.status)) {
    item[INDEXES.byStatus.partitionKey] = image.status;
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
export function listIndexAttributes(image: Pick<Image, 'id' | 'name' | 'status' | 'visibility' | 'owner' | 'created_at'>): Item {
  const item: Item = {};
  if (image.status === 'deleted') return item;
  const listKey = sortKeyOf(image);
  const idShard = listShardOf(image.id);
  const nameShard = nameShardOf(image.name);
  item[LIST_SORT_KEY] = listKey;
  item[NAME_SORT_KEY] = nameSortKey(image.name, listKey);
  item[INDEXES.all.partitionKey] = shardPartition(IMAGE_LIST_PARTITION, idShard);
  item[INDEXES.allByName.partitionKey] = shardPartition(IMAGE_LIST_PARTITION, nameShard);
  if (image.status === 'pending_delete') return item;
  item[INDEXES.byOwner.partitionKey] = image.owner ?? NO_OWNER;
  if (image.visibility === 'public' || image.visibility === 'community') {
    item[INDEXES.byVisibility.partitionKey] = shardPartition(image.visibility, idShard);
    item[INDEXES.byVisibilityName.partitionKey] = shardPartition(image.visibility, nameShard);
  }
  return item;
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

/** The 400 of a list too large to sort in the function: what was asked, and what is served by index instead. */
function tooCostlyToSort(query: ListQuery, maxItems: number): GlanceError {
  const sort = query.sort.map((k) => `${k.key}:${k.dir}`).join(',');
  return badRequest(
    `Listing with sort ${sort} reads every image you can see and sorts them here, and this list has more than ${maxItems} of them (or took too long to read). ` +
      'Narrow it with filters that select by index (name=, owner=, visibility=), or sort by created_at (either direction) or name, which are served by index.',
  );
}

function asksFor(query: ListQuery, status: string): boolean {
  const filter = query.filters.status;
  return filter !== null && (filter.op === 'eq' ? filter.value === status : filter.values.includes(status));
}

function keyOf(id: string): Item {
  return { [TABLE_KEYS.partitionKey]: imagePartition(id), [TABLE_KEYS.sortKey]: IMAGE_SK };
}

function sortKeyOf(image: Pick<Image, 'created_at' | 'id'>): string {
  return `${image.created_at}#${image.id}`;
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

/**
 * One index partition a list reads: the index, its key (unsharded: `public`, `image`), and for
 * byMember the membership status it holds.
 */
type Partition = [IndexKey, string, MemberStatus?];

/**
 * One stream of a list: a partition (a shard's, for the sharded indexes) read by `listSk`, or a
 * name twin's read by `nameSk` (one name's keys, or all), or the caller's memberships in one
 * status read whole and ordered by name.
 */
type StreamPlan =
  | { kind: 'list'; index: IndexKey; partition: string; shared: MemberStatus | undefined }
  | { kind: 'name'; index: IndexKey; partition: string; name: string | undefined }
  | { kind: 'members by name'; index: IndexKey; partition: string; shared: MemberStatus };

/** An order a list can read from indexes: the key its streams merge on, and the direction. */
interface IndexedOrder {
  key: typeof LIST_SORT_KEY | typeof NAME_SORT_KEY;
  forward: boolean;
}

/**
 * Which indexed order serves the query's sort: Glance's default (`created_at desc, id desc`:
 * `<created_at>#<id>` descending), its reverse (`sort=created_at:asc`: `created_at asc, id asc`,
 * the same key ascending) or `name` with its tie-breakers in the same direction
 * (`sort=name:asc`, `sort_key=name`, ...: the name key, either way). Undefined for any other.
 */
function indexedOrder(query: ListQuery): IndexedOrder | undefined {
  if (query.isDefaultSort) return { key: LIST_SORT_KEY, forward: false };
  const [first, second, third] = query.sort;
  if (query.sort.length === 2 && first?.key === 'created_at' && second?.key === 'id' && first.dir === 'asc' && second.dir === 'asc') {
    return { key: LIST_SORT_KEY, forward: true };
  }
  if (query.sort.length === 3 && first?.key === 'name' && second?.key === 'created_at' && third?.key === 'id' && first.dir === second.dir && second.dir === third.dir) {
    return { key: NAME_SORT_KEY, forward: first.dir === 'asc' };
  }
  return undefined;
}

/** The names a `name=` / `name=in:` filter asks for, each once; undefined without one. */
function namesAskedFor(query: ListQuery): string[] | undefined {
  const filter = query.filters.name;
  if (!filter) return undefined;
  return filter.op === 'eq' ? [filter.value] : [...new Set(filter.values)];
}

/**
 * One entry of a list index, in the stream's order: an image (image indexes) or a membership
 * of the caller (byMember), which names its image and sorts where the image does but holds no image.
 */
interface Candidate {
  /** What the merge orders on: `<created_at>#<id>` or the name key. */
  key: string;
  id: string;
  image?: Image;
  /** The caller's membership status of the image, for entries from byMember. */
  shared?: MemberStatus;
}

interface Stream {
  peek(needs?: number): Promise<Candidate | undefined>;
  next(): Promise<Candidate | undefined>;
}

interface CandidateStreamOptions {
  doc: DynamoDBDocumentClient;
  table: string;
  index: { name: string; partitionKey: string };
  partitionValue: string;
  /** The index's sort key attribute, which lo/hi/exclude bound. */
  sortAttr: string;
  forward: boolean;
  /** Inclusive bounds of the index sort key, and one key (the marker's) left out. */
  lo?: string | undefined;
  hi?: string | undefined;
  exclude?: string | undefined;
  pageSize: number;
  /** Set for byMember partitions: their items are memberships in this status. */
  shared: MemberStatus | undefined;
  /** The item attribute candidates merge on (the sort key unless told). */
  mergeKeyAttr?: string;
}

/** Pages one index partition in key order (descending unless `forward`), `pageSize` items per Query. */
class CandidateStream implements Stream {
  private buffer: Candidate[] = [];
  private startKey: Item | undefined;
  private done = false;

  constructor(private readonly o: CandidateStreamOptions) {}

  /**
   * The next entry. The first Query reads `pageSize` entries; the second only as many as the
   * page still `needs` from this stream (the merge estimates its share from what it supplied
   * so far), so a page drawn mostly from one partition does not read whole chunks it will not
   * use, nor do even shards read the whole rest of the page each; a partition read again after that is one a filter is
   * thinning, and each further Query reads twice as many, so a selective filter costs a few
   * large Queries rather than many small ones.
   */
  async peek(needs = this.o.pageSize): Promise<Candidate | undefined> {
    while (this.buffer.length === 0 && !this.done) {
      const limit = this.fetches === 0 ? this.o.pageSize : this.fetches === 1 ? needs : Math.max(needs, this.lastLimit * 2);
      await this.fetch(Math.min(Math.max(limit, 1), 1000));
    }
    return this.buffer[0];
  }

  async next(): Promise<Candidate | undefined> {
    const head = await this.peek();
    this.buffer.shift();
    return head;
  }

  private fetches = 0;
  private lastLimit = 0;

  private async fetch(limit: number): Promise<void> {
    this.fetches++;
    this.lastLimit = limit;
    const { lo, hi } = this.o;
    const range = lo !== undefined && hi !== undefined ? ' AND #s BETWEEN :lo AND :hi' : lo !== undefined ? ' AND #s >= :lo' : hi !== undefined ? ' AND #s <= :hi' : '';
    const out = await this.o.doc.send(
      new QueryCommand({
        TableName: this.o.table,
        IndexName: this.o.index.name,
        KeyConditionExpression: `#p = :p${range}`,
        ExpressionAttributeNames: { '#p': this.o.index.partitionKey, ...(range ? { '#s': this.o.sortAttr } : {}) },
        ExpressionAttributeValues: { ':p': this.o.partitionValue, ...(lo !== undefined ? { ':lo': lo } : {}), ...(hi !== undefined ? { ':hi': hi } : {}) },
        ScanIndexForward: this.o.forward,
        Limit: limit,
        ExclusiveStartKey: this.startKey,
      }),
    );
    const mergeKey = this.o.mergeKeyAttr ?? this.o.sortAttr;
    for (const item of out.Items ?? []) {
      if (this.o.exclude !== undefined && item[this.o.sortAttr] === this.o.exclude) continue;
      const key = String(item[mergeKey]);
      if (this.o.shared) this.buffer.push({ key, id: String(item.image_id), shared: this.o.shared });
      else this.buffer.push({ key, id: String(item.id), image: imageFromItem(item) });
    }
    this.startKey = out.LastEvaluatedKey;
    this.done = !out.LastEvaluatedKey;
  }
}

/**
 * A byMember partition in name order: every membership read, its images fetched, keyed by
 * name and ordered here. Costs the images shared with the caller in that status (not the
 * catalogue), since member items hold no copy of their image's name.
 */
class SortedInMemoryStream implements Stream {
  private sorted: Candidate[] | undefined;

  constructor(
    private readonly memberships: CandidateStream,
    private readonly resolve: (ids: readonly string[]) => Promise<Map<string, Image>>,
    private readonly names: readonly string[] | undefined,
    private readonly marker: string | undefined,
    private readonly forward: boolean,
  ) {}

  async peek(): Promise<Candidate | undefined> {
    if (!this.sorted) {
      const entries: Candidate[] = [];
      for (let c = await this.memberships.next(); c; c = await this.memberships.next()) entries.push(c);
      const images = await this.resolve(entries.map((c) => c.id));
      const beyond = (key: string) => this.marker === undefined || (this.forward ? key > this.marker : key < this.marker);
      this.sorted = entries
        .flatMap((c) => {
          const image = images.get(c.id);
          if (!image || (this.names && (image.name === null || !this.names.includes(image.name)))) return [];
          return [{ ...c, image, key: nameSortKey(image.name, sortKeyOf(image)) }];
        })
        .filter((c) => beyond(c.key))
        .sort((a, b) => (a.key === b.key ? 0 : (a.key < b.key) === this.forward ? -1 : 1));
    }
    return this.sorted[0];
  }

  async next(): Promise<Candidate | undefined> {
    const head = await this.peek();
    this.sorted?.shift();
    return head;
  }
}

/**
 * k-way merge of streams that are each in the page's order (ascending keys when `forward`).
 * The same image can sit in two streams (an own public image); equal heads are one image,
 * taken once. Candidates are taken a round at a time, as many as the page still needs (kept
 * images, and memberships whose images may be kept); the images of those memberships are
 * fetched in one BatchGetItem, so only images that can land on the page are read.
 * Reads at most `limit` entries per stream when nothing is filtered out.
 */
async function mergeInOrder(
  streams: Stream[],
  limit: number,
  resolve: (ids: readonly string[]) => Promise<Map<string, Image>>,
  keep: (image: Image, shared: MemberStatus | undefined) => boolean,
  forward: boolean,
): Promise<Image[]> {
  const page: Image[] = [];
  let exhausted = false;
  // Entries taken so far, in all and from each stream: a stream that runs dry is read again for
  // its share of what the page still needs (all of it for a stream that supplied everything,
  // about needs/k for one of k even shards), plus one.
  let taken = 0;
  const takenFrom = streams.map(() => 0);
  while (page.length < limit && !exhausted) {
    // Images in hand that the page keeps, and memberships whose images may land on it, in order.
    const round: Candidate[] = [];
    while (round.length < limit - page.length) {
      const needs = limit - page.length - round.length;
      const heads = await Promise.all(streams.map((s, i) => s.peek(taken === 0 ? needs : Math.min(needs, Math.ceil((needs * takenFrom[i]!) / taken) + 1))));
      let first: Candidate | undefined;
      for (const head of heads) if (head && (!first || (forward ? head.key < first.key : head.key > first.key))) first = head;
      if (!first) {
        exhausted = true;
        break;
      }
      const key = first.key;
      const same = heads.filter((h): h is Candidate => h !== undefined && h.key === key);
      await Promise.all(streams.map(async (s, i) => heads[i] && heads[i].key === key && s.next()));
      taken++;
      heads.forEach((h, i) => h && h.key === key && takenFrom[i]!++);
      const merged: Candidate = { key, id: first.id, image: same.find((c) => c.image)?.image, shared: same.find((c) => c.shared)?.shared };
      // An image in hand that the page would not keep takes no place in the round, so a
      // selective filter costs Queries, not one BatchGetItem per few entries.
      if (!merged.image || keep(merged.image, merged.shared)) round.push(merged);
    }
    const fetched = await resolve(round.filter((c) => !c.image).map((c) => c.id));
    for (const c of round) {
      const image = c.image ?? fetched.get(c.id);
      if (image && keep(image, c.shared)) page.push(image);
    }
  }
  return page;
}
