import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { CreateTableCommand, DeleteItemCommand, DescribeTableCommand, GetItemCommand, PutItemCommand, QueryCommand, type DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { marshall, unmarshall } from '@aws-sdk/util-dynamodb';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DynamoImageLists } from '../../shared/adapters/dynamo-image-lists.js';
import { DynamoImageRepository, imageItem } from '../../shared/adapters/dynamo-image-repository.js';
import { DynamoMemberRepository } from '../../shared/adapters/dynamo-member-repository.js';
import { DynamoUsageRepository } from '../../shared/adapters/dynamo-usage-repository.js';
import { SHARE_TAGS_ATTRIBUTE, shareCopyAttributes } from '../../shared/adapters/share-copies.js';
import { deployedIndexes, INDEXES, LIST_KEYS_VERSION, listKeysRecordSortKey, nameSortKey, TABLE_RECORD_PARTITION } from '../../shared/adapters/table-design.js';
import type { Image } from '../../shared/domain/image.js';
import { parseListQuery } from '../../shared/domain/list-query.js';
import { ensureTable, startDynamoDbLocal, type LocalDynamo } from '../../infra/local/dynamodb.js';

/**
 * `npm start` on a DATA_DIR from before the byStatus index: the table must gain the index, and
 * the images already in a swept status must be found by the sweepers (not only those written
 * after the upgrade).
 */
// A DynamoDB Local of its own (in memory): creating and filling an index beside the runtime's
// table, in the runtime's DynamoDB Local, disturbs that table's stream.
const execFileAsync = promisify(execFile);
let dynamo: LocalDynamo;
let client: DynamoDBClient;
let workDir: string;
const TABLE = 'older-images';

/** An image item as the repository wrote it before byStatus existed (no statusPk/statusSk). */
function olderItem(id: string, status: string, updatedAt: string) {
  return marshall({
    pk: `IMAGE#${id}`, sk: 'IMAGE', id, name: id, status, visibility: 'shared', protected: false, os_hidden: false, owner: 'p',
    min_disk: 0, min_ram: 0, tags: [], properties: '{}', created_at: updatedAt, updated_at: updatedAt, version: 3,
    listSk: `${updatedAt}#${id}`, allPk: 'image', ownerPk: 'p',
  });
}

beforeAll(async () => {
  workDir = mkdtempSync(join(tmpdir(), 'skyglass-upgrade-'));
  dynamo = await startDynamoDbLocal(null, workDir);
  client = dynamo.client;
  const key = (name: string) => ({ AttributeName: name, AttributeType: 'S' as const });
  const index = (name: string, pk: string) => ({
    IndexName: name,
    KeySchema: [{ AttributeName: pk, KeyType: 'HASH' as const }, { AttributeName: 'listSk', KeyType: 'RANGE' as const }],
    Projection: { ProjectionType: 'ALL' as const },
  });
  // The table design before the byStatus index.
  await client.send(
    new CreateTableCommand({
      TableName: TABLE,
      BillingMode: 'PAY_PER_REQUEST',
      AttributeDefinitions: ['pk', 'sk', 'ownerPk', 'visPk', 'allPk', 'listSk'].map(key),
      KeySchema: [{ AttributeName: 'pk', KeyType: 'HASH' }, { AttributeName: 'sk', KeyType: 'RANGE' }],
      GlobalSecondaryIndexes: [index('byOwner', 'ownerPk'), index('byVisibility', 'visPk'), index('all', 'allPk')],
      StreamSpecification: { StreamEnabled: true, StreamViewType: 'NEW_IMAGE' },
    }),
  );
}, 120_000);

afterAll(async () => {
  await dynamo?.stop();
  rmSync(workDir, { recursive: true, force: true });
});

