import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { dynamoDbCallStats, type DynamoDbCallSummary } from '../shared/adapters/dynamodb-call-stats.js';
import { mintToken } from '../infra/local/dev-key.js';
import { matchPath } from '../shared/routes.js';
import { seedActive } from '../test/support/seed-active.js';
import { check, heading, printTable, progress } from './report.js';

export const SEED_IMAGES = 10_000;
const SEED_CONCURRENCY = 16;
export const MAX_CALLS = 2;
const PAGE = 25;
/**
 * A list page reads at most 2x the page plus a constant (issue #11's bound, as bench/list-scale.ts
 * checks it): the constant is the merge's lookahead over the sharded public/admin indexes (about 2
 * entries per stream, 16 shards). This was 2x the page alone (50) before the indexes were sharded.
 */
export const MAX_LIST_ITEMS = 2 * PAGE + 40;

/** The caller whose lists are measured; it owns 40% of the images, and some public ones. */
const CALLER = 'bench-alpha';
const PROJECTS = [CALLER, 'bench-beta', 'bench-gamma'] as const;
/** How many of beta's shared images are shared with the caller (accepted), for the list figures. */
export const SHARED_WITH_CALLER = 500;
/** The name the filtered list asks for: 1 image in 100, all the caller's. */
const FILTER_NAME = 'cirros-0.6.2';

interface Measured {
  operation: string;
  request: string;
  status: number;
  returned: number | undefined;
  stats: DynamoDbCallSummary;
  /** Calls budget (create/show/update/delete) or items-read budget (list pages); none for the rest. */
  budget: { kind: 'calls'; max: number } | { kind: 'items'; max: number } | undefined;
}

interface Api {
  url: string;
  token(project: string, roles?: string[]): Promise<string>;
}

async function http(api: Api, path: string, init: { method?: string; token: string; json?: unknown; body?: string; contentType?: string }) {
  const headers: Record<string, string> = { 'X-Auth-Token': init.token };
  let body = init.body;
  if (init.json !== undefined) body = JSON.stringify(init.json);
  if (body !== undefined) headers['Content-Type'] = init.contentType ?? 'application/json';
  const res = await fetch(`${api.url}${path}`, { method: init.method ?? 'GET', headers, body });
  const text = await res.text();
  return { status: res.status, body: text ? (JSON.parse(text) as Record<string, any>) : undefined };
}

/**
 * Runs one request alone and returns what the handler's DynamoDB client did for it. The
 * handlers run in this process (the local runtime), so the call is complete when the response is.
 */
async function measure(
  api: Api,
  operation: string,
  path: string,
  init: Parameters<typeof http>[2],
  expected: number,
  budget: Measured['budget'],
): Promise<Measured & { body: Record<string, any> | undefined }> {
  const stats = dynamoDbCallStats();
  stats.reset();
  const res = await http(api, path, init);
  // The calls of the function serving the route only: the runtime's stream consumer (events,
  // share copies) runs in this process on the same clients, after each write.
  const method = init.method ?? 'GET';
  const route = matchPath(new URL(path, 'http://bench').pathname).find((m) => m.route.method === method)?.route;
  if (!route) throw new Error(`${operation}: no route for ${method} ${path}`);
  const summary = stats.summary(route.operationId);
  if (res.status !== expected) throw new Error(`${operation}: ${init.method ?? 'GET'} ${path} answered ${res.status}, expected ${expected}: ${JSON.stringify(res.body)}`);
  const returned = Array.isArray(res.body?.images) ? res.body.images.length : undefined;
  return { operation, request: `${init.method ?? 'GET'} ${path.replace(/[0-9a-f]{8}-[0-9a-f-]{27}/g, '{id}')}`, status: res.status, returned, stats: summary, budget, body: res.body };
}

/**
 * Image i of the seed: 10% public (admin-created, owners rotating over the three projects,
 * the caller included), then 40% the caller's, 30% beta's (a few community), 20% gamma's.
 * One image in 100 carries FILTER_NAME, all of them the caller's.
 */
