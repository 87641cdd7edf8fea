import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { DynamoDBDocumentClient, ScanCommand } from '@aws-sdk/lib-dynamodb';
import fc from 'fast-check';
import { afterAll, describe, expect, inject, it } from 'vitest';
import { imageFromItem } from '../../../shared/adapters/image-item.js';
import { TAG_ITEMS_MAX } from '../../../shared/adapters/table-design.js';
import type { Image } from '../../../shared/domain/image.js';
import { compareImages, matchesListFilters, parseListQuery, parseQueryString } from '../../../shared/domain/list-query.js';
import { inGlanceList, type Lister } from '../../../shared/domain/list-visibility.js';
import type { MemberStatus } from '../../../shared/domain/member.js';
import { call, createImage, patch, tokenFor, uniqueProject, type CallResult } from '../client.js';
import { settled } from '../data-helpers.js';
import { shareCopiesFollowed } from '../share-copies.js';

/**
 * Every list index stays consistent with the images it holds through every write path
 * (docs/table-design.md): after a random sequence of creates, renames, visibility changes,
 * tags (one at a time, or all replaced, past the tag items' limit and back), uploads (verification), hides, deactivations, deletes (the scrubber), restores and
 * membership changes, each indexed query (default order, name=, name=in:, sort=name both ways,
 * sort=updated_at / size / status, status=, admin, shared with the caller, community, ...) paged with markers through the API lists
 * exactly what a full scan of the table, filtered and sorted in memory by Glance's rules
 * (inGlanceList, matchesListFilters, compareImages), holds.
 *
 * Every image of a run carries the property `consistency_run=<run>`; the queries that would
 * otherwise read other files' images (public ones, an admin's every image) filter on it, which
 * drops those on the indexed path, and the name queries use names of the run alone.
 */
const RUN_PROPERTY = 'consistency_run';
const RAW = { disk_format: 'raw', container_format: 'bare' };
const VISIBILITIES = ['private', 'public', 'community', 'shared'] as const;
type Visibility = (typeof VISIBILITIES)[number];
const TAGS = ['t1', 't2'] as const;
const MEMBER_STATUSES = ['pending', 'accepted', 'rejected'] as const;

/** One write through the API; `target` picks one of the run's images so far (modulo their count). */
type Op =
  | { kind: 'create'; by: 0 | 1; name: number | null; visibility: Visibility; tagged: boolean }
  | { kind: 'rename'; target: number; name: number | null }
  | { kind: 'visibility'; target: number; visibility: Visibility }
  | { kind: 'tag'; target: number; tag: (typeof TAGS)[number]; add: boolean }
  | { kind: 'retag'; target: number; many: boolean }
  | { kind: 'hide'; target: number; hidden: boolean }
  | { kind: 'upload'; target: number }
  | { kind: 'deactivate' | 'reactivate' | 'delete' | 'restore' | 'scrub' | 'unshare'; target: number }
  | { kind: 'share'; target: number; status: (typeof MEMBER_STATUSES)[number] }
  // A write of an image shared before (its memberships' copies follow it from the stream).
  | { kind: 'shared write'; target: number; write: SharedWrite; name: number | null };
/** Writes of a shared image that its memberships' copies (and share-tag items) follow: tags added, removed, all replaced (past 40 and back). */
type SharedWrite = 'rename' | 'hide' | 'unhide' | 'upload' | 'tag' | 'untag' | 'retag';

const target = fc.nat({ max: 1000 });
const nameIndex = fc.option(fc.nat({ max: 3 }), { nil: null, freq: 6 });
const op: fc.Arbitrary<Op> = fc.oneof(
  { weight: 5, arbitrary: fc.record({ kind: fc.constant('create' as const), by: fc.constantFrom(0 as const, 1 as const), name: nameIndex, visibility: fc.constantFrom(...VISIBILITIES), tagged: fc.boolean() }) },
  { weight: 2, arbitrary: fc.record({ kind: fc.constant('rename' as const), target, name: nameIndex }) },
  { weight: 2, arbitrary: fc.record({ kind: fc.constant('visibility' as const), target, visibility: fc.constantFrom(...VISIBILITIES) }) },
  { weight: 2, arbitrary: fc.record({ kind: fc.constant('tag' as const), target, tag: fc.constantFrom(...TAGS), add: fc.boolean() }) },
  // Every tag replaced at once: past TAG_ITEMS_MAX (the overflow item) or back to one tag.
  { weight: 1, arbitrary: fc.record({ kind: fc.constant('retag' as const), target, many: fc.boolean() }) },
  { weight: 2, arbitrary: fc.record({ kind: fc.constant('hide' as const), target, hidden: fc.boolean() }) },
  { weight: 2, arbitrary: fc.record({ kind: fc.constant('upload' as const), target }) },
  { weight: 2, arbitrary: fc.record({ kind: fc.constantFrom('deactivate' as const, 'reactivate' as const, 'delete' as const, 'restore' as const, 'scrub' as const, 'unshare' as const), target }) },
  { weight: 2, arbitrary: fc.record({ kind: fc.constant('share' as const), target, status: fc.constantFrom(...MEMBER_STATUSES) }) },
  { weight: 2, arbitrary: fc.record({ kind: fc.constant('shared write' as const), target, write: fc.constantFrom<SharedWrite>('rename', 'hide', 'unhide', 'upload', 'tag', 'untag', 'retag'), name: nameIndex }) },
);

