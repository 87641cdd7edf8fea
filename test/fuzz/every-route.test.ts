import { randomUUID } from 'node:crypto';
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { ListObjectsV2Command } from '@aws-sdk/client-s3';
import { DynamoDBDocumentClient, QueryCommand } from '@aws-sdk/lib-dynamodb';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { DynamoImageRepository } from '../../shared/adapters/dynamo-image-repository.js';
import { hiddenPartition, INDEXES } from '../../shared/adapters/table-design.js';
import { MAX_ERROR_MESSAGE_CHARS } from '../../shared/http/response.js';
import { ROUTES, type Route } from '../../shared/routes.js';
import { storeClient } from '../api/behind-the-api.js';
import { apiUrl, call, createImage, tokenFor, uniqueProject } from '../api/client.js';
import { rawRequest } from '../api/raw-http.js';
import { hostileRequest, malformedHttp, PROTOTYPE_NAMES, type CallerKind, type HostileRequest, type IdChoice, type TargetKind } from './hostile-requests.js';

/**
 * Property-based fuzzing of every route of the local runtime (issue #8; a new route in
 * shared/routes.ts is fuzzed without a change here). Each run sends one malformed or hostile
 * request at an image of the kind the generator picked and asserts that the answer is not a
 * 5xx, that every error is a Glance JSON body, and that no error answer has anything written
 * behind it: the image's item, its projects' items and its objects in the store are as they
 * were. Seeded and bounded: SKYGLASS_FUZZ_SEED, SKYGLASS_FUZZ_RUNS (runs per property) and
 * SKYGLASS_FUZZ_SECONDS (the suite's time budget) override the defaults; a failure prints the
 * seed (every property uses the same one) and the counterexample.
 */
const SEED = Number(process.env.SKYGLASS_FUZZ_SEED ?? 20_260_808);
const RUNS = Number(process.env.SKYGLASS_FUZZ_RUNS ?? 12);
const BUDGET_MS = Number(process.env.SKYGLASS_FUZZ_SECONDS ?? 40) * 1000;
/** Every route, the unknown-path fallback and the raw parser share the budget... */
const PER_PROPERTY_MS = Math.floor(BUDGET_MS / (ROUTES.length + 2));
/** ...but each gets this many runs however slow the machine is. */
const MIN_RUNS = 3;

/**
 * A property that stops doing work once its share of the budget is spent (after MIN_RUNS):
 * later runs pass without sending anything, so a loaded machine runs fewer requests, never
 * none. A failure is reported with the seed that replays it.
 */
async function assertWithinBudget<T>(arbitrary: fc.Arbitrary<T>, check: (value: T) => Promise<void>): Promise<void> {
  const deadline = Date.now() + PER_PROPERTY_MS;
  let runs = 0;
  await fc.assert(
    fc.asyncProperty(arbitrary, async (value) => {
      if (runs >= MIN_RUNS && Date.now() > deadline) return;
      runs++;
      await check(value);
    }),
    { seed: SEED, numRuns: Math.max(RUNS, MIN_RUNS) },
  );
}

const RAW = { disk_format: 'raw', container_format: 'bare' };

/** The projects, callers and clients of one route's runs: each route fuzzes its own projects. */
interface World {
  owner: string;
  other: string;
  tokens: Record<CallerKind, string | undefined>;
  ownerToken: string;
  otherToken: string;
}
let world: World;

const client = new DynamoDBClient({ endpoint: inject('dynamodbEndpoint'), region: 'us-east-1', credentials: { accessKeyId: 'local', secretAccessKey: 'local' } });
const doc = DynamoDBDocumentClient.from(client);
const table = new DynamoImageRepository(client, { tableName: inject('tableName') });
const store = storeClient();

async function worldFor(): Promise<World> {
  const owner = uniqueProject('fuzz');
  const other = uniqueProject('fuzz-other');
  const ownerToken = await tokenFor(owner, ['member', 'reader']);
  const otherToken = await tokenFor(other, ['member', 'reader']);
  return {
    owner,
    other,
    ownerToken,
    otherToken,
    tokens: {
      owner: ownerToken,
      admin: await tokenFor('fuzz-admin', ['admin']),
      'other-project': otherToken,
      'no-token': undefined,
      'garbage-token': `${ownerToken.slice(0, -6)}AAAAAA`,
    },
  };
}

beforeAll(async () => {
  world = await worldFor();
  // The local runtime loads a route's function on its first call; load them all now, so the
  // budget is spent on requests.
  for (const route of ROUTES) {
    const path = route.path.replace(/\{[a-z_]+\}/g, () => randomUUID());
    await fetch(`${apiUrl()}${path}`, { method: route.method, headers: { 'X-Auth-Token': world.ownerToken } });
  }
});

afterAll(() => {
  client.destroy();
  store.destroy();
});

interface Target {
  id: string;
  uploadId: string | undefined;
}

/**
 * Images of each kind, kept between runs: an error answer leaves its target as it was (that is
 * the property), so only a success, which may have changed it, costs a new one.
 */