function seedImage(i: number): { project: string; admin: boolean; body: Record<string, unknown> } {
  const base = { disk_format: 'qcow2', container_format: 'bare', name: `bench-${i}`, os_distro: 'cirros' };
  const slot = i % 10;
  if (slot === 0) return { project: 'bench-ops', admin: true, body: { ...base, owner: PROJECTS[(i / 10) % 3], visibility: 'public' } };
  if (slot <= 4) return { project: CALLER, admin: false, body: { ...base, name: i % 100 === 1 ? FILTER_NAME : base.name, visibility: i % 2 ? 'shared' : 'private' } };
  if (slot <= 7) return { project: 'bench-beta', admin: false, body: { ...base, visibility: i % 50 === 5 ? 'community' : 'shared' } };
  return { project: 'bench-gamma', admin: false, body: base };
}

async function seed(api: Api): Promise<number> {
  const start = performance.now();
  let next = 0;
  let done = 0;
  const betaShared: string[] = [];
  const worker = async () => {
    while (next < SEED_IMAGES) {
      const i = next++;
      const { project, admin, body } = seedImage(i);
      const token = await api.token(project, admin ? ['admin'] : ['member', 'reader']);
      const res = await http(api, '/v2/images', { method: 'POST', token, json: body });
      if (res.status !== 201) throw new Error(`seed create ${i}: ${res.status} ${JSON.stringify(res.body)}`);
      if (project === 'bench-beta' && body.visibility === 'shared') betaShared.push(res.body?.id as string);
      if (++done % 2000 === 0) progress(`seeded ${done}/${SEED_IMAGES}`);
    }
  };
  await Promise.all(Array.from({ length: SEED_CONCURRENCY }, worker));
  await shareWithCaller(api, betaShared);
  return (performance.now() - start) / 1000;
}

/** SHARED_WITH_CALLER of beta's shared images, spread over its images, shared with the caller and accepted. */
async function shareWithCaller(api: Api, betaShared: string[]): Promise<void> {
  const step = betaShared.length / SHARED_WITH_CALLER;
  if (step < 1) throw new Error(`only ${betaShared.length} shared images to share`);
  const ids = Array.from({ length: SHARED_WITH_CALLER }, (_, k) => betaShared[Math.floor(k * step)] as string);
  const owner = await api.token('bench-beta');
  const member = await api.token(CALLER);
  let next = 0;
  const worker = async () => {
    while (next < ids.length) {
      const id = ids[next++] as string;
      const added = await http(api, `/v2/images/${id}/members`, { method: 'POST', token: owner, json: { member: CALLER } });
      if (added.status !== 200) throw new Error(`share ${id}: ${added.status} ${JSON.stringify(added.body)}`);
      const accepted = await http(api, `/v2/images/${id}/members/${CALLER}`, { method: 'PUT', token: member, json: { status: 'accepted' } });
      if (accepted.status !== 200) throw new Error(`accept ${id}: ${accepted.status} ${JSON.stringify(accepted.body)}`);
    }
  };
  await Promise.all(Array.from({ length: SEED_CONCURRENCY }, worker));
  progress(`shared ${ids.length} of beta's images with ${CALLER}, accepted`);
}

