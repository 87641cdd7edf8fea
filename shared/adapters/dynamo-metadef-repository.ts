import { ConditionalCheckFailedException, TransactionCanceledException, type DynamoDBClient } from '@aws-sdk/client-dynamodb';
import {
  BatchWriteCommand,
  DeleteCommand,
  DynamoDBDocumentClient,
  GetCommand,
  PutCommand,
  paginateQuery,
  TransactWriteCommand,
  type TransactWriteCommandInput,
} from '@aws-sdk/lib-dynamodb';
import type { MetadefNamespace, MetadefObject, MetadefTag, NamespaceContents, PropertyDefinition, ResourceType } from '../domain/metadefs.js';
import { MetadefWriteRefused, type Catalogue, type ChildKind, type MetadefRepository, type NewChild, type StoredChild } from '../ports/metadef-repository.js';
import { METADEF_CATALOGUE_PARTITION, metadefChildPartition, TABLE_KEYS } from './table-design.js';

type Item = Record<string, unknown>;
type TransactItem = NonNullable<TransactWriteCommandInput['TransactItems']>[number];

const { partitionKey: PK, sortKey: SK } = TABLE_KEYS;
const NAMESPACE_PREFIX = 'NAMESPACE#';
const RESOURCE_TYPE_PREFIX = 'RESOURCE_TYPE#';
const SEEDED_PREFIX = 'SEEDED#';
const PURGE_PREFIX = 'PURGE#';
/** DynamoDB's limits: 100 items per transaction, 25 per BatchWriteItem. */
const TRANSACTION_MAX = 100;
const BATCH_WRITE_MAX = 25;

const namespaceKey = (name: string) => ({ [PK]: METADEF_CATALOGUE_PARTITION, [SK]: `${NAMESPACE_PREFIX}${name}` });
const childKey = (uuid: string, kind: ChildKind, name: string) => ({ [PK]: metadefChildPartition(uuid), [SK]: `${kind}#${name}` });

function namespaceFromItem(item: Item): MetadefNamespace {
  const { [PK]: _pk, [SK]: _sk, ...rest } = item;
  const namespace = rest as unknown as MetadefNamespace;
  return { ...namespace, resource_type_associations: namespace.resource_type_associations ?? [] };
}

function childFromItem(item: Item): StoredChild {
  return { name: item.name as string, data: (item.data as Record<string, unknown>) ?? {}, created_at: item.created_at as string, updated_at: item.updated_at as string };
}

const childItem = (uuid: string, kind: ChildKind, child: StoredChild): Item => ({ ...childKey(uuid, kind, child.name), kind, ...child });

/** Whether the transaction failed only because another transaction held an item (worth a retry). */
function conflictOnly(error: TransactionCanceledException): boolean {
  const codes = (error.CancellationReasons ?? []).map((r) => r.Code ?? 'None');
  return codes.includes('TransactionConflict') && !codes.includes('ConditionalCheckFailed');
}

/**
 * The metadefs catalogue in the image table: namespaces, resource types, seed markers and purge
 * markers in the one partition METADEFS; each namespace's objects, properties and tags in the
 * partition of its uuid (docs/table-design.md, "Metadata definitions").
 */
export class DynamoMetadefRepository implements MetadefRepository {
  private readonly doc: DynamoDBDocumentClient;
  private readonly table: string;

  constructor(client: DynamoDBClient, options: { tableName: string }) {
    this.doc = DynamoDBDocumentClient.from(client, { marshallOptions: { removeUndefinedValues: true } });
    this.table = options.tableName;
  }

  private async queryAll(partition: string, prefix?: string): Promise<Item[]> {
    const items: Item[] = [];
    const pages = paginateQuery(
      { client: this.doc },
      {
        TableName: this.table,
        KeyConditionExpression: prefix ? '#pk = :pk AND begins_with(#sk, :prefix)' : '#pk = :pk',
        ExpressionAttributeNames: { '#pk': PK, ...(prefix && { '#sk': SK }) },
        ExpressionAttributeValues: { ':pk': partition, ...(prefix && { ':prefix': prefix }) },
        ConsistentRead: true,
      },
    );
    for await (const page of pages) items.push(...((page.Items as Item[] | undefined) ?? []));
    return items;
  }

