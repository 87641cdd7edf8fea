import type { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { BatchGetCommand, DynamoDBDocumentClient, QueryCommand } from '@aws-sdk/lib-dynamodb';
import { badRequest, type GlanceError } from '../domain/errors.js';
import type { Image } from '../domain/image.js';
import { compareImages, matchesListFilters, type ListQuery, type MatchFilter } from '../domain/list-query.js';
import { inGlanceList, type Lister } from '../domain/list-visibility.js';
import { MEMBER_STATUS_VALUES, type MemberStatus } from '../domain/member.js';
import type { ImageLists } from '../ports/image-lists.js';
import type { ListPage } from '../ports/image-repository.js';
import { imageKeyOf, listSortKeyOf, twinSortKeyOf } from './dynamo-image-repository.js';
import { imageFromItem } from './image-item.js';
import {
  AFTER_LIST_KEYS, deployedIndexes, IMAGE_LIST_PARTITION, IMAGE_SORT_KEY, INDEXES, isShardedIndex, LIST_SORT_KEY, listPartitionOf, listShardOf, MEMBER_SORT_PREFIX, NAME_INDEX_OF, NAME_SORT_KEY,
  nameKeyPrefix, nameSortKey, shardPartition, shardPartitions, sharedPartition, SIZE_SORT_KEY, SORT_TWIN_OF, STATUS_LIST_SORT_KEY, statusKeyPrefix, TABLE_KEYS, TAG_OVERFLOW_SORT_KEY,
  shareTagOverflowSortKey, shareTagSortKey, TAG_SORT_PREFIX, TAG_TWIN_OF, tagOverflowPartition, tagPartition, UPDATED_SORT_KEY, SELECTED_VISIBILITIES, VISIBILITY_SORT_KEY,
  visibilityPartition,
  type IndexKey, type TwinSortKey,
} from './table-design.js';

type Item = Record<string, unknown>;

export interface DynamoImageListsOptions {
  tableName: string;
  now?: () => Date;
  /**
   * A list no index serves (several sort keys, mixed directions) reads every visible image and
   * sorts them in the function; past this many entries read, or this many milliseconds, it
   * stops with a 400 that says how to narrow it, rather than run into the function's 10 s
   * timeout (a gateway 504). Defaults: UNINDEXED_LIST_MAX_ITEMS, UNINDEXED_LIST_MAX_MS.
   */
  unindexedListMaxItems?: number;
  unindexedListMaxMs?: number;
  /** The indexes the table has (deployedIndexes); default all of INDEXES. */
  indexes?: ReadonlySet<IndexKey>;
}

/** ~20 MB of items, about 20 Query pages of 1 MB: a second or two from DynamoDB, sorted in well under the 10 s a list function has. */
export const UNINDEXED_LIST_MAX_ITEMS = 20_000;
/** The list function's timeout is 10 s (infra/constructs/skyglass-function.ts): stop reading with 3 s to spare. */
export const UNINDEXED_LIST_MAX_MS = 7_000;

const LIVE = (image: Image) => image.status !== 'deleted' && image.status !== 'pending_delete';

/**
 * Glance's image lists over the table's list indexes (docs/table-design.md): the caller's own
 * images, the public/community images, the images shared with it and (for admins) every image,
 * each read in the page's order from the index (or twin) that holds it in that order, the
 * sharded ones shard by shard, and merged. Apart from the repository so that only the list
 * function bundles it.
 */
export class DynamoImageLists implements ImageLists {
  private readonly doc: DynamoDBDocumentClient;
  private readonly table: string;
  private readonly now: () => Date;
  private readonly unindexedMaxItems: number;
  private readonly unindexedMaxMs: number;
  private readonly indexes: ReadonlySet<IndexKey>;

  constructor(client: DynamoDBClient, options: DynamoImageListsOptions) {
    this.doc = DynamoDBDocumentClient.from(client, { marshallOptions: { removeUndefinedValues: true } });
    this.table = options.tableName;
    this.now = options.now ?? (() => new Date());
    this.unindexedMaxItems = options.unindexedListMaxItems ?? UNINDEXED_LIST_MAX_ITEMS;
    this.unindexedMaxMs = options.unindexedListMaxMs ?? UNINDEXED_LIST_MAX_MS;
    this.indexes = options.indexes ?? deployedIndexes();
  }

  async list(caller: Lister, query: ListQuery, marker: Image | undefined): Promise<ListPage> {
    if (query.limit === 0) return { images: [] };
    // An admin asking for status=pending_delete finds those images (to restore them); they stay
    // in the admin's index until the scrubber tombstones them.
    const pendingDelete = caller.isAdmin && asksFor(query, 'pending_delete');
    const keep = (image: Image, shared: MemberStatus | undefined) =>
      (LIVE(image) ? inGlanceList(caller, image, shared, query) : pendingDelete && image.status === 'pending_delete') &&
      matchesListFilters(image, query, { pendingDelete });
    const order = indexedOrder(query, this.indexes);
    const streams = this.streamsFor(caller, query, order, order ? marker : undefined);
    const resolve = (ids: readonly string[]) => this.batchGet(ids);
    if (order) {
      // A filter the index does not hold (a property, protected, a tag under another sort) costs
      // what it skips, however large the catalogue: past the same time bound as an unindexed
      // sort, stop with a 400 that says how to narrow it, before the function's timeout (a 500).
      const startedAt = this.now().getTime();
      const skipping = () => {
        if (this.now().getTime() - startedAt > this.unindexedMaxMs) throw tooCostlyToFilter();
      };
      return { images: await mergeInOrder(streams, query.limit, resolve, keep, order.forward, skipping) };
    }
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
      let keys: Item[] = ids.slice(i, i + 100).map(imageKeyOf);
      // Unprocessed keys (throttling) are asked for again: a page never silently drops an image.
      while (keys.length) {
        const out = await this.doc.send(new BatchGetCommand({ RequestItems: { [this.table]: { Keys: keys } } }));
        for (const item of out.Responses?.[this.table] ?? []) found.set(String(item.id), imageFromItem(item));
        keys = (out.UnprocessedKeys?.[this.table]?.Keys as Item[] | undefined) ?? [];
      }
    }
    return found;
  }

  /**
   * Streams over the index partitions that can hold images this caller may see, in `order`
   * (none: any order, everything is read). A name filter reads each partition's name-sorted
   * twin, one stream per name, only that name's keys (in `<created_at>#<id>` order within it);
   * `sort=name` reads the name-sorted twins whole. Past the marker when there is one.
   */
  private streamsFor(caller: Lister, query: ListQuery, order: IndexedOrder | undefined, marker: Image | undefined): Stream[] {
    const names = namesAskedFor(query);
    const statuses = names === undefined ? statusesAskedFor(query) : undefined;
    // What each partition the caller may see is read as: a sharded one (`all`, byVisibility and
    // their twins) is one stream per shard; on a name twin, sharded by name, a name lookup reads
    // its name's shard only (one stream per name), `sort=name` every shard. A twin read for a
    // filter (names, statuses) is one stream per value, over that value's key prefix only.
    // A tag filter under Glance's default order or `created_at` (and no name or status lookup,
    // which their twins serve) reads the tag twins, and their overflow keys, where the images
    // with more than TAG_ITEMS_MAX tags are. Glance ANDs the tags, and each image read is checked
    // for all of them, so one tag's partition is enough: of several tags, each partition reads
    // the one with the fewest entries there (FewestOfStream).
    const byTagTwin = order?.key === LIST_SORT_KEY && names === undefined && statuses === undefined;
    const tags = byTagTwin ? [...new Set(query.filters.tags)] : [];
    // `visibility=private|shared` the same way: the images of that visibility have a visibility
    // item on the tag twin of their own and `all` partitions (public and community images are on
    // byVisibility's partitions already; the shares partition holds only shared images).
    const visibility = byTagTwin && query.visibility && SELECTED_VISIBILITIES.includes(query.visibility) ? query.visibility : undefined;
    // Each partition the caller may see is a group of streams: its shards (or one stream).
    const groups: StreamPlan[][] = [];
    for (const [index, value, shared] of this.partitionsFor(caller, query)) {
      const sharded = isShardedIndex(index);
      // The tag twin partitions that select the images asked for, each from the list partition:
      // one per tag; a shares partition's hold the caller's memberships' share-tag items, each
      // keyed by (member, tag), so a stream of it takes only the caller's (its sort key for that
      // tag). And the visibility items of the own and `all` partitions (a shares partition holds
      // only shared images; byVisibility no private or shared one).
      const me = caller.projectId ?? '';
      const selectors: { partition: (partition: string) => string; sharedKey?: string | undefined }[] = [
        ...tags.map((tag) => ({ partition: (partition: string) => tagPartition(partition, tag), sharedKey: shared && shareTagSortKey(me, tag) })),
        ...(visibility && !shared && index !== 'byVisibility' ? [{ partition: (partition: string) => visibilityPartition(partition, visibility) }] : []),
      ];
      const tagTwin = selectors.length === 0 ? undefined : present(TAG_TWIN_OF[index], this.indexes);
      if (tagTwin) {
        groups.push(
          (sharded ? shardPartitions(value) : [value]).map((partition): StreamPlan => {
            const each = selectors.map(
              (select): KeyedPlan => ({ kind: 'keyed', index: tagTwin, partition: select.partition(partition), sortAttr: LIST_SORT_KEY, prefix: undefined, shared, sharedKey: select.sharedKey }),
            );
            return each.length === 1 ? each[0]! : { kind: 'fewest of', plans: each };
          }),
        );
        if (tags.length > 0) {
          groups.push([{ kind: 'keyed', index: tagTwin, partition: tagOverflowPartition(value), sortAttr: LIST_SORT_KEY, prefix: undefined, shared, sharedKey: shared && shareTagOverflowSortKey(me) }]);
        }
        continue;
      }
      const twin = tags.length > 0 ? undefined : twinFor(index, order, names, statuses, this.indexes);
      if (!twin) {
        groups.push((sharded ? shardPartitions(value) : [value]).map((partition): StreamPlan => ({ kind: 'list', index, partition, shared })));
        continue;
      }
      for (const prefix of twin.prefixes ?? [undefined]) {
        // The name twins are sharded by name: one name's images are in its shard.
        const byNameShard = sharded && twin.sortAttr === NAME_SORT_KEY && prefix !== undefined;
        const partitions = !sharded ? [value] : byNameShard ? [shardPartition(value, listShardOf(prefix))] : shardPartitions(value);
        groups.push(partitions.map((partition): StreamPlan => ({ kind: 'keyed', index: twin.index, partition, sortAttr: twin.sortAttr, prefix, shared })));
      }
    }
    const plans = groups.flat();
    // Merging k streams, each stream's first Query reads its even share of the page plus one (to
    // see past it): about limit/k, so a page that comes mostly from one stream costs an extra
    // Query there, not a full page read from every other. A sharded partition's s shards share
    // one partition's part, limit/(g*s) of g partitions, as they hold one partition's images
    // spread evenly by hash: beside an own partition, 16 public shards read 2 entries each, not
    // 3 (the refill of a shard that runs dry is sized by what it supplied). Without an indexed
    // order everything is read anyway, in the largest chunks.
    const streamCount = Math.max(plans.length, 1);
    const firstLimit = (group: readonly StreamPlan[]) =>
      order ? Math.min(Math.ceil(Math.max(query.limit, 1) / Math.max(streamCount, groups.length * group.length)) + 1, 1000) : 1000;
    const forward = order?.forward ?? false;
    const markerListKey = marker ? listSortKeyOf(marker) : undefined;
    const markerKey = marker && order ? orderKeyOf(order.key, marker) : undefined;
    // A shares partition holds the caller's memberships (their copies of the images' keys):
    // its entries name images to fetch, and only the caller's member items are taken from it.
    // Its entries carry the membership's sort key (`MEMBER#<caller>`), or on the tag twin the
    // caller's share-tag item's (sharedKey).
    const sharedWith = (status: MemberStatus | undefined, sharedKey?: string) =>
      status && caller.projectId ? { sortKey: sharedKey ?? `${MEMBER_SORT_PREFIX}${caller.projectId}`, status } : undefined;
    const keyedStream = (plan: KeyedPlan, pageSize: number): CandidateStream | undefined => {
      const { prefix, sortAttr } = plan;
      let lo = prefix;
      let hi = prefix === undefined ? undefined : prefix + AFTER_LIST_KEYS;
      let exclude: string | undefined;
      if (order?.key === LIST_SORT_KEY && markerListKey && prefix !== undefined) {
        // Within one name (or status), by created_at: newest first (the default) or oldest first.
        exclude = prefix + markerListKey;
        if (forward) lo = exclude;
        else hi = exclude;
      } else if (order?.key === sortAttr && markerKey) {
        exclude = markerKey;
        if (forward) lo = lo === undefined || markerKey > lo ? markerKey : lo;
        else hi = hi === undefined || markerKey < hi ? markerKey : hi;
      }
      if (lo !== undefined && hi !== undefined && lo > hi) return undefined; // the marker is past this prefix
      const keysOnly = 'projection' in INDEXES[plan.index];
      const mergeKeyAttr = order?.key ?? LIST_SORT_KEY;
      return new CandidateStream({
        doc: this.doc, table: this.table, partitionValue: plan.partition, pageSize, shared: sharedWith(plan.shared, plan.sharedKey),
        index: INDEXES[plan.index], sortAttr, forward, lo, hi, exclude, mergeKeyAttr, keysOnly,
        // A twin read by `listSk` within one name or status: its keys are that prefix + `listSk`.
        sortKeyPrefix: mergeKeyAttr === sortAttr ? '' : mergeKeyAttr === LIST_SORT_KEY ? prefix : undefined,
      });
    };
    const streams: Stream[] = [];
    for (const group of groups) {
      const pageSize = firstLimit(group);
      for (const plan of group) {
        if (plan.kind === 'keyed') {
          const stream = keyedStream(plan, pageSize);
          if (stream) streams.push(stream);
          continue;
        }
        if (plan.kind === 'fewest of') {
          const alternatives = plan.plans.map((p) => keyedStream(p, pageSize)).filter((stream): stream is CandidateStream => stream !== undefined);
          if (alternatives.length > 0) streams.push(new FewestOfStream(alternatives, forward));
          continue;
        }
        const base = { doc: this.doc, table: this.table, partitionValue: plan.partition, pageSize, shared: sharedWith(plan.shared) };
        const bound = forward ? { lo: markerListKey } : { hi: markerListKey };
        streams.push(new CandidateStream({ ...base, index: INDEXES[plan.index], sortAttr: LIST_SORT_KEY, forward, ...bound, exclude: markerListKey, sortKeyPrefix: '' }));
      }
    }
    return streams;
  }

  /**
   * Which index partitions can hold images this caller may list, narrowed by the query (Glance's
   * union: own, public, community, shared with the caller in `member_status`; admin: all).
   * A shares partition holds memberships, not images: its images are fetched once they are
   * known to be on the page.
   */
  private partitionsFor(caller: Lister, query: ListQuery): Partition[] {
    const { visibility, owner } = query;
    // Glance lists either the hidden images or the others, never both: each image index is read
    // on the partitions of that state only (hiddenPartition), the caller's shares too.
    const part = (base: string) => listPartitionOf(base, query.filters.os_hidden);
    // `all` and byVisibility are sharded: streamsFor reads the shards each of these stands for.
    const visible = (v: 'public' | 'community'): Partition[] => [['byVisibility', part(v)]];
    if (caller.isAdmin) {
      if (owner) return [['byOwner', part(owner)]];
      if (visibility === 'public' || visibility === 'community') return visible(visibility);
      return [['all', part(IMAGE_LIST_PARTITION)]];
    }
    const me = caller.projectId;
    const own: Partition[] = me && (!owner || owner === me) ? [['byOwner', part(me)]] : [];
    // The caller's own images, public, community and shared ones included, are all in its own
    // partition, and images shared with it are another project's: owner=<caller> reads only that.
    if (me && owner === me) return own;
    const statuses = query.filters.member_status === 'all' ? MEMBER_STATUS_VALUES : [query.filters.member_status];
    // The images shared with the caller: its memberships' copies of their keys, on byOwner (and
    // its twins) under `<me>#shared#<status>`, on the hidden partition of it for os_hidden=true.
    const shared: Partition[] = me ? statuses.map((status): Partition => ['byOwner', part(sharedPartition(me, status)), status]) : [];
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
}

/** The 400 of a list too large to sort in the function: what was asked, and what is served by index instead. */
function tooCostlyToSort(query: ListQuery, maxItems: number): GlanceError {
  const sort = query.sort.map((k) => `${k.key}:${k.dir}`).join(',');
  return badRequest(
    `Listing with sort ${sort} reads every image you can see and sorts them here, and this list has more than ${maxItems} of them (or took too long to read). ` +
      'Narrow it with filters that select by index (name=, owner=, visibility=, status=), or sort by one key (created_at, name, updated_at, size or status) in one direction, which are served by index.',
  );
}

/** The 400 of an indexed list whose filters skipped images for longer than the bound: what is served by index instead. */
function tooCostlyToFilter(): GlanceError {
  return badRequest(
    "This list's filters are checked on each image read, and it read too many images that do not match for too long. " +
      'Narrow it with filters that select by index: name=, owner=, visibility=, status=, or tag= with the default sort or sort=created_at.',
  );
}

function asksFor(query: ListQuery, status: string): boolean {
  return valuesAskedFor(query.filters.status)?.includes(status) ?? false;
}

/**
 * One index partition a list reads: the index, its key (unsharded: `public`, `image`), and for
 * a shares partition (`<project>#shared#<status>`) the membership status it holds.
 */
type Partition = [IndexKey, string, MemberStatus?];

/**
 * One stream of a list: a partition (a shard's, for the sharded indexes) read by `listSk`, or a
 * twin's read by its key (one name's or status's keys, or all); `shared` for a shares partition.
 */
type StreamPlan =
  | { kind: 'list'; index: IndexKey; partition: string; shared: MemberStatus | undefined }
  | KeyedPlan
  | { kind: 'fewest of'; plans: KeyedPlan[] };

type KeyedPlan = {
  kind: 'keyed';
  index: IndexKey;
  partition: string;
  sortAttr: typeof NAME_SORT_KEY | TwinSortKey | typeof LIST_SORT_KEY;
  prefix: string | undefined;
  shared?: MemberStatus | undefined;
  /** On a shares partition's tag twin: the table sort key of the caller's entries there. */
  sharedKey?: string | undefined;
};

/** An order a list can read from indexes: the key its streams merge on, and the direction. */
interface IndexedOrder {
  key: typeof LIST_SORT_KEY | typeof NAME_SORT_KEY | TwinSortKey;
  forward: boolean;
}

/** Glance's sort keys served by a sort twin, and the twins' sort key attribute for each. */
const TWIN_SORT_KEY_OF: Partial<Record<string, TwinSortKey>> = { updated_at: UPDATED_SORT_KEY, size: SIZE_SORT_KEY, status: STATUS_LIST_SORT_KEY };

/** An image's key in an indexed order (the marker's bound; a shared image's place). */
function orderKeyOf(key: IndexedOrder['key'], image: Image): string {
  if (key === LIST_SORT_KEY) return listSortKeyOf(image);
  if (key === NAME_SORT_KEY) return nameSortKey(image.name, listSortKeyOf(image));
  return twinSortKeyOf(key, image);
}

/**
 * The twin of a list index a stream reads instead of the index itself, and the key prefixes it
 * reads (one stream each): the name twin for a name filter or `sort=name`; a sort twin for its
 * sort; the status twin for a status filter under Glance's default order or `created_at` (or an
 * unindexed order: it narrows what is read to those statuses). Undefined: read the index.
 */
function twinFor(
  index: IndexKey,
  order: IndexedOrder | undefined,
  names: readonly string[] | undefined,
  statuses: readonly string[] | undefined,
  indexes: ReadonlySet<IndexKey>,
): { index: IndexKey; sortAttr: typeof NAME_SORT_KEY | TwinSortKey; prefixes: string[] | undefined } | undefined {
  if (names !== undefined || order?.key === NAME_SORT_KEY) {
    const twin = present(NAME_INDEX_OF[index], indexes);
    return twin && { index: twin, sortAttr: NAME_SORT_KEY, prefixes: names?.map(nameKeyPrefix) };
  }
  if (order && order.key !== LIST_SORT_KEY) {
    const twin = present(SORT_TWIN_OF[order.key][index], indexes);
    const prefixes = order.key === STATUS_LIST_SORT_KEY ? statuses?.map(statusKeyPrefix) : undefined;
    return twin && { index: twin, sortAttr: order.key, prefixes };
  }
  if (statuses === undefined) return undefined;
  const twin = present(SORT_TWIN_OF[STATUS_LIST_SORT_KEY][index], indexes);
  return twin && { index: twin, sortAttr: STATUS_LIST_SORT_KEY, prefixes: statuses.map(statusKeyPrefix) };
}

/**
 * Which indexed order serves the query's sort: Glance's default (`created_at desc, id desc`:
 * `<created_at>#<id>` descending), its reverse (`sort=created_at:asc`: `created_at asc, id asc`,
 * the same key ascending), or `name`, `updated_at`, `size` or `status` with their tie-breakers
 * in the same direction (`sort=size:asc`, `sort_key=status`, ...: that key's twin, either way).
 * Undefined for any other.
 */
/** A twin the table has, or undefined (not deployed yet: the index itself is read instead). */
function present(twin: IndexKey | undefined, indexes: ReadonlySet<IndexKey>): IndexKey | undefined {
  return twin !== undefined && indexes.has(twin) ? twin : undefined;
}

/** Whether every twin of an order's family (own, public, admin) is deployed, so the order can be read from them. */
const hasAll = (twins: Partial<Record<IndexKey, IndexKey>>, indexes: ReadonlySet<IndexKey>) => Object.values(twins).every((t) => indexes.has(t));

function indexedOrder(query: ListQuery, indexes: ReadonlySet<IndexKey>): IndexedOrder | undefined {
  if (query.isDefaultSort) return { key: LIST_SORT_KEY, forward: false };
  const [first, second, third] = query.sort;
  if (query.sort.length === 2 && first?.key === 'created_at' && second?.key === 'id' && first.dir === 'asc' && second.dir === 'asc') {
    return { key: LIST_SORT_KEY, forward: true };
  }
  if (query.sort.length !== 3 || second?.key !== 'created_at' || third?.key !== 'id' || first?.dir !== second.dir || second.dir !== third.dir) return undefined;
  // Until its twins are all deployed, an order is sorted in the function (bounded), as unindexed ones are.
  if (first.key === 'name') return hasAll(NAME_INDEX_OF, indexes) ? { key: NAME_SORT_KEY, forward: first.dir === 'asc' } : undefined;
  const twin = TWIN_SORT_KEY_OF[first.key];
  // A name lookup sorted otherwise reads its names' images whole (few) and sorts them here.
  if (twin && namesAskedFor(query) === undefined && hasAll(SORT_TWIN_OF[twin], indexes)) return { key: twin, forward: first.dir === 'asc' };
  return undefined;
}

/** The statuses a `status=` / `status=in:` filter asks for, each once; undefined without one. */
function statusesAskedFor(query: ListQuery): string[] | undefined {
  return valuesAskedFor(query.filters.status);
}

/** The names a `name=` / `name=in:` filter asks for, each once; undefined without one. */
function namesAskedFor(query: ListQuery): string[] | undefined {
  return valuesAskedFor(query.filters.name);
}

/** The values an equality or `in:` filter asks for, each once; undefined without the filter. */
function valuesAskedFor(filter: MatchFilter | null): string[] | undefined {
  if (!filter) return undefined;
  return filter.op === 'eq' ? [filter.value] : [...new Set(filter.values)];
}

/**
 * One entry of a list index, in the stream's order: an image (image indexes) or a membership
 * of the caller (a shares partition), which names its image and sorts where the image does but holds no image.
 */
interface Candidate {
  /** What the merge orders on: `<created_at>#<id>` or the name key. */
  key: string;
  id: string;
  image?: Image;
  /** The caller's membership status of the image, for entries from a shares partition. */
  shared?: MemberStatus;
}

/**
 * What a stream can say of its next entry without reading: the entry (`head`); that it has none
 * up to and including the merge key `after` (a read bounded there found no more); that it has
 * not been read yet (`unread`); or that it is read whole and every entry taken (`done`).
 */
type StreamHead = { head: Candidate } | { after: string } | 'unread' | 'done';

interface Stream {
  state(): StreamHead;
  /** The merge keys of the entries read and not yet taken, in order. */
  bufferedKeys(): readonly string[];
  /**
   * Reads on. `needs`: how many entries the page still wants from this stream; `thinning`: the
   * page has been skipping entries it read (a filter the index does not hold), so read ahead
   * more; `bound`: a merge key past which nothing read could land on the page (the merge knows
   * enough entries before it), so the read stops there.
   */
  fill(needs: number, thinning: boolean, bound: string | undefined): Promise<void>;
  /** Drops the head entry. */
  take(): void;
  /** The next entry, reading on as needed: for reading the stream whole. */
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
  /** Set for a shares partition: its entries are the caller's memberships in this status, the items of table sort key `sortKey`. */
  shared: { sortKey: string; status: MemberStatus } | undefined;
  /** The item attribute candidates merge on (the sort key unless told). */
  mergeKeyAttr?: string;
  /**
   * How a merge key becomes this index's sort key: the index sort key is the merge key after
   * this prefix (`''` when they are the same attribute; a name's or status's key prefix on a
   * twin read by `listSk`). Undefined: no merge key can bound a read of it.
   */
  sortKeyPrefix?: string | undefined;
  /** The index projects only the id and keys (a sort twin): its images are fetched by id. */
  keysOnly?: boolean;
}

/** Pages one index partition in key order (descending unless `forward`), `pageSize` items per Query. */
class CandidateStream implements Stream {
  private buffer: Candidate[] = [];
  private startKey: Item | undefined;
  private done = false;
  /** Every entry up to and including this merge key has been read (a bounded read ran out there). */
  private after: string | undefined;

  constructor(private readonly o: CandidateStreamOptions) {}

  state(): StreamHead {
    if (this.buffer.length > 0) return { head: this.buffer[0]! };
    if (this.done) return 'done';
    // Read on past what was read: its next entry comes after the last one (or the bound it ran out at).
    if (this.after !== undefined) return { after: this.after };
    return this.lastRead !== undefined ? { after: this.lastRead } : 'unread';
  }

  bufferedKeys(): readonly string[] {
    return this.buffer.map((c) => c.key);
  }

  /**
   * The first Query reads `pageSize` entries; the second only as many as the page still `needs`
   * from this stream (the merge estimates its share from what it supplied so far), so a page
   * drawn mostly from one partition does not read whole chunks it will not use, nor do even
   * shards read the whole rest of the page each; a partition read again after that is one a
   * filter is thinning, and each further Query reads twice as many, so a selective filter costs
   * a few large Queries rather than many small ones.
   */
  async fill(needs: number, thinning: boolean, bound: string | undefined): Promise<void> {
    // Doubling is for a stream a filter is thinning: a partition that merely supplies most of
    // the page reads what the page still needs (a deep page read 17, then 34 entries for 5).
    const limit = this.fetches === 0 ? this.o.pageSize : this.fetches === 1 || !thinning ? needs : Math.max(needs, this.lastLimit * 2);
    await this.fetch(Math.min(Math.max(limit, 1), 1000), bound);
  }

  take(): void {
    this.buffer.shift();
  }

  async next(): Promise<Candidate | undefined> {
    while (this.buffer.length === 0 && !this.done) await this.fetch(1000, undefined);
    return this.buffer.shift();
  }

  /** Every entry of the range has been read (and those not yet taken are buffered). */
  readWhole(): boolean {
    return this.done;
  }

  buffered(): number {
    return this.buffer.length;
  }

  /** The key of the last entry read and not yet taken: how far along the order the reads have come. */
  reach(): string | undefined {
    return this.buffer[this.buffer.length - 1]?.key;
  }

  private fetches = 0;
  private lastLimit = 0;
  /** The merge key of the last entry read. */
  private lastRead: string | undefined;

  private async fetch(limit: number, bound: string | undefined): Promise<void> {
    const { forward, sortKeyPrefix } = this.o;
    let { lo, hi } = this.o;
    // A read that ran out at a bound goes on from there (the bound's key itself was read: an
    // entry with it is the same image as the one in the stream that set it, taken once).
    const resumeAt = this.startKey === undefined && this.after !== undefined && sortKeyPrefix !== undefined ? sortKeyPrefix + this.after : undefined;
    if (resumeAt !== undefined) {
      if (forward) lo = lo === undefined || resumeAt > lo ? resumeAt : lo;
      else hi = hi === undefined || resumeAt < hi ? resumeAt : hi;
    }
    const boundKey = bound !== undefined && sortKeyPrefix !== undefined ? sortKeyPrefix + bound : undefined;
    const bounded = boundKey !== undefined && (forward ? hi === undefined || boundKey < hi : lo === undefined || boundKey > lo);
    if (bounded) {
      if (forward) hi = boundKey;
      else lo = boundKey;
    }
    if (lo !== undefined && hi !== undefined && lo > hi) {
      // Nothing of the range lies before the bound: known without a read.
      if (bounded) this.after = bound;
      else this.done = true;
      return;
    }
    this.fetches++;
    this.lastLimit = limit;
    const range = lo !== undefined && hi !== undefined ? ' AND #s BETWEEN :lo AND :hi' : lo !== undefined ? ' AND #s >= :lo' : hi !== undefined ? ' AND #s <= :hi' : '';
    const out = await this.o.doc.send(
      new QueryCommand({
        TableName: this.o.table,
        IndexName: this.o.index.name,
        KeyConditionExpression: `#p = :p${range}`,
        ExpressionAttributeNames: { '#p': this.o.index.partitionKey, ...(range ? { '#s': this.o.sortAttr } : {}) },
        ExpressionAttributeValues: { ':p': this.o.partitionValue, ...(lo !== undefined ? { ':lo': lo } : {}), ...(hi !== undefined ? { ':hi': hi } : {}) },
        ScanIndexForward: forward,
        Limit: limit,
        ExclusiveStartKey: this.startKey,
      }),
    );
    const mergeKey = this.o.mergeKeyAttr ?? this.o.sortAttr;
    for (const item of out.Items ?? []) {
      const key = String(item[mergeKey]);
      this.lastRead = key;
      if (this.o.exclude !== undefined && item[this.o.sortAttr] === this.o.exclude) continue;
      if (key === this.after) continue; // read already, before the bound it ran out at
      // byOwner's partitions hold images and, under `<project>#shared#<status>`, memberships: a
      // project id ending so shares a key with another's shares. Each stream takes only what it
      // reads for (table keys are in every projection), so such a collision costs reads only.
      const sk = String(item[TABLE_KEYS.sortKey]);
      if (this.o.shared) {
        // The partition names the status (the sort twins project no `status`): `<project>#shared#<status>` holds no other.
        if (sk === this.o.shared.sortKey) this.buffer.push({ key, id: String(item.id), shared: this.o.shared.status });
      } else if (sk !== IMAGE_SORT_KEY && !sk.startsWith(TAG_SORT_PREFIX) && sk !== TAG_OVERFLOW_SORT_KEY && sk !== VISIBILITY_SORT_KEY) continue;
      else if (this.o.keysOnly) this.buffer.push({ key, id: String(item.id) });
      else this.buffer.push({ key, id: String(item.id), image: imageFromItem(item) });
    }
    this.startKey = out.LastEvaluatedKey;
    if (out.LastEvaluatedKey) this.after = undefined;
    else if (bounded) this.after = bound;
    else this.done = true;
  }
}

/**
 * One partition of a list with several tags (Glance ANDs them): any one tag's stream finds every
 * image that has them all, since each image read is checked for the others. The first read asks
 * every tag's stream for its first chunk (the same number of entries each), side by side, and
 * the rarest tag there is read from then on: one read whole already (the fewest entries of
 * those), or else the one whose chunk reaches furthest along the order, as the sparsest tag's
 * entries are the furthest apart. So `tag=common&tag=rare` costs about the rare tag's entries
 * plus one chunk of each other tag per partition, not every image with the common one.
 */
class FewestOfStream implements Stream {
  private chosen: CandidateStream | undefined;

  constructor(
    private readonly alternatives: readonly CandidateStream[],
    private readonly forward: boolean,
  ) {}

  state(): StreamHead {
    return this.chosen ? this.chosen.state() : 'unread';
  }

  bufferedKeys(): readonly string[] {
    return this.chosen ? this.chosen.bufferedKeys() : [];
  }

  async fill(needs: number, thinning: boolean, bound: string | undefined): Promise<void> {
    if (this.chosen) return this.chosen.fill(needs, thinning, bound);
    await Promise.all(this.alternatives.map((s) => s.fill(needs, thinning, undefined)));
    const whole = this.alternatives.filter((s) => s.readWhole());
    if (whole.length > 0) this.chosen = whole.reduce((a, b) => (b.buffered() < a.buffered() ? b : a));
    else {
      const further = (a: string, b: string) => (this.forward ? a > b : a < b);
      this.chosen = this.alternatives.reduce((a, b) => {
        const [ra, rb] = [a.reach(), b.reach()];
        return rb !== undefined && (ra === undefined || further(rb, ra)) ? b : a;
      });
    }
  }

  take(): void {
    this.chosen?.take();
  }

  async next(): Promise<Candidate | undefined> {
    if (!this.chosen) await this.fill(1000, false, undefined);
    return this.chosen!.next();
  }
}

/**
 * What a stream that ran dry is read again for: its share of what the page still `needs`, from
 * what it supplied so far (`from` of the `taken` entries), plus one to see past it; but no more
 * than it has supplied or half of what is left, whichever is more. A stream that supplied the
 * first few entries of a page and then stops (a run of one name in one name shard, at the head of
 * `sort=name:desc`) over-reads at most half the rest; one that supplies the whole page is read
 * again once or twice.
 */
function shareOf(needs: number, from: number, taken: number): number {
  return Math.min(needs, Math.ceil((needs * from) / taken), Math.max(from, Math.ceil(needs / 2))) + 1;
}

/**
 * The key of the `needs`-th entry the streams hold read and not yet taken, in the merge's order
 * (an entry in two streams counted once), if they hold that many: a stream read on need not read
 * past it, since that many entries before it are in hand. Such a bounded read that runs out says
 * so (the stream has nothing more up to the bound), so it needs no entry beyond its share to
 * show where it stops: k streams read about the page, not the page plus one entry each.
 */
function needsThKey(streams: readonly Stream[], needs: number, before: (a: string, b: string) => boolean): string | undefined {
  const keys = [...new Set(streams.flatMap((s) => s.bufferedKeys()))];
  if (keys.length < needs) return undefined;
  keys.sort((a, b) => (before(a, b) ? -1 : before(b, a) ? 1 : 0));
  return keys[needs - 1];
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
  /** Called whenever the merge reads images it does not keep: throws once that has gone on too long. */
  skipping: () => void,
): Promise<Image[]> {
  const page: Image[] = [];
  const before = (a: string, b: string) => (forward ? a < b : a > b);
  // A sort twin's entry moves when its image changes, and each index catches up on its own: an
  // image may, for a moment, sit at two places in two streams. It is shown once.
  const onPage = new Set<string>();
  let exhausted = false;
  // Entries taken so far, in all and from each stream: a stream that runs dry is read again for
  // its share of what the page still needs (all of it for a stream that supplied everything,
  // about needs/k for one of k even shards), plus one.
  let taken = 0;
  const takenFrom = streams.map(() => 0);
  // Candidates to fetch in the next round beyond what the page still needs: none at first; after
  // a round whose fetched images the page mostly did not keep (a filter the index does not hold,
  // on a twin's keys), twice that round, up to a BatchGetItem's 100, so a selective filter costs
  // a few large fetches rather than one per entry.
  let widen = 0;
  // Whether the page has skipped any entry it read: then streams read again read ahead more.
  let thinned = false;
  while (page.length < limit && !exhausted) {
    // Images in hand that the page keeps, and memberships whose images may land on it, in order.
    const round: Candidate[] = [];
    const want = Math.max(limit - page.length, widen);
    while (round.length < want) {
      const needs = want - round.length;
      const states = streams.map((s) => s.state());
      const heads = states.map((state) => (typeof state === 'object' && 'head' in state ? state.head : undefined));
      let first: Candidate | undefined;
      for (const head of heads) if (head && (!first || before(head.key, first.key))) first = head;
      // A stream not read yet, or read up to a key before the first entry in hand, may hold
      // entries before it: read those on (side by side) before taking anything.
      const blocked = streams.flatMap((stream, i) => {
        const state = states[i]!;
        return state === 'unread' || (typeof state === 'object' && 'after' in state && (!first || before(state.after, first.key))) ? [{ stream, i }] : [];
      });
      if (blocked.length > 0) {
        const bound = thinned ? undefined : needsThKey(streams, needs, before);
        await Promise.all(blocked.map(({ stream, i }) => stream.fill(taken === 0 ? needs : shareOf(needs, takenFrom[i]!, taken), thinned, bound)));
        continue;
      }
      if (!first) {
        exhausted = true;
        break;
      }
      const key = first.key;
      const same = heads.filter((h): h is Candidate => h !== undefined && h.key === key);
      streams.forEach((s, i) => heads[i]?.key === key && s.take());
      taken++;
      heads.forEach((h, i) => h && h.key === key && takenFrom[i]!++);
      const merged: Candidate = { key, id: first.id, image: same.find((c) => c.image)?.image, shared: same.find((c) => c.shared)?.shared };
      // An image in hand that the page would not keep takes no place in the round, so a
      // selective filter costs Queries, not one BatchGetItem per few entries.
      if (!merged.image || keep(merged.image, merged.shared)) round.push(merged);
      else {
        thinned = true;
        skipping();
      }
    }
    const toFetch = round.filter((c) => !c.image);
    const fetched = await resolve(toFetch.map((c) => c.id));
    let keptOfFetched = 0;
    for (const c of round) {
      const image = c.image ?? fetched.get(c.id);
      if (image && !onPage.has(image.id) && keep(image, c.shared)) {
        if (!c.image) keptOfFetched++;
        onPage.add(image.id);
        page.push(image);
      }
    }
    if (keptOfFetched < toFetch.length) {
      thinned = true;
      skipping();
    }
    widen = toFetch.length > 0 && keptOfFetched * 2 < toFetch.length ? Math.min(Math.max(toFetch.length, 1) * 2, 100) : 0;
  }
  // A widened round may bring more than the page holds: the rest is the next page's, found again from its marker.
  return page.slice(0, limit);
}