const client = new DynamoDBClient({ endpoint: inject('dynamodbEndpoint'), region: 'us-east-1', credentials: { accessKeyId: 'local', secretAccessKey: 'local' } });
const doc = DynamoDBDocumentClient.from(client);
afterAll(() => client.destroy());

/** The run's images and the memberships of its projects, read from the table itself (a full, consistent Scan). */
async function scanRun(run: string, projects: readonly string[]) {
  const images: Image[] = [];
  const memberships = new Map<string, Map<string, MemberStatus>>(); // project -> image id -> status
  let startKey: Record<string, unknown> | undefined;
  do {
    const out = await doc.send(
      new ScanCommand({
        TableName: inject('tableName'),
        ConsistentRead: true,
        FilterExpression: '(#sk = :image AND contains(#props, :run)) OR (begins_with(#sk, :member) AND #deleted = :false AND #mid IN (:p0, :p1))',
        ExpressionAttributeNames: { '#sk': 'sk', '#props': 'properties', '#deleted': 'deleted', '#mid': 'member_id' },
        ExpressionAttributeValues: { ':image': 'IMAGE', ':run': JSON.stringify(run), ':member': 'MEMBER#', ':false': false, ':p0': projects[0], ':p1': projects[1] },
        ExclusiveStartKey: startKey,
      }),
    );
    for (const item of out.Items ?? []) {
      if (item.sk === 'IMAGE') images.push(imageFromItem(item));
      else {
        const mine = memberships.get(String(item.member_id)) ?? new Map<string, MemberStatus>();
        mine.set(String(item.image_id), item.status as MemberStatus);
        memberships.set(String(item.member_id), mine);
      }
    }
    startKey = out.LastEvaluatedKey;
  } while (startKey);
  return { images: images.filter((i) => i.properties[RUN_PROPERTY] === run), memberships };
}

/** What Glance lists for this caller and query string, computed from the scan alone. */
function expectedIds(scan: Awaited<ReturnType<typeof scanRun>>, lister: Lister, queryString: string): string[] {
  const query = parseListQuery(parseQueryString(queryString));
  const mine = (lister.projectId && scan.memberships.get(lister.projectId)) || new Map<string, MemberStatus>();
  return scan.images
    .filter((image) => image.status !== 'deleted' && image.status !== 'pending_delete')
    .filter((image) => inGlanceList(lister, image, mine.get(image.id), query) && matchesListFilters(image, query))
    .sort(compareImages(query.sort))
    .map((image) => image.id);
}

/** Every page from the first to the last `next`, `limit` at a time: the ids in the order listed. */
async function pageThrough(token: string, queryString: string, limit: number): Promise<string[]> {
  const ids: string[] = [];
  const firstPage = `/v2/images?${queryString}${queryString ? '&' : ''}limit=${limit}`;
  // Glance's `next` keeps one value of a repeated key (`tag=a&tag=b` -> `tag=b`, as Skyglass's
  // does: test/unit/list-query.test.ts), so a query with a repeated key pages by its own query
  // and the last id as marker, as a client that keeps its query does.
  const repeated = new Set(queryString.split('&').map((pair) => pair.split('=')[0])).size < queryString.split('&').length;
  let next: string | undefined = firstPage;
  for (let pages = 0; next; pages++) {
    if (pages > 200) throw new Error(`${queryString}: more than 200 pages`);
    const res: CallResult = await call(next, { token });
    if (res.status !== 200) throw new Error(`${next}: ${res.status} ${res.text}`);
    ids.push(...res.body.images.map((image: { id: string }) => image.id));
    next = res.body.next && repeated ? `${firstPage}&marker=${ids[ids.length - 1]}` : res.body.next;
  }
  return ids;
}