  private async transact(items: TransactItem[]): Promise<void> {
    if (items.length > TRANSACTION_MAX) throw new MetadefWriteRefused('too-large');
    for (let attempt = 0; ; attempt++) {
      try {
        await this.doc.send(new TransactWriteCommand({ TransactItems: items }));
        return;
      } catch (error) {
        if (!(error instanceof TransactionCanceledException)) throw error;
        if (conflictOnly(error) && attempt < 4) {
          await new Promise((resolve) => setTimeout(resolve, 20 + Math.random() * 60 * (attempt + 1)));
          continue;
        }
        const failed = (error.CancellationReasons ?? []).findIndex((r) => r.Code === 'ConditionalCheckFailed');
        throw new MetadefWriteRefused(failed >= 0 && items[failed]?.Put?.ConditionExpression?.includes('attribute_not_exists') ? 'exists' : 'changed');
      }
    }
  }

  async catalogue(): Promise<Catalogue> {
    const items = await this.queryAll(METADEF_CATALOGUE_PARTITION);
    const catalogue: Catalogue = { namespaces: [], resourceTypes: [], seeded: [] };
    for (const item of items) {
      const sk = item[SK] as string;
      if (sk.startsWith(NAMESPACE_PREFIX)) catalogue.namespaces.push(namespaceFromItem(item));
      else if (sk.startsWith(RESOURCE_TYPE_PREFIX)) catalogue.resourceTypes.push({ name: item.name as string, created_at: item.created_at as string, updated_at: item.updated_at as string });
      else if (sk.startsWith(SEEDED_PREFIX)) catalogue.seeded.push(sk.slice(SEEDED_PREFIX.length));
    }
    return catalogue;
  }

  async namespace(name: string): Promise<MetadefNamespace | undefined> {
    const out = await this.doc.send(new GetCommand({ TableName: this.table, Key: namespaceKey(name), ConsistentRead: true }));
    return out.Item ? namespaceFromItem(out.Item) : undefined;
  }

  async contents(uuid: string): Promise<NamespaceContents> {
    const contents: NamespaceContents = { properties: {}, objects: [], tags: [] };
    for (const item of await this.queryAll(metadefChildPartition(uuid))) {
      const child = childFromItem(item);
      // Glance's namespace show names each property inside its definition too.
      if (item.kind === 'PROPERTY') contents.properties[child.name] = { name: child.name, ...child.data } as PropertyDefinition;
      else if (item.kind === 'OBJECT') contents.objects.push(objectOf(child));
      else if (item.kind === 'TAG') contents.tags.push(tagOf(child));
    }
    return contents;
  }

  async children(uuid: string, kind: ChildKind): Promise<StoredChild[]> {
    return (await this.queryAll(metadefChildPartition(uuid), `${kind}#`)).map(childFromItem);
  }

  async child(uuid: string, kind: ChildKind, name: string): Promise<StoredChild | undefined> {
    const out = await this.doc.send(new GetCommand({ TableName: this.table, Key: childKey(uuid, kind, name), ConsistentRead: true }));
    return out.Item ? childFromItem(out.Item) : undefined;
  }

  async createNamespace(namespace: MetadefNamespace, children: readonly NewChild[], resourceTypes: readonly string[]): Promise<void> {
    const put = { TableName: this.table, Item: { ...namespaceKey(namespace.namespace), ...namespace }, ConditionExpression: 'attribute_not_exists(#pk)', ExpressionAttributeNames: { '#pk': PK } };
    if (children.length === 0 && resourceTypes.length === 0) {
      // The common case (and every concurrent create of one name) is one conditional PutItem.
      try {
        await this.doc.send(new PutCommand(put));
      } catch (error) {
        if (error instanceof ConditionalCheckFailedException) throw new MetadefWriteRefused('exists');
        throw error;
      }
      return;
    }
    await this.transact([
      { Put: put },
      ...children.map(({ kind, child }) => ({ Put: { TableName: this.table, Item: childItem(namespace.uuid, kind, child) } })),
      ...resourceTypes.map((name) => ({ Update: this.resourceTypeUpsert(name, namespace.created_at) })),
    ]);
  }

  private resourceTypeUpsert(name: string, at: string) {
    return {
      TableName: this.table,
      Key: { [PK]: METADEF_CATALOGUE_PARTITION, [SK]: `${RESOURCE_TYPE_PREFIX}${name}` },
      UpdateExpression: 'SET #name = :name, created_at = if_not_exists(created_at, :at), updated_at = if_not_exists(updated_at, :at)',
      ExpressionAttributeNames: { '#name': 'name' },
      ExpressionAttributeValues: { ':name': name, ':at': at },
    };
  }