let targets = new Map<TargetKind, Target>();

async function targetOf(kind: TargetKind): Promise<Target> {
  let target = targets.get(kind);
  if (!target) targets.set(kind, (target = await prepare(kind)));
  return target;
}

/** A fresh image of the kind asked for (or, for `missing`, an id no image has). */
async function prepare(kind: TargetKind): Promise<Target> {
  const { ownerToken, otherToken } = world;
  switch (kind) {
    case 'missing':
      return { id: randomUUID(), uploadId: undefined };
    case 'queued':
      return { id: (await createImage(ownerToken, { name: 'fuzz' })).id, uploadId: undefined };
    case 'queued-with-formats':
      return { id: (await createImage(ownerToken, { name: 'fuzz', ...RAW })).id, uploadId: undefined };
    case 'active': {
      // Active without stored bytes, as test/support/seed-active.ts makes them.
      const { id } = await createImage(ownerToken, { name: 'fuzz', ...RAW });
      const queued = await table.get(id);
      if (!queued) throw new Error(`no image ${id}`);
      await table.save({ ...queued, status: 'active', size: 1024, virtual_size: 1024, version: queued.version + 1 }, queued);
      return { id, uploadId: undefined };
    }
    case 'with-upload-session': {
      const { id } = await createImage(ownerToken, { name: 'fuzz', ...RAW });
      const session = await call(`/v2/images/${id}/uploads`, { method: 'POST', token: ownerToken, json: { size: 16 } });
      if (session.status !== 201) throw new Error(`upload session: ${session.status} ${session.text}`);
      return { id, uploadId: session.body.upload_id };
    }
    case 'other-project':
      return { id: (await createImage(otherToken, { name: 'fuzz', visibility: 'private' })).id, uploadId: undefined };
  }
}

function segmentOf(choice: IdChoice, own: string | undefined): string {
  if (choice.kind === 'segment') return choice.segment;
  const id = own ?? randomUUID();
  return choice.kind === 'target' ? id : id.toUpperCase();
}

function pathOf(route: Route, req: HostileRequest, target: Target): string {
  return route.path
    .replace('{image_id}', segmentOf(req.imageId, target.id))
    .replace('{upload_id}', segmentOf(req.uploadId, target.uploadId))
    .replace('{tag_value}', req.tag);
}

/** What an error answer must not have changed. */
interface Snapshot {
  /** Version of each watched image (undefined: no item). */
  versions: Record<string, number | undefined>;
  /** `<id>@<version>` of every live image of the fuzz projects, from their index partitions. */
  projects: string[];
  /** Keys of the watched images' objects in the store. */
  objects: string[];
}

async function snapshot(ids: string[]): Promise<Snapshot> {
  const versions: Record<string, number | undefined> = {};
  for (const id of ids) versions[id] = (await table.get(id))?.version;
  const projects: string[] = [];
  // Hidden images are in their owner's hidden partition of byOwner.
  for (const owner of [world.owner, world.other].flatMap((project) => [project, hiddenPartition(project)])) {
    let startKey: Record<string, unknown> | undefined;
    do {
      const page = await doc.send(
        new QueryCommand({
          TableName: inject('tableName'),
          IndexName: INDEXES.byOwner.name,
          KeyConditionExpression: '#p = :p',
          ExpressionAttributeNames: { '#p': INDEXES.byOwner.partitionKey },
          ExpressionAttributeValues: { ':p': owner },
          ExclusiveStartKey: startKey,
        }),
      );
      for (const item of page.Items ?? []) projects.push(`${String(item.id)}@${String(item.version)}`);
      startKey = page.LastEvaluatedKey;
    } while (startKey);
  }
  const objects: string[] = [];
  for (const id of ids) {
    const listed = await store.send(new ListObjectsV2Command({ Bucket: inject('bucket'), Prefix: `images/${id}/` }));
    for (const object of listed.Contents ?? []) objects.push(object.Key ?? '');
  }
  return { versions, projects: projects.sort(), objects: objects.sort() };
}

/** Images a request could write: the target, and an image its body names by id. */
function watchedIds(target: Target, body: Buffer | undefined): string[] {
  const ids = [target.id];
  const named = body?.toString('latin1').match(/[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}/gi) ?? [];
  for (const id of named) ids.push(id.toLowerCase());
  return [...new Set(ids)];
}

interface Answer {
  status: number;
  contentType: string;
  text: string;
}

async function send(method: string, path: string, req: HostileRequest): Promise<Answer> {
  const headers = new Headers();
  for (const [name, value] of req.headers) headers.append(name, value);
  const token = world.tokens[req.caller];
  if (token) headers.set('X-Auth-Token', token);
  if (req.contentType !== undefined) headers.set('Content-Type', req.contentType);
  if (req.accept !== undefined) headers.set('Accept', req.accept);
  const url = `${apiUrl()}${path}${req.query ? `?${req.query}` : ''}`;
  const body = method === 'GET' || method === 'HEAD' ? undefined : req.body;
  const res = await fetch(url, { method, headers, body, redirect: 'manual' });
  return { status: res.status, contentType: res.headers.get('content-type') ?? '', text: await res.text() };
}