export async function measureDynamoDb(): Promise<{ rows: Measured[]; seedSeconds: number }> {
  // The hook in shared/app/services.ts reads this when the first handler builds its client.
  process.env.SKYGLASS_DYNAMODB_STATS = '1';
  const { startLocalRuntime } = await import('../infra/local/server.js');
  const dataDir = mkdtempSync(join(tmpdir(), 'skyglass-bench-'));
  progress('starting the local runtime (DynamoDB Local in memory)');
  const runtime = await startLocalRuntime({ port: 0, dataDir, inMemory: true });
  try {
    const tokens = new Map<string, Promise<string>>();
    const api: Api = {
      url: runtime.url,
      token: (project, roles = ['member', 'reader']) => {
        const key = `${project}|${roles.join(',')}`;
        let t = tokens.get(key);
        if (!t) tokens.set(key, (t = mintToken(dataDir, { project, roles })));
        return t;
      },
    };
    const member = await api.token(CALLER);
    const admin = await api.token('bench-ops', ['admin']);
    const calls = (max: number) => ({ kind: 'calls' as const, max });
    const items = (max: number) => ({ kind: 'items' as const, max });
    const rows: Measured[] = [];

    // Warm every handler once first, so module loading never overlaps a measured request.
    const warm = await http(api, '/v2/images', { method: 'POST', token: member, json: { name: 'warm-up' } });
    await http(api, `/v2/images/${warm.body?.id}`, { token: member });

    progress('single-image operations');
    const created = await measure(api, 'create', '/v2/images', { method: 'POST', token: member, json: { name: 'bench-op', disk_format: 'qcow2', container_format: 'bare' } }, 201, calls(MAX_CALLS));
    const id = created.body?.id as string;
    rows.push(created);
    rows.push(await measure(api, 'show', `/v2/images/${id}`, { token: member }, 200, calls(MAX_CALLS)));
    rows.push(await measure(api, 'update (PATCH)', `/v2/images/${id}`, {
      method: 'PATCH', token: member, contentType: 'application/openstack-images-v2.1-json-patch',
      body: JSON.stringify([{ op: 'replace', path: '/name', value: 'bench-op-2' }, { op: 'add', path: '/hw_disk_bus', value: 'virtio' }]),
    }, 200, calls(MAX_CALLS)));
    rows.push(await measure(api, 'tag add', `/v2/images/${id}/tags/linux`, { method: 'PUT', token: member }, 204, undefined));
    rows.push(await measure(api, 'tag delete', `/v2/images/${id}/tags/linux`, { method: 'DELETE', token: member }, 204, undefined));
    const activeId = (await http(api, '/v2/images', { method: 'POST', token: member, json: { name: 'bench-active', disk_format: 'raw', container_format: 'bare' } })).body?.id as string;
    await seedActive(runtime.dynamodbEndpoint, runtime.tableName, activeId);
    rows.push(await measure(api, 'deactivate (admin)', `/v2/images/${activeId}/actions/deactivate`, { method: 'POST', token: admin }, 204, undefined));
    rows.push(await measure(api, 'reactivate (admin)', `/v2/images/${activeId}/actions/reactivate`, { method: 'POST', token: admin }, 204, undefined));
    rows.push(await measure(api, 'delete', `/v2/images/${id}`, { method: 'DELETE', token: member }, 204, calls(MAX_CALLS)));

    progress('members operations');
    const other = await api.token('bench-beta');
    const sharedId = (await http(api, '/v2/images', { method: 'POST', token: member, json: { name: 'bench-shared', visibility: 'shared' } })).body?.id as string;
    const membersOf = `/v2/images/${sharedId}/members`;
    rows.push(await measure(api, 'member add', membersOf, { method: 'POST', token: member, json: { member: 'bench-beta' } }, 200, calls(MAX_CALLS)));
    rows.push(await measure(api, 'member list', membersOf, { token: member }, 200, calls(MAX_CALLS)));
    rows.push(await measure(api, 'member show (as the member)', `${membersOf}/bench-beta`, { token: other }, 200, calls(MAX_CALLS)));
    rows.push(await measure(api, 'member accept (as the member)', `${membersOf}/bench-beta`, { method: 'PUT', token: other, json: { status: 'accepted' } }, 200, calls(MAX_CALLS)));
    rows.push(await measure(api, 'show (as the member)', `/v2/images/${sharedId}`, { token: other }, 200, calls(MAX_CALLS)));
    rows.push(await measure(api, 'member remove', `${membersOf}/bench-beta`, { method: 'DELETE', token: member }, 204, calls(MAX_CALLS)));
    // Leave only seeded images in the table for the list figures.
    for (const extra of [warm.body?.id, activeId, sharedId]) await http(api, `/v2/images/${extra}`, { method: 'DELETE', token: admin });

    progress(`seeding ${SEED_IMAGES} images through POST /v2/images, ${SEED_CONCURRENCY} in flight`);
    const seedSeconds = await seed(api);

    progress('list pages');
    const first = await measure(api, 'list, default page', '/v2/images', { token: member }, 200, items(MAX_LIST_ITEMS));
    rows.push(first);
    const nextLink = first.body?.next as string | undefined;
    if (!nextLink) throw new Error('default list page has no next link');
    rows.push(await measure(api, 'list, page after marker', nextLink, { token: member }, 200, items(MAX_LIST_ITEMS)));
    rows.push(await measure(api, 'list, admin page', '/v2/images', { token: admin }, 200, items(MAX_LIST_ITEMS)));
    // Not in the budget either: the caller's own shared images are a filter on byOwner (half of
    // its images), beside byMember's Query and the BatchGetItem of the shared-in images on the page.
    rows.push(await measure(api, 'list, visibility=shared (info)', '/v2/images?visibility=shared', { token: member }, 200, undefined));
    // Not in the issue's budgets (they are for the default page): filters are applied to what the
    // index Query returns, so a selective filter reads more; non-default sorts read every visible image.
    rows.push(await measure(api, 'list, filtered by name (info)', `/v2/images?name=${FILTER_NAME}`, { token: member }, 200, undefined));
    rows.push(await measure(api, 'list, sort=name:asc (info)', '/v2/images?sort=name:asc', { token: member }, 200, undefined));
    for (const r of rows) if (r.returned !== undefined && r.returned !== PAGE && r.budget?.kind === 'items') throw new Error(`${r.operation} returned ${r.returned} images, expected ${PAGE}`);
    return { rows, seedSeconds };
  } finally {
    await runtime.stop();
    rmSync(dataDir, { recursive: true, force: true });
  }
}

