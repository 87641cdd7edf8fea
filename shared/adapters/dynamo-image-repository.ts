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
import { glanceTimestamp, isUuid, type Image } from '../domain/image.js';
import { usageDeltas } from '../domain/quota.js';
import { compareImages, matchesListFilters, type ListQuery } from '../domain/list-query.js';
import { overLimits, QuotaExceededError, QUOTA_RESOURCES, limitInUnits, type Limits, type ProjectDelta, type Usage } from '../domain/quota.js';
import { sourcesOf, type ImageStatus } from '../domain/status.js';
import { IMAGE_EVENT_TYPES, type ImageEvent, type ImageEventType } from '../ports/events.js';
import { ConcurrentUpdateError, DuplicateImageError, type ImageRepository, type ListPage, type StatusQuery } from '../ports/image-repository.js';
import { imageFromItem } from './image-item.js';
import { memberOutboxOf } from './dynamo-member-repository.js';
import { storedUsageOf, usageIndexAttributes, usageKey } from './dynamo-usage-repository.js';
import { IMAGE_SORT_KEY, imagePartition, MEMBER_SORT_PREFIX, memberIndexPartition, INDEXES, inStatusIndex, LIST_SORT_KEY, OUTBOX_ATTRIBUTE, statusSortKey, TABLE_KEYS, TTL_ATTRIBUTE } from './table-design.js';

type Item = Record<string, unknown>;
type PutInput = PutCommandInput;

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
const ALL_PK = 'image';
const NO_OWNER = '-';
const LIVE = (image: Image) => image.status !== 'deleted' && image.status !== 'pending_delete';

