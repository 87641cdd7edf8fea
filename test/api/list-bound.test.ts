import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DynamoImageLists } from '../../shared/adapters/dynamo-image-lists.js';
import { DynamoImageRepository } from '../../shared/adapters/dynamo-image-repository.js';
import { GlanceError } from '../../shared/domain/errors.js';
import type { Image } from '../../shared/domain/image.js';
import { parseListQuery } from '../../shared/domain/list-query.js';
import { ensureTable, startDynamoDbLocal, type LocalDynamo } from '../../infra/local/dynamodb.js';

/**
 * A list no index serves (several sort keys, mixed directions) reads every
 * visible image and sorts in the function: bounded, so a catalogue too large for that gets
 * Glance's 400 with what to do instead, never a gateway timeout (README compatibility table).
 * Through the repository on a table of its own, with a bound of 10 instead of 20,000.
 */
let dynamo: LocalDynamo;
let workDir: string;
let repo: DynamoImageRepository;
let lists: DynamoImageLists;
const TABLE = 'bounded-lists';
const owner = { projectId: 'p', isAdmin: false };

function image(i: number, name: string): Image {
  const at = `2026-01-01T00:00:${String(i).padStart(2, '0')}Z`;
  return {
    id: `00000000-0000-4000-8000-${String(i).padStart(12, '0')}`, name, status: 'queued', visibility: 'private', protected: false, os_hidden: false, owner: 'p',
    checksum: null, os_hash_algo: null, os_hash_value: null, size: (i * 7) % 5, virtual_size: null, min_disk: 0, min_ram: 0, disk_format: null,
    container_format: null, tags: [], created_at: at, updated_at: at, properties: {}, location: null, upload: null, failure: null, version: 1,
  } as Image;
}

const list = async (params: Record<string, string[]>) => (await lists.list(owner, parseListQuery(params), undefined)).images.map((i) => i.id);

beforeAll(async () => {
  workDir = mkdtempSync(join(tmpdir(), 'skyglass-bound-'));
  dynamo = await startDynamoDbLocal(null, workDir);
  await ensureTable(dynamo.client, TABLE);
  repo = new DynamoImageRepository(dynamo.client, { tableName: TABLE });
  lists = new DynamoImageLists(dynamo.client, { tableName: TABLE, unindexedListMaxItems: 10 });
  for (let i = 0; i < 12; i++) await repo.create(image(i, i < 3 ? 'few' : `many-${i}`));
}, 120_000);

afterAll(async () => {
  await dynamo?.stop();
  rmSync(workDir, { recursive: true, force: true });
});

describe('a list sorted in the function', () => {
  it('stops with a 400 that says what to do once it would read more than its bound', async () => {
    const refused = await list({ sort: ['size:asc,name:desc'] }).catch((error: unknown) => error);
    expect(refused).toBeInstanceOf(GlanceError);
    expect((refused as GlanceError).status).toBe(400);
    expect((refused as GlanceError).message).toMatch(/^Listing with sort size:asc,name:desc,created_at:desc,id:desc reads every image you can see .* more than 10 of them/);
    expect((refused as GlanceError).message).toContain('sort by one key (created_at, name, updated_at, size or status) in one direction');
    await expect(list({ sort_key: ['updated_at', 'size'] })).rejects.toThrow(/more than 10/);
  });

  it('still answers when filters narrow it within the bound, in Glance order', async () => {
    // name= reads that name's keys only: 3 images, sorted by size then created_at.
    const ids = await list({ name: ['few'], sort: ['size:desc'] });
    const few = [0, 1, 2].map((i) => image(i, 'few'));
    expect(ids).toEqual(few.sort((a, b) => b.size! - a.size! || (a.created_at < b.created_at ? 1 : -1)).map((i) => i.id));
  });

  it('does not bound what the indexes serve: the default order, created_at asc and name read one page', async () => {
    expect(await list({})).toHaveLength(12);
    expect(await list({ sort: ['created_at:asc'] })).toEqual(Array.from({ length: 12 }, (_, i) => image(i, '').id));
    expect(await list({ sort: ['name:asc'], limit: ['5'] })).toHaveLength(5);
    expect(await list({ sort: ['updated_at:desc'] })).toEqual(Array.from({ length: 12 }, (_, i) => image(11 - i, '').id));
    const bySize = Array.from({ length: 12 }, (_, i) => image(i, ''))
      .sort((a, b) => a.size! - b.size! || (a.created_at < b.created_at ? -1 : 1))
      .map((i) => i.id);
    expect(await list({ sort_key: ['size'], sort_dir: ['asc'] })).toEqual(bySize);
    expect(await list({ sort: ['status:asc'], limit: ['5'] })).toHaveLength(5);
    // A status filter is a key condition on the status twin: an unindexed sort reads only those statuses.
    expect(await list({ status: ['active'], sort: ['size:asc,name:desc'] })).toEqual([]);
  });
});

describe('a list in an indexed order with a filter its index does not hold', () => {
  it('stops with a 400 before the function\'s time limit, rather than a gateway timeout', async () => {
    // A clock that moves a second each time it is read: the bound (5 s) is passed within the 12 images.
    let t = 0;
    const slow = new DynamoImageLists(dynamo.client, { tableName: TABLE, unindexedListMaxMs: 5_000, now: () => new Date((t += 1_000)) });
    const refused = await slow.list(owner, parseListQuery({ protected: ['true'] }), undefined).catch((error: unknown) => error);
    expect(refused).toBeInstanceOf(GlanceError);
    expect((refused as GlanceError).status).toBe(400);
    expect((refused as GlanceError).message).toMatch(/^This list's filters are checked on each image read.* Narrow it with filters that select by index/);
    // A filter the index serves, or one the page fills quickly, answers.
    t = 0;
    expect((await slow.list(owner, parseListQuery({ name: ['few'] }), undefined)).images).toHaveLength(3);
  });
});