export function reportDynamoDb({ rows, seedSeconds }: { rows: Measured[]; seedSeconds: number }): void {
  heading(`3. DynamoDB calls and items read per API operation (DynamoDB Local, ${SEED_IMAGES.toLocaleString('en-US')} images for lists, ${SHARED_WITH_CALLER} of them shared with the caller)`);
  console.log(`Budgets: create/show/update/delete and every members operation <= ${MAX_CALLS} calls; a list page of ${PAGE} reads <= ${MAX_LIST_ITEMS} items.`);
  console.log(
    `Seed: ${SEED_IMAGES.toLocaleString('en-US')} images through POST /v2/images (HTTP, ${SEED_CONCURRENCY} in flight, ${seedSeconds.toFixed(0)} s): ` +
      `10% public (owners rotating, caller included), 40% caller's project ${CALLER}, 30% bench-beta, 20% bench-gamma.`,
  );
  const table = rows.map((r) => {
    const { calls, itemsRead, capacityUnits, byCommand } = r.stats;
    let budget = '-';
    let verdict = '';
    if (r.budget?.kind === 'calls') {
      budget = `<= ${r.budget.max} calls`;
      verdict = check('dynamodb', r.operation, calls <= r.budget.max);
    } else if (r.budget?.kind === 'items') {
      budget = `<= ${r.budget.max} items`;
      verdict = check('dynamodb', r.operation, itemsRead <= r.budget.max);
    }
    const perImage = r.returned ? `${(itemsRead / r.returned).toFixed(1)}x` : '';
    return [
      r.operation,
      calls,
      Object.entries(byCommand).map(([c, n]) => `${c}${n > 1 ? ` x${n}` : ''}`).join(' + '),
      itemsRead,
      r.returned ?? '',
      perImage,
      capacityUnits === undefined ? '' : capacityUnits.toFixed(1),
      budget,
      verdict,
    ];
  });
  printTable(['operation', '>calls', 'commands', '>items read', '>returned', '>read/returned', '>capacity units', 'budget', 'result'], table);
  console.log('(items read: GetItem 1 if found, Query ScannedCount, BatchGetItem the items returned. Capacity units as DynamoDB Local reports them (ReturnConsumedCapacity=TOTAL).)');
}