/**
 * Images in one DynamoDB table (docs/table-design.md). Each image is one item keyed
 * `IMAGE#<id>`; three sparse GSIs sorted by `<created_at>#<id>` serve listing by Query:
 * the caller's own images, the public/community images, and (for admins) every image; a
 * fourth, by status and last change, serves the sweepers.
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

  async save(next: Image, previous: Image, events: readonly ImageEventType[] = []): Promise<void> {
    if (next.version !== previous.version + 1) throw new Error('save: next.version must be previous.version + 1');
    // The status table decides which stored statuses this write may replace; the version pins
    // the exact item that was read, so a concurrent writer makes this write fail, never mix.
    const allowed = next.status === previous.status ? [previous.status] : sourcesOf(next.status);
    const values: Item = { ':v': previous.version };
    allowed.forEach((s, i) => (values[`:s${i}`] = s));
    await this.write(
      {
        TableName: this.table,
        Item: this.toItem(next, events),
        ConditionExpression: `#version = :v AND #status IN (${allowed.map((_, i) => `:s${i}`).join(', ')})`,
        ExpressionAttributeNames: { '#version': 'version', '#status': 'status' },
        ExpressionAttributeValues: values,
        ReturnValuesOnConditionCheckFailure: 'ALL_OLD',
      },
      usageDeltas(previous, next),
      (old) => new ConcurrentUpdateError(old ? imageFromItem(old) : undefined),
    );
  }

  /**
   * One conditional PutItem of an image; a write that changes quota usage is instead one
   * transaction with the owners' usage counters, each counter that grows conditioned on staying
   * within its limit, so concurrent writes can never take a project over (and a refused write
   * writes nothing). Transactions that collide on a counter are cancelled by DynamoDB without
   * effect, and tried again.
   */
  private async write(put: PutInput, deltas: ProjectDelta[], imageRefused: (old: Item | undefined) => Error): Promise<void> {
    if (deltas.length === 0) {
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
        await this.doc.send(new TransactWriteCommand({ TransactItems: [{ Put: put }, ...updates.map((u) => ({ Update: u.update }))] }));
        return;
      } catch (error) {
        if (!(error instanceof TransactionCanceledException)) throw error;
        const reasons = error.CancellationReasons ?? [];
        if (reasons[0]?.Code === 'ConditionalCheckFailed') throw imageRefused(reasons[0].Item ? unmarshallLoose(reasons[0].Item) : undefined);
        const refused = reasons.findIndex((r, i) => i > 0 && r.Code === 'ConditionalCheckFailed');
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
    const streams = this.streamsFor(caller, query, query.isDefaultSort && marker ? sortKeyOf(marker) : undefined);
    const resolve = (ids: readonly string[]) => this.batchGet(ids);
    if (query.isDefaultSort) return { images: await mergeNewestFirst(streams, query.limit, resolve, keep) };
    // Any other order has no index behind it: read every visible candidate, sort in memory.
    const all = new Map<string, Image>();
    for (const stream of streams) {
      const candidates: Candidate[] = [];
      for (let c = await stream.next(); c; c = await stream.next()) candidates.push(c);
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
    // through every live image on `all`, letting DynamoDB drop the other statuses.
    const values: Item = { ':p': ALL_PK };
    others.forEach((s, i) => (values[`:s${i}`] = s));
    if (cutoff) values[':cutoff'] = cutoff;
    yield* this.pages({
      TableName: this.table,
      IndexName: INDEXES.all.name,
      KeyConditionExpression: '#p = :p',
      FilterExpression: `#status IN (${others.map((_, i) => `:s${i}`).join(', ')})${cutoff ? ' AND #updated <= :cutoff' : ''}`,
      ExpressionAttributeNames: { '#p': INDEXES.all.partitionKey, '#status': 'status', ...(cutoff ? { '#updated': 'updated_at' } : {}) },
      ExpressionAttributeValues: values,
    });
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

  /** Streams over the index partitions that can hold images this caller may see. */
  private streamsFor(caller: Lister, query: ListQuery, before: string | undefined): CandidateStream[] {
    const partitions = this.partitionsFor(caller, query);
    // Merging k partitions newest first, each is read in chunks of about limit/k: a page that
    // comes mostly from one partition costs an extra Query there, not a full page read from
    // every other. Other sort orders read everything anyway, in the largest chunks.
    const pageSize = query.isDefaultSort ? Math.min(Math.ceil(Math.max(query.limit, 1) / partitions.length) + 1, 1000) : 1000;
    return partitions.map(
      ([index, value, shared]) => new CandidateStream(this.doc, this.table, INDEXES[index].name, INDEXES[index].partitionKey, value, before, pageSize, shared),
    );
  }

  /**
   * Which index partitions can hold images this caller may list, narrowed by the query (Glance's
   * union: own, public, community, shared with the caller in `member_status`; admin: all).
   * A byMember partition holds memberships, not images: its images are fetched once they are
   * known to be on the page.
   */
  private partitionsFor(caller: Lister, query: ListQuery): Partition[] {
    const { visibility, owner } = query;
    if (caller.isAdmin) {
      if (owner) return [['byOwner', owner]];
      if (visibility === 'public' || visibility === 'community') return [['byVisibility', visibility]];
      return [['all', ALL_PK]];
    }
    const me = caller.projectId;
    const own: Partition[] = me && (!owner || owner === me) ? [['byOwner', me]] : [];
    const statuses = query.filters.member_status === 'all' ? MEMBER_STATUS_VALUES : [query.filters.member_status];
    const shared: Partition[] = me ? statuses.map((status): Partition => ['byMember', memberIndexPartition(me, status), status]) : [];
    switch (visibility) {
      case 'public':
      case 'community':
        return [['byVisibility', visibility]];
      case 'private':
        return own;
      case 'shared':
        return [...own, ...shared];
      case 'all':
        return [...own, ['byVisibility', 'public'], ['byVisibility', 'community'], ...shared];
      default:
        return [...own, ['byVisibility', 'public'], ...shared];
    }
  }

  private toItem(image: Image, events: readonly ImageEventType[]): Item {
    const live = LIVE(image);
    // Custom properties are stored as one JSON string: their keys are client data (`__proto__`
    // included) and must never pass through object-building code as keys.
    const item: Item = { ...keyOf(image.id), ...image, properties: JSON.stringify(image.properties) };
    if (events.length) item[OUTBOX_ATTRIBUTE] = [...events];
    if (live || image.status === 'pending_delete') {
      item[LIST_SORT_KEY] = sortKeyOf(image);
      item[INDEXES.all.partitionKey] = ALL_PK;
    }
    if (live) {
      item[INDEXES.byOwner.partitionKey] = image.owner ?? NO_OWNER;
      if (image.visibility === 'public' || image.visibility === 'community') item[INDEXES.byVisibility.partitionKey] = image.visibility;
    }
    if (inStatusIndex(image.status)) {
      item[INDEXES.byStatus.partitionKey] = image.status;
      item[INDEXES.byStatus.sortKey] = statusSortKey(image.updated_at, image.id);
    }
    if (image.status === 'deleted') item[TTL_ATTRIBUTE] = Math.floor(this.now().getTime() / 1000) + this.tombstoneTtl;
    return item;
  }
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

function asksFor(query: ListQuery, status: string): boolean {
  const filter = query.filters.status;
  return filter !== null && (filter.op === 'eq' ? filter.value === status : filter.values.includes(status));
}

function keyOf(id: string): Item {
  return { [TABLE_KEYS.partitionKey]: imagePartition(id), [TABLE_KEYS.sortKey]: IMAGE_SK };
}

function sortKeyOf(image: Image): string {
  return `${image.created_at}#${image.id}`;
}

/**
 * The events an item's write recorded (its outbox), from a stream record's new image in
 * DynamoDB's wire format: what the relay publishes. Nothing for items without an outbox.
 * Image items carry image events, member items membership events.
 */
export function outboxOf(newImage: Record<string, unknown> | undefined): ImageEvent[] {
  if (!newImage) return [];
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

/** One index partition a list reads: the index, its key, and for byMember the membership status it holds. */
type Partition = [keyof typeof INDEXES, string, MemberStatus?];

/**
 * One entry of a list index, newest first: an image (image indexes) or a membership of the
 * caller (byMember), which names its image and sorts where the image does but holds no image.
 */
interface Candidate {
  key: string;
  id: string;
  image?: Image;
  /** The caller's membership status of the image, for entries from byMember. */
  shared?: MemberStatus;
}

/** Pages one index partition newest first, `pageSize` items per Query. */
class CandidateStream {
  private buffer: Candidate[] = [];
  private startKey: Item | undefined;
  private done = false;

  constructor(
    private readonly doc: DynamoDBDocumentClient,
    private readonly table: string,
    private readonly index: string,
    private readonly partitionAttr: string,
    private readonly partitionValue: string,
    private readonly before: string | undefined,
    private readonly pageSize: number,
    /** Set for byMember partitions: their items are memberships in this status. */
    private readonly shared: MemberStatus | undefined,
  ) {}

  /**
   * The next entry. The first Query reads `pageSize` entries; the second only as many as the
   * page still `needs` (the merge knows), so a page drawn mostly from one partition does not
   * read whole chunks it will not use; a partition read again after that is one a filter is
   * thinning, and each further Query reads twice as many, so a selective filter costs a few
   * large Queries rather than many small ones.
   */
  async peek(needs = this.pageSize): Promise<Candidate | undefined> {
    while (this.buffer.length === 0 && !this.done) {
      const limit = this.fetches === 0 ? this.pageSize : this.fetches === 1 ? needs : Math.max(needs, this.lastLimit * 2);
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
    const out = await this.doc.send(
      new QueryCommand({
        TableName: this.table,
        IndexName: this.index,
        KeyConditionExpression: this.before ? '#p = :p AND #s < :before' : '#p = :p',
        ExpressionAttributeNames: { '#p': this.partitionAttr, ...(this.before ? { '#s': LIST_SORT_KEY } : {}) },
        ExpressionAttributeValues: { ':p': this.partitionValue, ...(this.before ? { ':before': this.before } : {}) },
        ScanIndexForward: false,
        Limit: limit,
        ExclusiveStartKey: this.startKey,
      }),
    );
    for (const item of out.Items ?? []) {
      const key = String(item[LIST_SORT_KEY]);
      if (this.shared) this.buffer.push({ key, id: String(item.image_id), shared: this.shared });
      else this.buffer.push({ key, id: String(item.id), image: imageFromItem(item) });
    }
    this.startKey = out.LastEvaluatedKey;
    this.done = !out.LastEvaluatedKey;
  }
}

/**
 * k-way merge of partitions that are each newest first. The same image can sit in two
 * partitions (an own public image); equal heads are one image, taken once. Candidates are
 * taken a round at a time, as many as the page still needs (kept images, and memberships whose
 * images may be kept); the images of those memberships are fetched in one BatchGetItem, so
 * only images that can land on the page are read.
 * Reads at most `limit` entries per partition when nothing is filtered out.
 */
async function mergeNewestFirst(
  streams: CandidateStream[],
  limit: number,
  resolve: (ids: readonly string[]) => Promise<Map<string, Image>>,
  keep: (image: Image, shared: MemberStatus | undefined) => boolean,
): Promise<Image[]> {
  const page: Image[] = [];
  let exhausted = false;
  while (page.length < limit && !exhausted) {
    // Images in hand that the page keeps, and memberships whose images may land on it, in order.
    const round: Candidate[] = [];
    while (round.length < limit - page.length) {
      const needs = limit - page.length - round.length;
      const heads = await Promise.all(streams.map((s) => s.peek(needs)));
      let newest: Candidate | undefined;
      for (const head of heads) if (head && (!newest || head.key > newest.key)) newest = head;
      if (!newest) {
        exhausted = true;
        break;
      }
      const key = newest.key;
      const same = heads.filter((h): h is Candidate => h !== undefined && h.key === key);
      await Promise.all(streams.map(async (s, i) => heads[i] && heads[i].key === key && s.next()));
      const merged: Candidate = { key, id: newest.id, image: same.find((c) => c.image)?.image, shared: same.find((c) => c.shared)?.shared };
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