  private onVersion(namespace: MetadefNamespace) {
    return { ConditionExpression: '#version = :version', ExpressionAttributeNames: { '#version': 'version' }, ExpressionAttributeValues: { ':version': namespace.version } };
  }

  async replaceNamespace(current: MetadefNamespace, next: MetadefNamespace, newResourceType?: string): Promise<void> {
    const item = { ...namespaceKey(next.namespace), ...next };
    const extra: TransactItem[] = newResourceType ? [{ Update: this.resourceTypeUpsert(newResourceType, next.updated_at) }] : [];
    if (current.namespace === next.namespace) {
      if (extra.length === 0) {
        try {
          await this.doc.send(new PutCommand({ TableName: this.table, Item: item, ...this.onVersion(current) }));
        } catch (error) {
          if (error instanceof ConditionalCheckFailedException) throw new MetadefWriteRefused('changed');
          throw error;
        }
        return;
      }
      await this.transact([{ Put: { TableName: this.table, Item: item, ...this.onVersion(current) } }, ...extra]);
      return;
    }
    // A rename moves the namespace item only; its children stay under its uuid.
    await this.transact([
      { Delete: { TableName: this.table, Key: namespaceKey(current.namespace), ...this.onVersion(current) } },
      { Put: { TableName: this.table, Item: item, ConditionExpression: 'attribute_not_exists(#pk)', ExpressionAttributeNames: { '#pk': PK } } },
      ...extra,
    ]);
  }

  async deleteNamespace(namespace: MetadefNamespace): Promise<void> {
    await this.transact([
      { Delete: { TableName: this.table, Key: namespaceKey(namespace.namespace), ...this.onVersion(namespace) } },
      { Put: { TableName: this.table, Item: { [PK]: METADEF_CATALOGUE_PARTITION, [SK]: `${PURGE_PREFIX}${namespace.uuid}`, namespace: namespace.namespace, uuid: namespace.uuid, created_at: namespace.updated_at } } },
    ]);
    await this.purge(namespace.uuid);
  }

  /** Removes a deleted namespace's children, then its purge marker: safe to repeat. */
  private async purge(uuid: string): Promise<void> {
    await this.deleteKeys((await this.queryAll(metadefChildPartition(uuid))).map((item) => ({ [PK]: item[PK], [SK]: item[SK] })));
    await this.doc.send(new DeleteCommand({ TableName: this.table, Key: { [PK]: METADEF_CATALOGUE_PARTITION, [SK]: `${PURGE_PREFIX}${uuid}` } }));
  }

  private async deleteKeys(keys: Item[]): Promise<void> {
    for (let i = 0; i < keys.length; i += BATCH_WRITE_MAX) {
      let requests: Record<string, unknown>[] | undefined = keys.slice(i, i + BATCH_WRITE_MAX).map((Key) => ({ DeleteRequest: { Key } }));
      for (let attempt = 0; requests && requests.length > 0; attempt++) {
        if (attempt > 8) throw new Error('BatchWriteItem kept leaving items unprocessed');
        const out = await this.doc.send(new BatchWriteCommand({ RequestItems: { [this.table]: requests as never } }));
        requests = out.UnprocessedItems?.[this.table] as Record<string, unknown>[] | undefined;
        if (requests?.length) await new Promise((resolve) => setTimeout(resolve, 25 * 2 ** attempt));
      }
    }
  }

  async finishPurges(): Promise<number> {
    const pending = await this.queryAll(METADEF_CATALOGUE_PARTITION, PURGE_PREFIX);
    for (const marker of pending) await this.purge(marker.uuid as string);
    return pending.length;
  }

  /** The namespace is still the one read (same uuid): children are never written into a deleted or replaced namespace. */
  private namespaceCheck(namespace: MetadefNamespace): TransactItem {
    return {
      ConditionCheck: {
        TableName: this.table,
        Key: namespaceKey(namespace.namespace),
        ConditionExpression: '#uuid = :uuid',
        ExpressionAttributeNames: { '#uuid': 'uuid' },
        ExpressionAttributeValues: { ':uuid': namespace.uuid },
      },
    };
  }