/** At most `width` at a time. */
async function inBatches<T, R>(items: readonly T[], width: number, each: (item: T) => Promise<R>): Promise<R[]> {
  const out: R[] = [];
  for (let i = 0; i < items.length; i += width) out.push(...(await Promise.all(items.slice(i, i + width).map(each))));
  return out;
}

/**
 * The property, as one test of `numRuns` runs from `seed`. Each test file runs it with its own
 * seed, so Vitest runs the files side by side (one file took 145 s of CI's wall time alone).
 */
export function listConsistencyProperty(seed: number, numRuns: number): void {
  describe(`list indexes against a full scan (property, seed ${seed})`, () => {
    it('list, after any sequence of writes, exactly what the table holds, for every indexed query, page by page', async () => {
      const projects = [uniqueProject('ca'), uniqueProject('cb')] as const;
      const adminProject = uniqueProject('cadm');
      const tokens = [await tokenFor(projects[0]), await tokenFor(projects[1])] as const;
      const admin = await tokenFor(adminProject, ['admin']);
      let runs = 0;

      await fc.assert(
        fc.asyncProperty(fc.array(op, { minLength: 12, maxLength: 28 }), fc.integer({ min: 1, max: 4 }), async (ops, limit) => {
          const run = `${projects[0]}-${++runs}`;
          // Names of this run only, with ties, a space, a comma (for in:) and a non-ASCII one.
          const names = [`${run} a`, `${run}-b`, `${run},c`, `${run}-é`];
          const images: { id: string; by: 0 | 1 }[] = [];
          const sharedSoFar: { id: string; by: 0 | 1 }[] = [];
          const ownerToken = (i: { by: 0 | 1 }) => tokens[i.by];
          const noServerError = (label: string, res: { status: number; text: string }) => expect(res.status, `${label}: ${res.text}`).toBeLessThan(500);

          for (const o of ops) {
            if (o.kind === 'create') {
              const body: Record<string, unknown> = { ...RAW, visibility: o.visibility === 'public' ? 'private' : o.visibility, [RUN_PROPERTY]: run };
              if (o.name !== null) body.name = names[o.name];
              if (o.tagged) body.tags = ['t1'];
              const created = await createImage(tokens[o.by], body);
              images.push({ id: created.id, by: o.by });
              // Only an admin may publicize (Glance's publicize_image).
              if (o.visibility === 'public') noServerError('publicize', await patch(admin, created.id, [{ op: 'replace', path: '/visibility', value: 'public' }]));
              continue;
            }
            if (images.length === 0) continue;
            if (o.kind === 'shared write' && sharedSoFar.length === 0) continue;
            const image = o.kind === 'shared write' ? sharedSoFar[o.target % sharedSoFar.length]! : images[o.target % images.length]!;
            const path = `/v2/images/${image.id}`;
            const other = projects[1 - image.by]!;
            switch (o.kind) {
              case 'rename':
                noServerError(o.kind, await patch(ownerToken(image), image.id, [{ op: 'replace', path: '/name', value: o.name === null ? null : names[o.name] }]));
                break;
              case 'visibility':
                noServerError(o.kind, await patch(o.visibility === 'public' ? admin : ownerToken(image), image.id, [{ op: 'replace', path: '/visibility', value: o.visibility }]));
                break;
              case 'tag':
                noServerError(o.kind, await call(`${path}/tags/${o.tag}`, { method: o.add ? 'PUT' : 'DELETE', token: ownerToken(image) }));
                break;
              case 'retag': {
                const tags = o.many ? ['t1', ...Array.from({ length: TAG_ITEMS_MAX }, (_, k) => `many-${k}`)] : ['t2'];
                noServerError(o.kind, await patch(ownerToken(image), image.id, [{ op: 'replace', path: '/tags', value: tags }]));
                break;
              }
              case 'hide':
                noServerError(o.kind, await patch(ownerToken(image), image.id, [{ op: 'replace', path: '/os_hidden', value: o.hidden }]));
                break;
              case 'upload': {
                // Sizes of one, two and three digits, with ties, so the size key's order is tested.
                const size = [7, 61, 700, 61][o.target % 4]!;
                const put = await call(`${path}/file`, { method: 'PUT', token: ownerToken(image), body: Buffer.alloc(size, `${run} ${image.id} `), headers: { 'Content-Type': 'application/octet-stream' } });
                noServerError(o.kind, put);
                if (put.status === 204) await settled(ownerToken(image), image.id);
                break;
              }
              case 'deactivate':
              case 'reactivate':
              case 'restore':
              case 'scrub':
                noServerError(o.kind, await call(`${path}/actions/${o.kind}`, { method: 'POST', token: admin }));
                break;
              case 'delete':
                noServerError(o.kind, await call(path, { method: 'DELETE', token: ownerToken(image) }));
                break;
              case 'shared write': {
                if (o.write === 'tag' || o.write === 'untag') {
                  const tag = TAGS[o.target % TAGS.length];
                  noServerError(o.kind, await call(`${path}/tags/${tag}`, { method: o.write === 'tag' ? 'PUT' : 'DELETE', token: ownerToken(image) }));
                  break;
                }
                if (o.write === 'retag') {
                  const tags = o.target % 2 ? ['t2', ...Array.from({ length: TAG_ITEMS_MAX }, (_, k) => `many-${k}`)] : ['t1'];
                  noServerError(o.kind, await patch(ownerToken(image), image.id, [{ op: 'replace', path: '/tags', value: tags }]));
                  break;
                }
                const patchOps =
                  o.write === 'rename' ? [{ op: 'replace', path: '/name', value: o.name === null ? null : names[o.name] }] : o.write === 'upload' ? undefined : [{ op: 'replace', path: '/os_hidden', value: o.write === 'hide' }];
                if (patchOps) noServerError(o.kind, await patch(ownerToken(image), image.id, patchOps));
                else {
                  const put = await call(`${path}/file`, { method: 'PUT', token: ownerToken(image), body: Buffer.alloc(61 * (o.target % 3), `${run} ${image.id} `), headers: { 'Content-Type': 'application/octet-stream' } });
                  noServerError(o.kind, put);
                  if (put.status === 204) await settled(ownerToken(image), image.id);
                }
                break;
              }
              case 'share': {
                sharedSoFar.push(image);
                noServerError(o.kind, await call(`${path}/members`, { method: 'POST', token: ownerToken(image), json: { member: other } }));
                noServerError(o.kind, await call(`${path}/members/${other}`, { method: 'PUT', token: tokens[1 - image.by]!, json: { status: o.status } }));
                break;
              }
              case 'unshare':
                noServerError(o.kind, await call(`${path}/members/${other}`, { method: 'DELETE', token: ownerToken(image) }));
                break;
            }
          }

          // The memberships' copies of their images' keys follow image writes from the table's
          // stream: compare once they have (the table says so), as a client's next list would.
          await shareCopiesFollowed(images.map((i) => i.id));
          const scan = await scanRun(run, projects);
          const ofRun = `${RUN_PROPERTY}=${encodeURIComponent(run)}`;
          const inList = `name=in:${[names[0], `"${names[2]}"`, names[3]].map((n) => encodeURIComponent(n!)).join(',')}`;
          const queries = [
            ofRun,
            `${ofRun}&sort=name:asc`,
            `${ofRun}&sort=name:desc`,
            `${ofRun}&sort_key=name&sort_dir=asc`,
            `${ofRun}&sort=created_at:asc`,
            `${ofRun}&visibility=all`,
            `${ofRun}&visibility=public`,
            `${ofRun}&visibility=community&sort=name:desc`,
            // Private and shared images from their visibility items (and the caller's shares).
            `${ofRun}&visibility=private`,
            `${ofRun}&visibility=private&sort=created_at:asc&os_hidden=true`,
            `${ofRun}&visibility=shared`,
            `${ofRun}&tag=t1&visibility=private`,
            `${ofRun}&visibility=shared&member_status=all`,
            `${ofRun}&visibility=shared&member_status=pending&sort=name:asc`,
            // Hidden images are on partitions of their own: each order and filter reads them there.
            `${ofRun}&os_hidden=true`,
            `${ofRun}&os_hidden=true&sort=name:asc`,
            `${ofRun}&os_hidden=true&sort=created_at:asc&visibility=all`,
            `${ofRun}&os_hidden=true&sort=size:desc`,
            `${ofRun}&os_hidden=true&status=active`,
            `${ofRun}&os_hidden=true&visibility=public&sort=updated_at:asc`,
            `${ofRun}&os_hidden=true&visibility=shared&member_status=all`,
            `${inList}&os_hidden=true`,
            // The tag twins: the first tag's partitions (and the overflow keys), the others checked.
            `${ofRun}&tag=t1`,
            `${ofRun}&tag=t2&sort=created_at:asc`,
            `${ofRun}&tag=t1&visibility=public`,
            `${ofRun}&tag=t1&visibility=community`,
            `${ofRun}&tag=t2&visibility=shared&member_status=all`,
            // The shares partitions' tag twin: the memberships' share-tag items.
            `${ofRun}&tag=t1&visibility=shared`,
            `${ofRun}&tag=many-3&visibility=shared&member_status=all&sort=created_at:asc`,
            `${ofRun}&tag=t1&tag=t2&visibility=shared&member_status=all`,
            `${ofRun}&tag=t2&os_hidden=true&visibility=shared&member_status=all`,
            `${ofRun}&tag=t1&os_hidden=true`,
            `${ofRun}&tag=many-3`,
            // Several tags (ANDed): each partition reads the tag it has fewest entries of.
            `${ofRun}&tag=t2&tag=t1`,
            `${ofRun}&tag=t1&tag=many-3&sort=created_at:asc&visibility=all`,
            `${ofRun}&tag=t1&sort=name:asc`,
            `${ofRun}&status=active`,
            // The sort twins (updated_at, size, status) and the status twin under the default order.
            `${ofRun}&sort=updated_at:asc`,
            `${ofRun}&sort_key=updated_at`,
            `${ofRun}&sort=size:asc`,
            `${ofRun}&sort_key=size&sort_dir=desc&visibility=all`,
            `${ofRun}&sort=status:asc`,
            `${ofRun}&sort=status:desc&visibility=public`,
            `${ofRun}&status=in:active,queued`,
            `${ofRun}&status=queued&sort=created_at:asc`,
            `${ofRun}&status=in:deactivated,active&sort=status:asc`,
            `${ofRun}&visibility=shared&member_status=all&sort=updated_at:desc`,
            // The caller's shares in every indexed order, from its memberships' copies.
            `${ofRun}&visibility=shared&sort=name:desc`,
            `${ofRun}&visibility=shared&sort=size:asc`,
            `${ofRun}&visibility=shared&member_status=all&sort_key=status&sort_dir=asc`,
            `${ofRun}&visibility=shared&sort=updated_at:asc&os_hidden=true`,
            `${ofRun}&visibility=shared&member_status=rejected&sort=created_at:asc`,
            `${inList}&visibility=shared&member_status=all`,
            `${ofRun}&visibility=community&sort=size:asc`,
            `${ofRun}&owner=${projects[0]}&sort=updated_at:asc`,
            `${ofRun}&owner=${projects[1]}&visibility=all`,
            ...names.map((n) => `name=${encodeURIComponent(n)}`),
            inList,
            `${inList}&sort=name:asc`,
            `${inList}&visibility=all&sort=name:desc`,
            `name=${encodeURIComponent(names[1]!)}&sort=name:desc&member_status=all&visibility=all`,
          ];
          const callers: [string, string, Lister][] = [
            [projects[0], tokens[0], { projectId: projects[0], isAdmin: false }],
            [projects[1], tokens[1], { projectId: projects[1], isAdmin: false }],
            ['admin', admin, { projectId: adminProject, isAdmin: true }],
          ];
          const checks = callers.flatMap(([who, token, lister]) =>
            [...queries, ...(lister.isAdmin ? [`${ofRun}&owner=${projects[0]}`, `${ofRun}&owner=${projects[0]}&visibility=shared`, `${ofRun}&owner=${projects[1]}&os_hidden=true`, `${ofRun}&owner=${projects[0]}&tag=t1`, `${ofRun}&owner=${projects[1]}&sort=name:asc`, `${ofRun}&owner=${projects[0]}&sort=size:desc`, `${ofRun}&status=active&sort=updated_at:asc`] : [])].map((query) => ({ who, token, lister, query })),
          );
          const results = await inBatches(checks, 4, async (c) => ({ ...c, listed: await pageThrough(c.token, c.query, limit) }));
          for (const r of results) expect(r.listed, `${r.who}: ${r.query} (limit ${limit}) after ${JSON.stringify(ops)}`).toEqual(expectedIds(scan, r.lister, r.query));
          // The run did list something: the property is not vacuous.
          expect(results.some((r) => r.listed.length > 0)).toBe(true);
        }),
        { numRuns, seed, endOnFailure: true },
      );
    }, 600_000);
  });
}
