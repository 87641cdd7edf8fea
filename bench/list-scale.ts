import { fork } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { BatchWriteCommand, DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { imageItem, tagItems } from '../shared/adapters/dynamo-image-repository.js';
import { dynamoDbCallStats, type DynamoDbCallSummary } from '../shared/adapters/dynamodb-call-stats.js';
import { INDEXES } from '../shared/adapters/table-design.js';
import type { Image } from '../shared/domain/image.js';
import { mintToken } from '../infra/local/dev-key.js';
import { check, heading, median, printTable, progress } from './report.js';

/**
 * Section 6, list-scale (issue #11): what each list query reads as the catalogue grows. One child
 * process per catalogue size runs its own local runtime, whose table is filled straight through
 * BatchWriteItem with the items the repository writes (imageItem): 1,000, 10,000 and 100,000
 * images, all there at once. Each child asks every query type through the API for its first page
 * and for a page 20 markers deep and counts DynamoDB calls and items read (the handler's client,
 * shared/adapters/dynamodb-call-stats.ts); then the parent times each page on every catalogue side
 * by side (measureListScale) and reports latency at the largest as a ratio to the smallest.
 * Then the write cost of an image change, from the items before and after (which index entries
 * each write adds, moves or removes).
 */
const SIZES = (process.env.LIST_SCALE_SIZES ?? '1000,10000,100000').split(',').map(Number);
const PAGE = 25;
const DEPTH = 20;
const REPEATS = 7;
/** The issue's bound on a page: at most 2x the page size plus a constant (the merge's lookahead: about 2 entries per stream). */
const MAX_ITEMS = 2 * PAGE + 40;
const MAX_LATENCY_RATIO = 1.5;
const MAX_NAME_LOOKUP_MS = 50;

const CALLER = 'scale-alpha';
const PROJECTS = [CALLER, 'scale-beta', 'scale-gamma'] as const;
/** 1 image in 100, all the caller's: a name lookup whose answer grows with the catalogue. */
const COMMON_NAME = 'cirros-0.6.2';
/** 5 public images, whatever the size: the lookup Nova, Terraform and `openstack image show` send. */
const PUBLIC_NAME = 'ubuntu-24.04';
const SHARED_WITH_CALLER = 50;
/** A tag on 3 of the caller's images, the catalogue's oldest (its first), whatever its size: `tag=` finds them. */
const RARE_TAG = 'gold';
const RARE_TAGGED = [4, 14, 24];
/** A tag on a tenth of the catalogue (every image of slot 1, the caller's) and on the rare ones: `tag=linux&tag=gold` asks for the rare ones with a common tag first. */
const COMMON_TAG = 'linux';
const commonlyTagged = (i: number) => i % 10 === 1 || RARE_TAGGED.includes(i);
/** A tag on 3 of the images shared with the caller (and on no other): `tag=` finds them from the memberships' share-tag items. */
const SHARED_TAG = 'silver';
const SHARED_TAGGED = [0, 20, 40];

interface Query {
  label: string;
  query: string;
  admin?: boolean;
  /** A name lookup: answered under MAX_NAME_LOOKUP_MS at the largest size. */
  lookup?: boolean;
}

const QUERIES: Query[] = [
  { label: 'default', query: '' },
  { label: `name= (5 public)`, query: `name=${PUBLIC_NAME}`, lookup: true },
  { label: `name= (1% of the caller's)`, query: `name=${COMMON_NAME}`, lookup: true },
  { label: 'name=in: (both)', query: `name=in:${PUBLIC_NAME},${COMMON_NAME}`, lookup: true },
  { label: 'sort=name:asc', query: 'sort=name:asc' },
  { label: 'sort=name:desc', query: 'sort=name:desc' },
  { label: 'sort=created_at:asc', query: 'sort=created_at:asc' },
  { label: 'visibility=public', query: 'visibility=public' },
  { label: 'admin default', query: '', admin: true },
  { label: 'admin sort=name:asc', query: 'sort=name:asc', admin: true },
  // The sort twins (projection: id and listSk; a page's images come in one BatchGetItem).
  { label: 'sort=updated_at:desc', query: 'sort=updated_at:desc' },
  { label: 'sort=size:asc', query: 'sort=size:asc' },
  { label: 'sort_key=status', query: 'sort_key=status' },
  { label: `status=queued (2% of the caller's)`, query: 'status=queued' },
  { label: 'status=active', query: 'status=active' },
  { label: 'owner= sort=size:desc', query: `owner=${CALLER}&sort=size:desc` },
  { label: 'visibility=public sort=updated_at:asc', query: 'visibility=public&sort=updated_at:asc' },
  { label: 'admin sort=size:desc', query: 'sort=size:desc', admin: true },
  { label: 'admin status=queued', query: 'status=queued', admin: true },
  // Hidden images (10% of the catalogue, a quarter of the caller's, some public) sit on
  // partitions of their own: the default list above never reads them, os_hidden=true only them.
  { label: `os_hidden=true (10% of the catalogue)`, query: 'os_hidden=true' },
  { label: 'os_hidden=true sort=name:asc', query: 'os_hidden=true&sort=name:asc' },
  { label: 'admin os_hidden=true', query: 'os_hidden=true', admin: true },
  // A rare tag: 3 of the caller's images, the oldest of the catalogue, whatever its size.
  { label: `tag= (${RARE_TAGGED.length} images)`, query: `tag=${RARE_TAG}` },
  // Glance ANDs repeated tags: the rare one is read (whichever comes first), the other checked on each image.
  { label: `tag= common & rare (${RARE_TAGGED.length} images)`, query: `tag=${COMMON_TAG}&tag=${RARE_TAG}` },
  // A tag on 3 of the caller's 50 shares only: read from the shares partition's tag twin.
  { label: `tag= on shares (${SHARED_TAGGED.length} images)`, query: `tag=${SHARED_TAG}` },
  // `openstack image list --private / --shared`: the caller's own images are nearly all private,
  // a few shared (0.5% of the catalogue), behind which come the 50 shared with it.
  { label: 'visibility=private', query: 'visibility=private' },
  { label: `visibility=shared (few own, ${SHARED_WITH_CALLER} shares)`, query: 'visibility=shared' },
  { label: 'admin visibility=shared', query: 'visibility=shared', admin: true },
];

/** LIST_SCALE_QUERIES=<text>[,<text>...]: only the queries whose label contains one of them (to look into a few). */
const ONLY_QUERIES = process.env.LIST_SCALE_QUERIES?.split(',').filter(Boolean);
if (ONLY_QUERIES) QUERIES.splice(0, QUERIES.length, ...QUERIES.filter((q) => ONLY_QUERIES.some((text) => q.label.includes(text))));

interface PageFigures {
  stats: DynamoDbCallSummary;
  returned: number;
  ms: number;
}

interface SizeFigures {
  size: number;
  seedSeconds: number;
  pages: Map<string, { first: PageFigures; deep: PageFigures | undefined }>;
}

interface WriteCost {
  write: string;
  tableItems: number;
  indexEntries: number;
  wcu: number;
  calls?: number;
  reportedCu?: number | undefined;
}

export interface ListScaleResult {
  sizes: SizeFigures[];
  writes: WriteCost[];
}

async function http(url: string, token: string, init: { method?: string; json?: unknown; body?: string; contentType?: string } = {}) {
  const headers: Record<string, string> = { 'X-Auth-Token': token };
  let body = init.body;
  if (init.json !== undefined) body = JSON.stringify(init.json);
  if (body !== undefined) headers['Content-Type'] = init.contentType ?? 'application/json';
  const res = await fetch(url, { method: init.method ?? 'GET', headers, body });
  const text = await res.text();
  return { status: res.status, body: text ? (JSON.parse(text) as Record<string, any>) : undefined };
}

/**
 * The catalogue is newer than the images made through the API (a day from now on): the shared
 * and the few public named ones sit behind it in the default order, as a caller's shares sit
 * among a large cloud's images, rather than fill the first pages.
 */
const BASE_TIME = Math.floor(Date.now() / 1000 + 86_400) * 1000;

/** Image i of the catalogue: 10% public, 40% the caller's (1 in 80 of them shared, the rest private), 30% beta's (shared, some community), 20% gamma's; three per created_at second. */
function catalogueImage(i: number): Image {
  const slot = i % 10;
  const at = new Date(BASE_TIME + Math.floor(i / 3) * 1000).toISOString().replace(/\.\d{3}Z$/, 'Z');
  const owner = slot === 0 ? PROJECTS[Math.floor(i / 10) % 3]! : slot <= 4 ? CALLER : slot <= 7 ? 'scale-beta' : 'scale-gamma';
  const visibility = slot === 0 ? 'public' : slot <= 4 ? (i % 200 === 3 ? 'shared' : 'private') : slot <= 7 ? (i % 50 === 5 ? 'community' : 'shared') : 'private';
  const name = slot === 1 && i % 100 === 1 ? COMMON_NAME : `scale-${i.toString().padStart(6, '0')}`;
  // 2% queued, all the caller's (no bytes yet: size NULL); the others of eleven sizes, updated up to ~17 minutes after they were made.
  const queued = i % 50 === 3;
  const size = queued ? null : (((i * 37) % 11) + 1) << 20;
  const updated = new Date(BASE_TIME + Math.floor(i / 3) * 1000 + ((i * 13) % 1000) * 1000).toISOString().replace(/\.\d{3}Z$/, 'Z');
  // 10% hidden: a quarter of the caller's images (slot 2) and a quarter of the public ones.
  const hidden = slot === 2 || (slot === 0 && i % 40 === 0);
  return {
    id: randomUUID(), name, status: queued ? 'queued' : 'active', visibility, protected: false, os_hidden: hidden, owner,
    checksum: queued ? null : 'c'.repeat(32), os_hash_algo: queued ? null : 'sha512', os_hash_value: queued ? null : 'h'.repeat(128), size, virtual_size: size,
    min_disk: 0, min_ram: 0, disk_format: 'qcow2', container_format: 'bare', tags: [...(commonlyTagged(i) ? [COMMON_TAG] : []), ...(RARE_TAGGED.includes(i) ? [RARE_TAG] : [])], created_at: at, updated_at: updated,
    properties: { os_distro: 'cirros' }, location: `images/${i}`, upload: null, failure: null, version: 3,
  } as Image;
}

/** Images [from, to) of the catalogue, 25 per BatchWriteItem, 8 in flight, unprocessed items sent again. */
async function grow(doc: DynamoDBDocumentClient, table: string, from: number, to: number): Promise<void> {
  let next = from;
  const worker = async () => {
    while (next < to) {
      const start = next;
      const end = (next = Math.min(next + 25, to));
      // Each image and its tag items (the repository writes them in one transaction).
      const items = Array.from({ length: end - start }, (_, k) => catalogueImage(start + k)).flatMap((image) => [imageItem(image, [], undefined), ...tagItems(image)]);
      for (let b = 0; b < items.length; b += 25) {
        let requests = items.slice(b, b + 25).map((Item) => ({ PutRequest: { Item } }));
        while (requests.length) {
          const out = await doc.send(new BatchWriteCommand({ RequestItems: { [table]: requests } }));
          requests = (out.UnprocessedItems?.[table] as typeof requests | undefined) ?? [];
        }
      }
      if (Math.floor(end / 10_000) > Math.floor(start / 10_000)) progress(`catalogue at ${end.toLocaleString('en-US')} images`);
    }
  };
  await Promise.all(Array.from({ length: 8 }, worker));
}

/** One request alone: what the handler's DynamoDB client did, and how long the answer took. */
async function once(url: string, token: string): Promise<PageFigures & { next: string | undefined }> {
  const stats = dynamoDbCallStats();
  stats.reset();
  const start = performance.now();
  const res = await http(url, token);
  const ms = performance.now() - start;
  if (res.status !== 200) throw new Error(`GET ${url}: ${res.status} ${JSON.stringify(res.body)}`);
  // The list function's calls only: the runtime's stream consumer (events, share copies) and
  // sweepers run in the same process on the same clients, catching up with the seeding.
  return { stats: stats.summary('listImages'), returned: res.body?.images.length ?? 0, ms, next: res.body?.next };
}

/**
 * An item's size as DynamoDB bills it: each attribute's name and value in UTF-8 bytes; a number
 * about one byte per two significant digits plus one; null and booleans 1; a list or map 3 plus
 * 1 per element (and a map's keys).
 */
function itemSize(item: Record<string, unknown>): number {
  const value = (v: unknown): number => {
    if (v === null || v === undefined || typeof v === 'boolean') return 1;
    if (typeof v === 'string') return Buffer.byteLength(v);
    if (typeof v === 'number') return Math.ceil(String(v).replace(/[.-]/g, '').replace(/^0+/, '').length / 2) + 1;
    if (Array.isArray(v)) return 3 + v.reduce((n: number, e) => n + value(e) + 1, 0);
    return 3 + Object.entries(v as object).reduce((n, [k, e]) => n + Buffer.byteLength(k) + value(e) + 1, 0);
  };
  return Object.entries(item).reduce((n, [k, v]) => n + Buffer.byteLength(k) + value(v), 0);
}

/** The modelled cost of replacing `before` with `after` (either absent): table item, index entries written, WCU (1 per KB per item or entry). */
function writeCost(write: string, before: Record<string, unknown> | undefined, after: Record<string, unknown> | undefined): WriteCost {
  const size = (item: Record<string, unknown> | undefined) => (item ? itemSize(item) : 0);
  const units = (item: Record<string, unknown> | undefined) => Math.max(1, Math.ceil(size(item) / 1024));
  let indexEntries = 0;
  let wcu = Math.max(units(before), units(after));
  for (const index of Object.values(INDEXES)) {
    const key = (item: Record<string, unknown> | undefined) =>
      item && item[index.partitionKey] !== undefined && item[index.sortKey] !== undefined ? `${String(item[index.partitionKey])}|${String(item[index.sortKey])}` : undefined;
    const was = key(before);
    const is = key(after);
    // An entry whose key changed is a delete and a put; one that stays is rewritten on a
    // projection of the whole item (ALL), but not on a sort twin's (id and listSk, which never change).
    const entry = (item: Record<string, unknown> | undefined) =>
      'projection' in index ? 1 : units(item);
    if (was !== undefined && (was !== is || !('projection' in index))) {
      indexEntries++;
      wcu += entry(was === is ? after : before);
    }
    if (is !== undefined && is !== was) {
      indexEntries++;
      wcu += entry(after);
    }
  }
  return { write, tableItems: 1, indexEntries, wcu };
}

/**
 * The same for the image's tag items (tagItems): each one put, changed or retired (a key-only
 * put with a TTL) is a table item of ~0.2 KB (1 WCU) and 1 WCU per tag twin entry it adds or
 * removes (2 when it moves). Added to the image's own cost.
 */
function withTagItems(cost: WriteCost, before: Image | undefined, after: Image | undefined): WriteCost {
  const tagKeys = (item: Record<string, unknown>) =>
    Object.values(INDEXES).filter((index) => index.name.endsWith('Tag')).flatMap((index) => (item[index.partitionKey] === undefined ? [] : [`${index.name}|${String(item[index.partitionKey])}|${String(item[index.sortKey])}`]));
  const was = new Map((before ? tagItems(before) : []).map((item) => [String(item.sk), item]));
  const is = new Map((after ? tagItems(after) : []).map((item) => [String(item.sk), item]));
  let { tableItems, indexEntries, wcu } = cost;
  for (const sk of new Set([...was.keys(), ...is.keys()])) {
    const a = was.get(sk);
    const b = is.get(sk);
    if (a && b && JSON.stringify(a) === JSON.stringify(b)) continue;
    tableItems++;
    wcu++;
    const from = new Set(a ? tagKeys(a) : []);
    const to = new Set(b ? tagKeys(b) : []);
    const moved = [...from].filter((k) => !to.has(k)).length + [...to].filter((k) => !from.has(k)).length;
    indexEntries += moved;
    wcu += moved;
  }
  return { ...cost, tableItems, indexEntries, wcu };
}

export function modelledWrites(): WriteCost[] {
  const image = { ...catalogueImage(1), status: 'queued', size: null, virtual_size: null, checksum: null, os_hash_value: null, location: null, version: 1 } as Image;
  const item = (i: Image) => imageItem(i, [], undefined);
  const publicImage = { ...image, id: randomUUID(), visibility: 'public' } as Image;
  // Every write moves updated_at on (as Glance's do), so each moves the image within the updated_at twins.
  const later = (i: Image, changes: Partial<Image>) =>
    ({ ...i, ...changes, updated_at: new Date(Date.parse(i.updated_at) + 60_000).toISOString().replace(/\.\d{3}Z$/, 'Z') }) as Image;
  const saving = later(image, { status: 'saving', location: 'images/x', version: 2 });
  const active = later(saving, { status: 'active', size: 1 << 20, virtual_size: 1 << 20, checksum: 'c'.repeat(32), os_hash_value: 'h'.repeat(128), version: 3 });
  const renamed = later(active, { name: 'renamed', version: 4 });
  const retagged = later(active, { properties: { ...active.properties, hw_disk_bus: 'virtio' }, version: 4 });
  const publicRenamed = later(publicImage, { name: 'renamed', version: 2 });
  const deactivated = later(active, { status: 'deactivated', version: 4 });
  const pendingDelete = later(active, { status: 'pending_delete', version: 4 });
  const deleted = later(pendingDelete, { status: 'deleted', version: 5 });
  const queuedDeleted = later(image, { status: 'deleted', version: 2 });
  // Three tags (a typical image's few): a create writes their items, a visibility change moves them.
  const tagged = later(active, { tags: ['a', 'b', 'c'], version: 4 });
  const taggedPublic = later(tagged, { visibility: 'public', version: 5 });
  const taggedHidden = later(tagged, { os_hidden: true, version: 5 });
  const taggedDeleted = later(tagged, { status: 'pending_delete', version: 5 });
  const tagCost = (write: string, before: Image | undefined, after: Image) => withTagItems(writeCost(write, before && item(before), item(after)), before, after);
  return [
    tagCost('create with 3 tags (private)', undefined, { ...image, tags: ['a', 'b', 'c'] } as Image),
    tagCost('add a tag (private, 3 -> 4 tags)', tagged, later(tagged, { tags: ['a', 'b', 'c', 'd'], version: 5 })),
    tagCost('remove a tag (private, 3 -> 2 tags)', tagged, later(tagged, { tags: ['a', 'b'], version: 5 })),
    tagCost('rename (private, 3 tags)', tagged, later(tagged, { name: 'renamed', version: 5 })),
    tagCost('publicize (3 tags)', tagged, taggedPublic),
    tagCost('hide: os_hidden=true (private, 3 tags)', tagged, taggedHidden),
    tagCost('delete: active -> pending_delete (3 tags)', tagged, taggedDeleted),
    tagCost('scrub: pending_delete -> deleted (3 tags)', taggedDeleted, later(taggedDeleted, { status: 'deleted', version: 6 })),
    writeCost('create (private)', undefined, item(image)),
    writeCost('create (public)', undefined, item(publicImage)),
    writeCost('update name (private)', item(active), item(renamed)),
    writeCost('update name (public)', item(publicImage), item(publicRenamed)),
    writeCost('update a property (private)', item(active), item(retagged)),
    writeCost('update size+status: queued -> saving', item(image), item(saving)),
    writeCost('update size+status: saving -> active', item(saving), item(active)),
    writeCost('update status: active -> deactivated', item(active), item(deactivated)),
    writeCost('delete: active -> pending_delete', item(active), item(pendingDelete)),
    writeCost('scrub: pending_delete -> deleted', item(pendingDelete), item(deleted)),
    writeCost('delete: queued -> deleted', item(image), item(queuedDeleted)),
  ];
}

/** Set in a child's environment: the catalogue size it holds (one local runtime per process). */
const CHILD_FLAG = 'SKYGLASS_BENCH_LIST_SCALE_SIZE';

/** What a child says once its catalogue is in place, and answers to the parent's timing requests. */
type ChildMessage =
  | { ready: { size: number; seedSeconds: number; pages: [string, { first: PageFigures; deep: PageFigures | undefined }][]; writes: WriteCost[] } }
  | { timed: number }
  | { error: string };
type ParentMessage = { time: { label: string; which: 'first' | 'deep' } } | { done: true };

/**
 * One child per catalogue size, each its own local runtime (DynamoDB Local in memory) seeded to
 * that size, so every size is there at once and latency is measured side by side: for each
 * query, REPEATS rounds, each round one request to each catalogue in turn (the order rotating),
 * so a change in the machine's load falls on every size alike rather than on whichever size was
 * being measured when it came. Counts (calls, items read) come from each child's own first request.
 */
export async function measureListScale(): Promise<ListScaleResult> {
  progress(`list-scale: ${SIZES.length} local runtimes, catalogues of ${SIZES.map((n) => n.toLocaleString('en-US')).join(' / ')} images, seeded side by side`);
  const children = SIZES.map((size) => {
    const child = fork(import.meta.filename, [], { env: { ...process.env, [CHILD_FLAG]: String(size), SKYGLASS_DYNAMODB_STATS: '1' }, stdio: ['ignore', 'ignore', 'inherit', 'ipc'] });
    const replies: ChildMessage[] = [];
    const waiting: ((m: ChildMessage) => void)[] = [];
    child.on('message', (m) => {
      const next = waiting.shift();
      if (next) next(m as ChildMessage);
      else replies.push(m as ChildMessage);
    });
    const exited = new Promise<string>((resolve) => child.on('exit', (code, signal) => resolve(signal ?? `exit ${code}`)));
    const reply = async (): Promise<ChildMessage> => {
      const m = replies.shift() ?? (await Promise.race([new Promise<ChildMessage>((resolve) => waiting.push(resolve)), exited.then((how): ChildMessage => ({ error: `the child for ${size} images ended (${how})` }))]));
      if ('error' in m) throw new Error(`list-scale child (${size} images): ${m.error}`);
      return m;
    };
    return { size, child, reply, exited };
  });
  try {
    const ready = await Promise.all(children.map(async (c) => {
      const m = await c.reply();
      if (!('ready' in m)) throw new Error('list-scale: a child answered out of turn');
      return m.ready;
    }));
    const sizes: SizeFigures[] = ready.map((r) => ({ size: r.size, seedSeconds: r.seedSeconds, pages: new Map(r.pages) }));
    progress('list-scale: timing every query on every catalogue, side by side');
    for (const q of QUERIES) {
      for (const which of ['first', 'deep'] as const) {
        const holding = children.map((c, i) => ({ c, figures: sizes[i]!.pages.get(q.label)?.[which] })).filter((h) => h.figures);
        const times = holding.map(() => [] as number[]);
        for (let round = 0; round < REPEATS; round++) {
          for (let k = 0; k < holding.length; k++) {
            const at = (k + round) % holding.length;
            const { c } = holding[at]!;
            c.child.send({ time: { label: q.label, which } } satisfies ParentMessage);
            const m = await c.reply();
            if (!('timed' in m)) throw new Error('list-scale: a child answered out of turn');
            times[at]!.push(m.timed);
          }
        }
        holding.forEach((h, i) => (h.figures!.ms = median(times[i]!)));
      }
    }
    return { sizes, writes: [...modelledWrites(), ...ready[0]!.writes] };
  } finally {
    for (const c of children) if (c.child.connected) c.child.send({ done: true } satisfies ParentMessage);
    await Promise.all(children.map((c) => Promise.race([c.exited, new Promise((r) => setTimeout(r, 30_000))])));
    for (const c of children) c.child.kill('SIGKILL');
  }
}

/** A child: one catalogue of `size` images behind its own local runtime, counted, then timed on request. */
async function serveCatalogue(size: number, send: (m: ChildMessage) => Promise<void>): Promise<void> {
  const { startLocalRuntime } = await import('../infra/local/server.js');
  const dataDir = mkdtempSync(join(tmpdir(), 'skyglass-bench-scale-'));
  const runtime = await startLocalRuntime({ port: 0, dataDir, inMemory: true });
  const client = new DynamoDBClient({ endpoint: runtime.dynamodbEndpoint, region: 'us-east-1', credentials: { accessKeyId: 'local', secretAccessKey: 'local' } });
  const doc = DynamoDBDocumentClient.from(client, { marshallOptions: { removeUndefinedValues: true } });
  try {
    const images = `${runtime.url}/v2/images`;
    const member = await mintToken(dataDir, { project: CALLER, roles: ['member', 'reader'] });
    const beta = await mintToken(dataDir, { project: 'scale-beta', roles: ['member', 'reader'] });
    const admin = await mintToken(dataDir, { project: 'scale-ops', roles: ['admin'] });

    // Through the API: the few public images of one name, and beta's images shared with the caller (accepted).
    for (let k = 0; k < 5; k++) {
      const res = await http(images, admin, { method: 'POST', json: { name: PUBLIC_NAME, visibility: 'public', disk_format: 'qcow2', container_format: 'bare' } });
      if (res.status !== 201) throw new Error(`create ${PUBLIC_NAME}: ${res.status}`);
    }
    for (let k = 0; k < SHARED_WITH_CALLER; k++) {
      const tags = SHARED_TAGGED.includes(k) ? [SHARED_TAG] : [];
      const id = (await http(images, beta, { method: 'POST', json: { name: `shared-${k}`, visibility: 'shared', tags } })).body?.id as string;
      if ((await http(`${images}/${id}/members`, beta, { method: 'POST', json: { member: CALLER } })).status !== 200) throw new Error('share');
      if ((await http(`${images}/${id}/members/${CALLER}`, member, { method: 'PUT', json: { status: 'accepted' } })).status !== 200) throw new Error('accept');
    }

    // The write cost through the API: calls, and the capacity DynamoDB Local reports.
    const measuredWrites: WriteCost[] = [];
    const stats = dynamoDbCallStats();
    const viaApi = async (write: string, operationId: string, url: string, token: string, init: Parameters<typeof http>[2], expected: number) => {
      stats.reset();
      const res = await http(url, token, init);
      if (res.status !== expected) throw new Error(`${write}: ${res.status} ${JSON.stringify(res.body)}`);
      const s = stats.summary(operationId);
      measuredWrites.push({ write, tableItems: 0, indexEntries: 0, wcu: 0, calls: s.calls, reportedCu: s.capacityUnits });
      return res.body;
    };
    const made = await viaApi('create (private)', 'createImage', images, member, { method: 'POST', json: { name: 'w', disk_format: 'raw', container_format: 'bare' } }, 201);
    await viaApi('update name (private)', 'updateImage', `${images}/${made?.id}`, member, {
      method: 'PATCH', contentType: 'application/openstack-images-v2.1-json-patch', body: JSON.stringify([{ op: 'replace', path: '/name', value: 'w2' }]),
    }, 200);
    // Tag items change in the image's own transaction: still 2 calls.
    await viaApi('add a tag (private)', 'addImageTag', `${images}/${made?.id}/tags/t1`, member, { method: 'PUT' }, 204);
    await viaApi('hide a tagged image (os_hidden=true)', 'updateImage', `${images}/${made?.id}`, member, {
      method: 'PATCH', contentType: 'application/openstack-images-v2.1-json-patch', body: JSON.stringify([{ op: 'replace', path: '/os_hidden', value: true }]),
    }, 200);
    await viaApi('delete: queued -> deleted', 'deleteImage', `${images}/${made?.id}`, member, { method: 'DELETE' }, 204);

    const start = performance.now();
    await grow(doc, runtime.tableName, 0, size);
    const seedSeconds = (performance.now() - start) / 1000;
    // Each query once unrecorded first (module loading, the JIT), then counted; the URL of the
    // page 20 markers deep is kept for the timing.
    const pages: [string, { first: PageFigures; deep: PageFigures | undefined }][] = [];
    const urls = new Map<string, { token: string; first: string; deep: string | undefined }>();
    for (const q of QUERIES) {
      const token = q.admin ? admin : member;
      const url = `${images}?${q.query}${q.query ? '&' : ''}limit=${PAGE}`;
      await once(url, token);
      const first = await once(url, token);
      // 20 markers deep: follow `next` 20 times (not counted), then count that page.
      let next = first.next;
      for (let d = 1; d < DEPTH && next; d++) next = (await http(`${runtime.url}${next}`, token)).body?.next;
      const deepUrl = next ? `${runtime.url}${next}` : undefined;
      const deep = deepUrl ? await once(deepUrl, token) : undefined;
      pages.push([q.label, { first: { stats: first.stats, returned: first.returned, ms: 0 }, deep: deep && { stats: deep.stats, returned: deep.returned, ms: 0 } }]);
      urls.set(q.label, { token, first: url, deep: deepUrl });
    }
    await send({ ready: { size, seedSeconds, pages, writes: measuredWrites } });
    await new Promise<void>((resolve, reject) => {
      process.on('message', (m: ParentMessage) => {
        if ('done' in m) return resolve();
        const u = urls.get(m.time.label);
        const url = m.time.which === 'first' ? u?.first : u?.deep;
        if (!u || !url) return reject(new Error(`no ${m.time.which} page for ${m.time.label}`));
        once(url, u.token).then((r) => send({ timed: r.ms }), reject);
      });
    });
  } finally {
    client.destroy();
    await runtime.stop();
    rmSync(dataDir, { recursive: true, force: true });
  }
}

if (process.env[CHILD_FLAG] && process.send) {
  const send = (m: ChildMessage) => new Promise<void>((resolve) => process.send?.(m, undefined, undefined, () => resolve()));
  try {
    await serveCatalogue(Number(process.env[CHILD_FLAG]), send);
    process.exit(0);
  } catch (error) {
    await send({ error: (error as Error).stack ?? String(error) });
    process.exit(1);
  }
}

export function reportListScale(result: ListScaleResult): void {
  const { sizes, writes } = result;
  const small = sizes[0]!;
  const big = sizes[sizes.length - 1]!;
  heading(`6. List queries as the catalogue grows (${sizes.map((s) => s.size.toLocaleString('en-US')).join(' / ')} images, DynamoDB Local, page of ${PAGE})`);
  console.log(
    `Catalogue built with BatchWriteItem (repository items): 10% public, 40% the caller's, 30% beta's, 20% gamma's; 10% hidden (a quarter of the caller's and of the public); ${RARE_TAGGED.length} tagged ${RARE_TAG}, 10% (the caller's) and those ${COMMON_TAG}; ` +
      `+5 public "${PUBLIC_NAME}", ${SHARED_WITH_CALLER} shared with the caller (${SHARED_TAGGED.length} of them tagged ${SHARED_TAG}). Seeding took ${sizes.map((x) => `${x.seedSeconds.toFixed(0)} s`).join(' / ')} (side by side).`,
  );
  console.log(`Budgets: items read per page <= ${MAX_ITEMS} (2 x ${PAGE} + 40); latency at ${big.size.toLocaleString('en-US')} <= ${MAX_LATENCY_RATIO}x at ${small.size.toLocaleString('en-US')}; name lookups < ${MAX_NAME_LOOKUP_MS} ms at ${big.size.toLocaleString('en-US')}.`);
  const rows: (string | number)[][] = [];
  for (const q of QUERIES) {
    for (const which of ['first', 'deep'] as const) {
      const at = (s: SizeFigures) => s.pages.get(q.label)?.[which];
      if (!at(big)) continue;
      const cells: (string | number)[] = [q.label, which === 'first' ? 'first page' : `page ${DEPTH + 1}`];
      let itemsOk = true;
      for (const s of sizes) {
        const p = at(s);
        cells.push(p ? `${p.stats.calls} / ${p.stats.itemsRead} / ${p.returned}` : '-');
        if (p && p.stats.itemsRead > MAX_ITEMS) itemsOk = false;
      }
      const base = at(small);
      const ratio = base ? at(big)!.ms / base.ms : undefined;
      for (const s of sizes) cells.push(at(s) ? at(s)!.ms.toFixed(1) : '-');
      cells.push(ratio === undefined ? '-' : `${ratio.toFixed(2)}x`);
      const verdicts = [check('list-scale', `${q.label} ${which}: items`, itemsOk) === 'PASS' ? '' : 'items'];
      if (ratio !== undefined) verdicts.push(check('list-scale', `${q.label} ${which}: latency ratio`, ratio <= MAX_LATENCY_RATIO) === 'PASS' ? '' : 'latency');
      if (q.lookup && which === 'first') verdicts.push(check('list-scale', `${q.label}: under ${MAX_NAME_LOOKUP_MS} ms`, at(big)!.ms < MAX_NAME_LOOKUP_MS) === 'PASS' ? '' : `>${MAX_NAME_LOOKUP_MS}ms`);
      const failed = verdicts.filter(Boolean);
      cells.push(failed.length ? `FAIL (${failed.join(', ')})` : 'PASS');
      rows.push(cells);
    }
  }
  printTable(
    ['query', 'page', ...sizes.map((s) => `>calls/read/returned @${s.size / 1000}k`), ...sizes.map((s) => `>ms @${s.size / 1000}k`), `>ms ${big.size / 1000}k/${small.size / 1000}k`, 'result'],
    rows,
  );
  console.log(`(calls: DynamoDB calls of the list function; read: GetItem 1 if found, Query ScannedCount, BatchGetItem items; ms: median of ${REPEATS} requests per size, the sizes timed side by side in rounds, one request to each catalogue per round.)`);
  console.log('\nWrite cost of an image change (modelled from the items before and after: 1 table item, each index entry added, rewritten (projection ALL) or moved (2), 1 WCU per KB (DynamoDB\'s item size) each; a sort twin entry is ~0.2 KB, 1 WCU, and written only when it moves):');
  printTable(
    ['write', '>table items', '>index entries', '>WCU'],
    writes.filter((w) => w.calls === undefined).map((w) => [w.write, w.tableItems, w.indexEntries, w.wcu]),
  );
  console.log('Tag items (~0.2 KB each, 1 WCU, and 1 WCU per tag twin entry added or removed) are written with their image, only when a tag is added or removed or the image moves partitions (visibility, owner, os_hidden, delete, restore).');
  console.log('A write that changes quota usage (create, upload, delete, scrub) also updates the owner\'s counter in the same transaction: +1 item, +1 `all` entry (usage#<shard>).');
  console.log('Through the API (DynamoDB calls; capacity as DynamoDB Local reports it with ReturnConsumedCapacity=TOTAL):');
  printTable(
    ['write', '>calls', '>reported CU'],
    writes.filter((w) => w.calls !== undefined).map((w) => [w.write, w.calls!, w.reportedCu === undefined ? '-' : w.reportedCu.toFixed(1)]),
  );
}