  async putChild(namespace: MetadefNamespace, kind: ChildKind, child: StoredChild, mode: { create: true } | { replacing: StoredChild }): Promise<void> {
    const put = { TableName: this.table, Item: childItem(namespace.uuid, kind, child) };
    if ('create' in mode) {
      await this.transact([this.namespaceCheck(namespace), { Put: { ...put, ConditionExpression: 'attribute_not_exists(#pk)', ExpressionAttributeNames: { '#pk': PK } } }]);
      return;
    }
    const old = mode.replacing;
    const onOld = { ConditionExpression: 'updated_at = :seen', ExpressionAttributeValues: { ':seen': old.updated_at } };
    if (old.name === child.name) {
      await this.transact([this.namespaceCheck(namespace), { Put: { ...put, ...onOld } }]);
      return;
    }
    await this.transact([
      this.namespaceCheck(namespace),
      { Delete: { TableName: this.table, Key: childKey(namespace.uuid, kind, old.name), ...onOld } },
      { Put: { ...put, ConditionExpression: 'attribute_not_exists(#pk)', ExpressionAttributeNames: { '#pk': PK } } },
    ]);
  }

  async deleteChild(namespace: MetadefNamespace, kind: ChildKind, name: string): Promise<void> {
    await this.transact([
      this.namespaceCheck(namespace),
      { Delete: { TableName: this.table, Key: childKey(namespace.uuid, kind, name), ConditionExpression: 'attribute_exists(#pk)', ExpressionAttributeNames: { '#pk': PK } } },
    ]);
  }

  async deleteChildren(namespace: MetadefNamespace, kind: ChildKind): Promise<void> {
    const keys = (await this.queryAll(metadefChildPartition(namespace.uuid), `${kind}#`)).map((item) => ({ [PK]: item[PK], [SK]: item[SK] }));
    await this.deleteKeys(keys);
  }

  async putTags(namespace: MetadefNamespace, tags: readonly StoredChild[], append: boolean, existing: readonly StoredChild[]): Promise<void> {
    const present = new Set(existing.map((t) => t.name));
    const items: TransactItem[] = [this.namespaceCheck(namespace)];
    if (!append) {
      for (const old of existing) items.push({ Delete: { TableName: this.table, Key: childKey(namespace.uuid, 'TAG', old.name) } });
    }
    for (const tag of tags) {
      if (append && present.has(tag.name)) continue;
      items.push({ Put: { TableName: this.table, Item: childItem(namespace.uuid, 'TAG', tag) } });
    }
    // A transaction may not touch one item twice: a replace that keeps a name puts it once.
    const seen = new Map<string, TransactItem>();
    for (const item of items) {
      const key = item.Put ? (item.Put.Item?.[SK] as string) : item.Delete ? (item.Delete.Key?.[SK] as string) : 'check';
      seen.set(key, item.Put ? item : (seen.get(key) ?? item));
    }
    await this.transact([...seen.values()]);
  }

  async ensureResourceType(type: ResourceType): Promise<void> {
    await this.doc.send(new PutCommand({
      TableName: this.table,
      Item: { [PK]: METADEF_CATALOGUE_PARTITION, [SK]: `${RESOURCE_TYPE_PREFIX}${type.name}`, ...type },
      ConditionExpression: 'attribute_not_exists(#pk)',
      ExpressionAttributeNames: { '#pk': PK },
    })).catch((error) => {
      if (!(error instanceof ConditionalCheckFailedException)) throw error;
    });
  }

  async markSeeded(version: string, at: string): Promise<void> {
    await this.doc.send(new PutCommand({ TableName: this.table, Item: { [PK]: METADEF_CATALOGUE_PARTITION, [SK]: `${SEEDED_PREFIX}${version}`, seeded_at: at } }));
  }
}

function objectOf(child: StoredChild): MetadefObject {
  const data = child.data as Partial<MetadefObject>;
  return {
    name: child.name,
    ...(data.description !== undefined && { description: data.description }),
    required: data.required ?? [],
    properties: data.properties ?? {},
    created_at: child.created_at,
    updated_at: child.updated_at,
  };
}

function tagOf(child: StoredChild): MetadefTag {
  return { name: child.name, created_at: child.created_at, updated_at: child.updated_at };
}

export { objectOf, tagOf };