/** An error answer: Glance's flat JSON or the OpenStack envelope, a message and no internals. */
function expectGlanceError(answer: { status: number; contentType: string; text: string }, method = 'GET') {
  expect(answer.contentType).toContain('application/json');
  if (method === 'HEAD') return;
  const body = JSON.parse(answer.text) as Record<string, any>;
  if ('error' in body) {
    expect(Object.keys(body)).toEqual(['error']);
    expect(Object.keys(body.error).sort()).toEqual(['code', 'message', 'title']);
    expect(body.error.code).toBe(answer.status);
  } else {
    expect(Object.keys(body).sort()).toEqual(['code', 'message', 'title']);
    expect(body.code).toBe(`${answer.status} ${body.title}`);
  }
  const { message, title } = 'error' in body ? body.error : body;
  expect(typeof message).toBe('string');
  expect(message.length).toBeGreaterThan(0);
  expect(message.length).toBeLessThanOrEqual(MAX_ERROR_MESSAGE_CHARS + '...'.length);
  expect(title).not.toBe('Error');
  expect(message).not.toMatch(/\n\s+at |\.ts:\d+|RangeError|TypeError|ReferenceError|ValidationException|undefined is not/);
}

/**
 * The one error answer that does write: data refused by inline verification (PUT /file) puts
 * the image back to queued with the reason, as Glance leaves refused uploads killed or queued.
 */
async function refusedData(route: Route, answer: Answer, target: Target): Promise<boolean> {
  if (route.operationId !== 'uploadImageFile' || answer.status !== 400 || !answer.text.includes('Image data was refused')) return false;
  const image = await table.get(target.id);
  expect(image).toMatchObject({ status: 'queued', location: null, size: null });
  expect(image?.failure).toEqual(expect.any(String));
  return true;
}

describe('fuzzing every route of the local runtime', () => {
  for (const route of ROUTES) {
    it(`${route.method} ${route.path} (${route.operationId})`, async () => {
      world = await worldFor();
      targets = new Map();
      await assertWithinBudget(hostileRequest(route), async (req) => {
        const target = await targetOf(req.target);
        const path = pathOf(route, req, target);
        const watched = watchedIds(target, req.body);
        const before = await snapshot(watched);
        const answer = await send(route.method, path, req);
        const seen = `${route.method} ${path.slice(0, 200)} → ${answer.status} ${answer.text.slice(0, 300)}`;
        expect(answer.status, seen).toBeLessThan(500);
        if (answer.status < 400) {
          targets.delete(req.target);
          return;
        }
        expectGlanceError(answer);
        const after = await snapshot(watched);
        if (await refusedData(route, answer, target)) {
          targets.delete(req.target);
          expect({ ...after, versions: {} }, seen).toEqual({ ...before, versions: {} });
          return;
        }
        expect(after, `written behind ${seen}`).toEqual(before);
      });
    });
  }

  it('unknown paths and other methods (the fallback)', async () => {
    const segment = fc.oneof(
      fc.constantFrom('v2', 'images', 'v3', 'schemas', 'info', 'uploads', 'actions', 'tags', 'file', '', ...PROTOTYPE_NAMES),
      fc.string({ unit: 'grapheme-ascii', maxLength: 12 }).map(encodeURIComponent),
    );
    const request = fc.tuple(
      fc.constantFrom('GET', 'POST', 'PUT', 'PATCH', 'DELETE', 'HEAD', 'OPTIONS', 'PROPFIND', 'X-CUSTOM'),
      fc.array(segment, { maxLength: 6 }),
      fc.constantFrom<CallerKind>('owner', 'admin', 'no-token'),
    );
    await assertWithinBudget(request, async ([method, segments, caller]) => {
      const headers = new Headers({ Accept: 'application/json' });
      const token = world.tokens[caller];
      if (token) headers.set('X-Auth-Token', token);
      const path = `/${segments.join('/')}`;
      const res = await fetch(`${apiUrl()}${path}`, { method, headers, redirect: 'manual' });
      const answer = { status: res.status, contentType: res.headers.get('content-type') ?? '', text: await res.text() };
      expect(answer.status, `${method} ${path} → ${answer.status} ${answer.text.slice(0, 200)}`).toBeLessThan(500);
      if (answer.status >= 400) expectGlanceError(answer, method);
    });
  });

  it("what Node's HTTP parser refuses", async () => {
    await assertWithinBudget(malformedHttp, async (request) => {
      const res = await rawRequest(request);
      const seen = `${JSON.stringify(Buffer.from(request).toString('latin1').slice(0, 120))} → ${res.status} ${res.text.slice(0, 200)}`;
      expect(res.status, seen).toBeLessThan(500);
      if (res.status >= 400) expectGlanceError({ status: res.status, contentType: res.headers.get('content-type') ?? '', text: res.text });
    });
  });
});