describe('a table from an older DATA_DIR', () => {
  it('gains the byStatus index, and the sweepers find the images that were already in flight', async () => {
    const stuck = '11111111-1111-4111-8111-111111111111';
    const pending = '22222222-2222-4222-8222-222222222222';
    const active = '33333333-3333-4333-8333-333333333333';
    for (const [id, status] of [[stuck, 'saving'], [pending, 'pending_delete'], [active, 'active']] as const) {
      await client.send(new PutItemCommand({ TableName: TABLE, Item: olderItem(id, status, '2020-01-01T00:00:00Z') }));
    }
    await ensureTable(client, TABLE);
    const table = (await client.send(new DescribeTableCommand({ TableName: TABLE }))).Table!;
    expect(table.GlobalSecondaryIndexes!.map((i) => i.IndexName).sort()).toEqual(Object.values(INDEXES).map((i) => i.name).sort());

    const repo = new DynamoImageRepository(client, { tableName: TABLE });
    const found = async (statuses: Parameters<typeof repo.findByStatus>[0], updatedAtOrBefore?: Date) => {
      const ids: string[] = [];
      for await (const image of repo.findByStatus(statuses, updatedAtOrBefore ? { updatedAtOrBefore } : {})) ids.push(image.id);
      return ids.sort();
    };
    expect(await found(['saving', 'importing'], new Date('2020-01-01T00:00:00Z'))).toEqual([stuck]);
    expect(await found(['saving'], new Date('2019-12-31T23:59:59Z'))).toEqual([]);
    expect(await found(['pending_delete'])).toEqual([pending]);
    // Active images were never in byStatus; the audit reads them from `all`.
    expect(await found(['active'])).toEqual([active]);
    // Running it again (every start) changes nothing.
    await ensureTable(client, TABLE);
    expect(await found(['saving', 'pending_delete'])).toEqual([stuck, pending].sort());
  });

  it('gains the name indexes, and name lookups and sort=name find the images written before them', async () => {
    // The first test upgraded the table; these images are as older code wrote them too.
    const older = ['44444444-4444-4444-8444-444444444444', '55555555-5555-4555-8555-555555555555'];
    // A table from before any of the later indexes (only byOwner).
    await client.send(
      new CreateTableCommand({
        TableName: `${TABLE}-names`,
        BillingMode: 'PAY_PER_REQUEST',
        AttributeDefinitions: ['pk', 'sk', 'ownerPk', 'listSk'].map((name) => ({ AttributeName: name, AttributeType: 'S' as const })),
        KeySchema: [{ AttributeName: 'pk', KeyType: 'HASH' }, { AttributeName: 'sk', KeyType: 'RANGE' }],
        GlobalSecondaryIndexes: [
          { IndexName: 'byOwner', KeySchema: [{ AttributeName: 'ownerPk', KeyType: 'HASH' }, { AttributeName: 'listSk', KeyType: 'RANGE' }], Projection: { ProjectionType: 'ALL' } },
        ],
        StreamSpecification: { StreamEnabled: true, StreamViewType: 'NEW_IMAGE' },
      }),
    );
    for (const id of older) await client.send(new PutItemCommand({ TableName: `${TABLE}-names`, Item: olderItem(id, 'active', '2020-01-01T00:00:00Z') }));
    await ensureTable(client, `${TABLE}-names`);
    const lists = new DynamoImageLists(client, { tableName: `${TABLE}-names` });
    const owner = { projectId: 'p', isAdmin: false };
    const listed = async (params: Record<string, string[]>) => (await lists.list(owner, parseListQuery(params), undefined)).images.map((i) => i.id);
    expect(await listed({ name: [older[1]!] })).toEqual([older[1]]);
    expect(await listed({ name: [`in:${older.join(',')}`], sort: ['name:desc'] })).toEqual([...older].reverse());
    expect(await listed({ sort: ['name:asc'] })).toEqual(older);
  });

  it('moves images and usage counters from the unsharded keys of `all` and byVisibility to their shards, and remakes name twins keyed the old way', async () => {
    const name = `${TABLE}-shards`;
    const gsi = (indexName: string, pk: string, sk: string) => ({
      IndexName: indexName,
      KeySchema: [{ AttributeName: pk, KeyType: 'HASH' as const }, { AttributeName: sk, KeyType: 'RANGE' as const }],
      Projection: { ProjectionType: 'ALL' as const },
    });
    // The design before sharding: every index there, the name twins keyed by visPk and allPk.
    await client.send(
      new CreateTableCommand({
        TableName: name,
        BillingMode: 'PAY_PER_REQUEST',
        AttributeDefinitions: ['pk', 'sk', 'ownerPk', 'visPk', 'allPk', 'listSk', 'statusPk', 'statusSk', 'memberPk', 'nameSk'].map((a) => ({ AttributeName: a, AttributeType: 'S' as const })),
        KeySchema: [{ AttributeName: 'pk', KeyType: 'HASH' }, { AttributeName: 'sk', KeyType: 'RANGE' }],
        GlobalSecondaryIndexes: [
          gsi('byOwner', 'ownerPk', 'listSk'), gsi('byVisibility', 'visPk', 'listSk'), gsi('all', 'allPk', 'listSk'), gsi('byStatus', 'statusPk', 'statusSk'),
          gsi('byMember', 'memberPk', 'listSk'), gsi('byOwnerName', 'ownerPk', 'nameSk'), gsi('byVisibilityName', 'visPk', 'nameSk'), gsi('allByName', 'allPk', 'nameSk'),
        ],
        StreamSpecification: { StreamEnabled: true, StreamViewType: 'NEW_IMAGE' },
      }),
    );
    const ids = ['66666666-6666-4666-8666-666666666666', '77777777-7777-4777-8777-777777777777', '88888888-8888-4888-8888-888888888888'];
    const at = ['2020-01-01T00:00:01Z', '2020-01-01T00:00:02Z', '2020-01-01T00:00:03Z'];
    for (const [i, id] of ids.entries()) {
      const visibility = i === 0 ? 'private' : 'public';
      const item = { ...unmarshall(olderItem(id, 'active', at[i]!)), name: 'same', visibility, nameSk: nameSortKey('same', `${at[i]}#${id}`), ...(i > 0 ? { visPk: 'public' } : {}) };
      await client.send(new PutItemCommand({ TableName: name, Item: marshall(item) }));
    }
    await client.send(new PutItemCommand({ TableName: name, Item: marshall({ pk: 'PROJECT#p', sk: 'USAGE', image_count_total: 3, version: 3, allPk: 'usage', listSk: 'p' }) }));

    await ensureTable(client, name);
    const table = (await client.send(new DescribeTableCommand({ TableName: name }))).Table!;
    const keysOf = (indexName: string) => table.GlobalSecondaryIndexes!.find((i) => i.IndexName === indexName)!.KeySchema!.map((k) => k.AttributeName);
    expect(keysOf('byVisibilityName')).toEqual(['visNamePk', 'nameSk']);
    expect(keysOf('allByName')).toEqual(['allNamePk', 'nameSk']);

    const repo = new DynamoImageRepository(client, { tableName: name });
    const lists = new DynamoImageLists(client, { tableName: name });
    const admin = { projectId: 'adm', isAdmin: true };
    const other = { projectId: 'q', isAdmin: false };
    const listed = async (who: typeof admin, params: Record<string, string[]>) => (await lists.list(who, parseListQuery(params), undefined)).images.map((i) => i.id);
    expect(await listed(admin, {})).toEqual([...ids].reverse());
    expect(await listed(admin, { name: ['same'], sort: ['name:asc'] })).toEqual(ids);
    expect(await listed(other, {})).toEqual([ids[2], ids[1]]);
    expect(await listed(other, { name: ['same'] })).toEqual([ids[2], ids[1]]);
    // The sort twins came after this design too: they are made, and hold the older images.
    expect(await listed(admin, { sort: ['updated_at:asc'] })).toEqual(ids);
    expect(await listed(admin, { sort_key: ['size'], sort_dir: ['desc'] })).toEqual([...ids].reverse());
    expect(await listed(other, { status: ['active'] })).toEqual([ids[2], ids[1]]);
    expect(await listed(other, { status: ['queued'] })).toEqual([]);
    const active: string[] = [];
    for await (const image of repo.findByStatus(['active'])) active.push(image.id);
    expect(active.sort()).toEqual(ids);
    const usage: string[] = [];
    for await (const counters of new DynamoUsageRepository(client, { tableName: name }).all()) usage.push(`${counters.project}:${counters.usage.image_count_total}`);
    expect(usage).toEqual(['p:3']);
    // Nothing is left on the unsharded keys.
    const unsharded = await client.send(
      new QueryCommand({ TableName: name, IndexName: 'all', KeyConditionExpression: 'allPk = :p', ExpressionAttributeValues: { ':p': { S: 'image' } } }),
    );
    expect(unsharded.Items).toEqual([]);
  });

  it('moves hidden images written before their own partitions onto them, which no index change shows (the table record does), and writes tag items', async () => {
    // A table with every index of the current design, its items written by the code before
    // hidden partitions: a hidden image keyed like any other, and no record of list keys v2.
    const name = `${TABLE}-hidden`;
    await ensureTable(client, name);
    const record = { pk: { S: TABLE_RECORD_PARTITION }, sk: { S: listKeysRecordSortKey() } };
    expect((await client.send(new GetItemCommand({ TableName: name, Key: record }))).Item).toBeDefined();
    await client.send(new DeleteItemCommand({ TableName: name, Key: record }));
    const ids = ['aaaaaaaa-aaaa-4aaa-8aaa-aaaaaaaaaaa1', 'aaaaaaaa-aaaa-4aaa-8aaa-aaaaaaaaaaa2', 'aaaaaaaa-aaaa-4aaa-8aaa-aaaaaaaaaaa3'];
    for (const [i, id] of ids.entries()) {
      const at = `2020-01-01T00:00:0${i}Z`;
      const image = { ...unmarshall(olderItem(id, 'active', at)), properties: {}, visibility: i === 2 ? 'private' : 'public', owner: 'p', tags: i > 0 ? ['gold'] : [] } as unknown as Image;
      // Keyed as a visible image, stored hidden (all but the last).
      const item = { ...imageItem({ ...image, os_hidden: false }, [], undefined), os_hidden: i < 2 };
      await client.send(new PutItemCommand({ TableName: name, Item: marshall(item) }));
    }
    const lists = new DynamoImageLists(client, { tableName: name });
    const listed = async (who: { projectId: string; isAdmin: boolean }, params: Record<string, string[]>) => (await lists.list(who, parseListQuery(params), undefined)).images.map((i) => i.id);
    const owner = { projectId: 'p', isAdmin: false };
    expect(await listed(owner, { os_hidden: ['true'] })).toEqual([]);

    await ensureTable(client, name);
    const other = { projectId: 'q', isAdmin: false };
    const admin = { projectId: 'adm', isAdmin: true };
    expect(await listed(owner, {})).toEqual([ids[2]]);
    expect(await listed(owner, { os_hidden: ['true'] })).toEqual([ids[1], ids[0]]);
    expect(await listed(other, { os_hidden: ['true'], sort: ['name:asc'] })).toEqual([ids[0], ids[1]]);
    expect(await listed(admin, { os_hidden: ['true'], sort: ['updated_at:desc'] })).toEqual([ids[1], ids[0]]);
    expect(await listed(other, {})).toEqual([]);
    // Their tag items, which came after them, are written too.
    expect(await listed(owner, { tag: ['gold'] })).toEqual([ids[2]]);
    expect(await listed(other, { tag: ['gold'], os_hidden: ['true'] })).toEqual([ids[1]]);
    expect(await listed(admin, { tag: ['gold'], os_hidden: ['true'], sort: ['created_at:asc'] })).toEqual([ids[1]]);
    // The audit still sees every live image, hidden ones included.
    const active: string[] = [];
    for await (const image of new DynamoImageRepository(client, { tableName: name }).findByStatus(['active'])) active.push(image.id);
    expect(active.sort()).toEqual(ids);
    expect((await client.send(new GetItemCommand({ TableName: name, Key: record }))).Item).toBeDefined();
  });

  /** The table record of list keys `version` (`TABLE` / `LIST_KEYS#<version>`). */
  const record = (version: number) => ({ pk: { S: TABLE_RECORD_PARTITION }, sk: { S: `LIST_KEYS#${version}` } });
  /** A table whose record says its items carry list keys `version`, older than the current. */
  async function tableOfListKeys(name: string, version: number): Promise<void> {
    await ensureTable(client, name);
    await client.send(new DeleteItemCommand({ TableName: name, Key: record(LIST_KEYS_VERSION) }));
    await client.send(new PutItemCommand({ TableName: name, Item: { ...record(version), version: { N: String(version) } } }));
  }

  it("gives memberships written before their copies of their image's list keys the copies (list keys version 4), which the table record shows", async () => {
    const name = `${TABLE}-shares`;
    // A table of list keys version 3: its record, and a membership as that code wrote it (byMember only).
    await tableOfListKeys(name, 3);
    const id = 'bbbbbbbb-bbbb-4bbb-8bbb-bbbbbbbbbbb1';
    const at = '2020-01-01T00:00:05Z';
    const image = { ...unmarshall(olderItem(id, 'active', at)), name: 'shared-one', properties: {}, owner: 'p' } as unknown as Image;
    await client.send(new PutItemCommand({ TableName: name, Item: marshall(imageItem(image, [], undefined)) }));
    const membership = { pk: `IMAGE#${id}`, sk: 'MEMBER#m', image_id: id, member_id: 'm', status: 'accepted', created_at: at, updated_at: at, version: 1, deleted: false, memberPk: 'm#accepted', listSk: `${at}#${id}` };
    await client.send(new PutItemCommand({ TableName: name, Item: marshall(membership) }));
    const lists = new DynamoImageLists(client, { tableName: name });
    const member = { projectId: 'm', isAdmin: false };
    const listed = async (params: Record<string, string[]>) => (await lists.list(member, parseListQuery(params), undefined)).images.map((i) => i.id);
    expect(await listed({})).toEqual([]);

    await ensureTable(client, name);
    expect(await listed({})).toEqual([id]);
    expect(await listed({ name: ['shared-one'] })).toEqual([id]);
    expect(await listed({ sort: ['name:asc'], visibility: ['shared'] })).toEqual([id]);
    expect(await listed({ sort: ['size:desc'] })).toEqual([id]);
    const copied = unmarshall((await client.send(new GetItemCommand({ TableName: name, Key: marshall({ pk: `IMAGE#${id}`, sk: 'MEMBER#m' }) }))).Item!);
    expect(copied).toMatchObject({ ownerPk: 'm#shared#accepted', id, imageVersion: 3, memberPk: 'm#accepted', version: 1 });
    expect((await client.send(new GetItemCommand({ TableName: name, Key: record(LIST_KEYS_VERSION) }))).Item).toBeDefined();
  });

  it("gives memberships written before share-tag items (list keys version 4) their items, so tag= finds their images", async () => {
    const name = `${TABLE}-sharetags`;
    await tableOfListKeys(name, 4);
    const id = 'bbbbbbbb-bbbb-4bbb-8bbb-bbbbbbbbbbb2';
    const at = '2020-01-01T00:00:06Z';
    const image = { ...unmarshall(olderItem(id, 'active', at)), name: 'tagged-share', properties: {}, owner: 'p', visibility: 'shared', tags: ['gold'] } as unknown as Image;
    await client.send(new PutItemCommand({ TableName: name, Item: marshall(imageItem(image, [], undefined)) }));
    // A membership as version 4 wrote it: its copies of this very image version, no share-tag items.
    const copies = shareCopyAttributes(image, 'm', 'accepted');
    delete copies[SHARE_TAGS_ATTRIBUTE];
    const membership = { pk: `IMAGE#${id}`, sk: 'MEMBER#m', image_id: id, member_id: 'm', status: 'accepted', created_at: at, updated_at: at, version: 1, deleted: false, memberPk: 'm#accepted', ...copies };
    await client.send(new PutItemCommand({ TableName: name, Item: marshall(membership) }));
    const lists = new DynamoImageLists(client, { tableName: name });
    const member = { projectId: 'm', isAdmin: false };
    const listed = async (params: Record<string, string[]>) => (await lists.list(member, parseListQuery(params), undefined)).images.map((i) => i.id);
    expect(await listed({})).toEqual([id]);
    expect(await listed({ tag: ['gold'] })).toEqual([]);

    await ensureTable(client, name);
    expect(await listed({ tag: ['gold'] })).toEqual([id]);
    const copied = unmarshall((await client.send(new GetItemCommand({ TableName: name, Key: marshall({ pk: `IMAGE#${id}`, sk: 'MEMBER#m' }) }))).Item!);
    expect(copied).toMatchObject({ [SHARE_TAGS_ATTRIBUTE]: ['gold'], version: 1 });
    expect((await client.send(new GetItemCommand({ TableName: name, Key: record(LIST_KEYS_VERSION) }))).Item).toBeDefined();
  });

  it('gives images written before visibility items (list keys version 5) theirs, so visibility=private|shared finds them', async () => {
    const name = `${TABLE}-visibility`;
    await tableOfListKeys(name, 5);
    const at = '2020-01-01T00:00:07Z';
    const ids = { private: 'bbbbbbbb-bbbb-4bbb-8bbb-bbbbbbbbbbb3', shared: 'bbbbbbbb-bbbb-4bbb-8bbb-bbbbbbbbbbb4' };
    for (const [visibility, id] of Object.entries(ids)) {
      const image = { ...unmarshall(olderItem(id, 'active', at)), name: visibility, properties: {}, owner: 'p', visibility } as unknown as Image;
      // As version 5 wrote it: the image item alone (an untagged image had no other item).
      await client.send(new PutItemCommand({ TableName: name, Item: marshall(imageItem(image, [], undefined)) }));
    }
    const lists = new DynamoImageLists(client, { tableName: name });
    const owner = { projectId: 'p', isAdmin: false };
    const listed = async (params: Record<string, string[]>) => (await lists.list(owner, parseListQuery(params), undefined)).images.map((i) => i.id);
    expect(await listed({ visibility: ['private'] })).toEqual([]);

    await ensureTable(client, name);
    expect(await listed({ visibility: ['private'] })).toEqual([ids.private]);
    expect(await listed({ visibility: ['shared'] })).toEqual([ids.shared]);
    expect((await client.send(new GetItemCommand({ TableName: name, Key: record(LIST_KEYS_VERSION) }))).Item).toBeDefined();
  });

  it('is rewritten the same way on a deployed table by `npm run rewrite-list-keys` (operator credentials)', async () => {
    // A table that already has every index of the current design (as a stack after its update)
    // but items written by the code before it: unsharded keys, no name keys.
    const name = `${TABLE}-deployed`;
    await ensureTable(client, name);
    const ids = ['99999999-9999-4999-8999-999999999991', '99999999-9999-4999-8999-999999999992'];
    for (const [i, id] of ids.entries()) {
      const item = { ...unmarshall(olderItem(id, 'active', `2020-01-01T00:00:0${i}Z`)), visibility: 'public', visPk: 'public' };
      await client.send(new PutItemCommand({ TableName: name, Item: marshall(item) }));
    }
    const lists = new DynamoImageLists(client, { tableName: name });
    const publicList = async () => (await lists.list({ projectId: 'q', isAdmin: false }, parseListQuery({}), undefined)).images.map((i) => i.id);
    expect(await publicList()).toEqual([]);
    const run = await execFileAsync(join(process.cwd(), 'node_modules/.bin/tsx'), ['infra/local/rewrite-list-keys-cli.ts', '--table', name, '--endpoint', dynamo.endpoint], {
      env: { ...process.env, AWS_REGION: 'us-east-1', AWS_ACCESS_KEY_ID: 'local', AWS_SECRET_ACCESS_KEY: 'local' },
    });
    expect(run.stdout).toContain(`rewrote the list index attributes of ${name}`);
    expect(await publicList()).toEqual([...ids].reverse());
    // A membership written before its copies (a shared image of p's, accepted by m) is listed by them now.
    const shared = '99999999-9999-4999-8999-999999999993';
    const at = '2020-01-01T00:00:09Z';
    await client.send(new PutItemCommand({ TableName: name, Item: marshall({ ...unmarshall(olderItem(shared, 'active', at)), name: 'to-m' }) }));
    await client.send(new PutItemCommand({ TableName: name, Item: marshall({ pk: `IMAGE#${shared}`, sk: 'MEMBER#m', image_id: shared, member_id: 'm', status: 'accepted', created_at: at, updated_at: at, version: 1, deleted: false, memberPk: 'm#accepted', listSk: `${at}#${shared}` }) }));
    const member = { projectId: 'm', isAdmin: false };
    expect((await lists.list(member, parseListQuery({ name: ['to-m'] }), undefined)).images).toEqual([]);
    await execFileAsync(join(process.cwd(), 'node_modules/.bin/tsx'), ['infra/local/rewrite-list-keys-cli.ts', '--table', name, '--endpoint', dynamo.endpoint], {
      env: { ...process.env, AWS_REGION: 'us-east-1', AWS_ACCESS_KEY_ID: 'local', AWS_SECRET_ACCESS_KEY: 'local' },
    });
    expect((await lists.list(member, parseListQuery({ name: ['to-m'] }), undefined)).images.map((i) => i.id)).toEqual([shared]);
    expect((await lists.list({ projectId: 'q', isAdmin: false }, parseListQuery({ name: [ids[0]!] }), undefined)).images.map((i) => i.id)).toEqual([ids[0]]);
  });

  it('with only its first indexes (a stack brought up one per deploy): every list answers, an order or filter whose twin is missing served unindexed', async () => {
    // The first 8 (through the name twins): no sort, status or tag twins yet.
    const name = `${TABLE}-partial`;
    const present = Object.values(INDEXES).slice(0, 8);
    await client.send(
      new CreateTableCommand({
        TableName: name,
        BillingMode: 'PAY_PER_REQUEST',
        AttributeDefinitions: [...new Set(['pk', 'sk', ...present.flatMap((i) => [i.partitionKey, i.sortKey])])].map((a) => ({ AttributeName: a, AttributeType: 'S' as const })),
        KeySchema: [{ AttributeName: 'pk', KeyType: 'HASH' }, { AttributeName: 'sk', KeyType: 'RANGE' }],
        GlobalSecondaryIndexes: present.map((i) => ({
          IndexName: i.name,
          KeySchema: [{ AttributeName: i.partitionKey, KeyType: 'HASH' as const }, { AttributeName: i.sortKey, KeyType: 'RANGE' as const }],
          Projection: { ProjectionType: 'ALL' as const },
        })),
        StreamSpecification: { StreamEnabled: true, StreamViewType: 'NEW_IMAGE' },
      }),
    );
    const repo = new DynamoImageRepository(client, { tableName: name });
    const image = (i: number, fields: Partial<Image>): Image => {
      const at = `2026-02-01T00:00:0${i}Z`;
      return {
        id: `aaaaaaaa-aaaa-4aaa-8aaa-00000000000${i}`, name: `n${i}`, status: 'queued', visibility: 'private', protected: false, os_hidden: false, owner: 'p',
        checksum: null, os_hash_algo: null, os_hash_value: null, size: null, virtual_size: null, min_disk: 0, min_ram: 0, disk_format: null,
        container_format: null, tags: [], created_at: at, updated_at: at, properties: {}, location: null, upload: null, failure: null, version: 1, ...fields,
      } as Image;
    };
    const images = [
      image(1, { size: 30, status: 'active', tags: ['gold'], updated_at: '2026-02-01T00:00:09Z' }),
      image(2, { size: 10, tags: ['gold', 'blue'], updated_at: '2026-02-01T00:00:07Z' }),
      image(3, { size: 20, status: 'active', updated_at: '2026-02-01T00:00:08Z' }),
    ];
    for (const img of images) await repo.create(img);
    const [a, b, c] = images.map((i) => i.id);
    const owner = { projectId: 'p', isAdmin: false };
    const admin = { projectId: 'ops', isAdmin: true };
    const partial = new DynamoImageLists(client, { tableName: name, indexes: deployedIndexes(8) });
    const listed = async (who: typeof owner, params: Record<string, string[]>) => (await partial.list(who, parseListQuery(params), undefined)).images.map((i) => i.id);
    // Served by the twins that exist...
    expect(await listed(owner, { sort: ['name:desc'] })).toEqual([c, b, a]);
    expect(await listed(owner, { name: ['n2'] })).toEqual([b]);
    // ...and by the function where they do not yet, in Glance's order all the same.
    expect(await listed(owner, { sort: ['updated_at:asc'] })).toEqual([b, c, a]);
    expect(await listed(admin, { sort_key: ['size'], sort_dir: ['desc'] })).toEqual([a, c, b]);
    expect(await listed(owner, { sort: ['status:asc'] })).toEqual([a, c, b]);
    expect(await listed(owner, { status: ['active'] })).toEqual([c, a]);
    expect(await listed(owner, { tag: ['gold'] })).toEqual([b, a]);
    expect(await listed(admin, { tag: ['gold'], sort: ['created_at:asc'] })).toEqual([a, b]);
    // Images shared with the caller: its memberships' copies on byOwner (the first index), read
    // by `listSk` and sorted in the function where the twins are missing.
    const sharedImage = image(4, { owner: 'p2', visibility: 'shared', size: 5 });
    await repo.create(sharedImage);
    const now = '2026-02-01T00:00:10Z';
    await new DynamoMemberRepository(client, { tableName: name }).add(sharedImage, { image_id: sharedImage.id, member_id: 'p', status: 'accepted', created_at: now, updated_at: now, version: 0 }, 0);
    expect(await listed(owner, { sort: ['size:asc'] })).toEqual([sharedImage.id, b, c, a]);
    expect(await listed(owner, { name: ['n4'] })).toEqual([sharedImage.id]);
    expect(await listed(owner, { sort: ['name:desc'], visibility: ['shared'] })).toEqual([sharedImage.id]);
    // Naming every index (what the lists did before they knew), the Query names one the table lacks.
    const naive = new DynamoImageLists(client, { tableName: name });
    await expect(naive.list(owner, parseListQuery({ sort: ['updated_at:asc'] }), undefined)).rejects.toThrow();
  });
});
