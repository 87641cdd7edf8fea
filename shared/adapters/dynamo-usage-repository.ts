import type { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { ConditionalCheckFailedException } from '@aws-sdk/client-dynamodb';
import { DynamoDBDocumentClient, GetCommand, QueryCommand, UpdateCommand } from '@aws-sdk/lib-dynamodb';
import { NO_USAGE, QUOTA_RESOURCES, type Usage } from '../domain/quota.js';
import type { StoredUsage, UsageRepository } from '../ports/usage-repository.js';
import { INDEXES, LIST_SORT_KEY, listShardOf, projectPartition, shardPartition, shardPartitions, TABLE_KEYS, USAGE_LIST_PARTITION, USAGE_SORT_KEY } from './table-design.js';

type Item = Record<string, unknown>;

export function usageKey(project: string): Item {
  return { [TABLE_KEYS.partitionKey]: projectPartition(project), [TABLE_KEYS.sortKey]: USAGE_SORT_KEY };
}

/**
 * The attributes that put a usage item on the `all` index (see USAGE_LIST_PARTITION): in its
 * project's shard, since every image write that changes usage rewrites the counter's entry.
 */
export function usageIndexAttributes(project: string): Item {
  return { [INDEXES.all.partitionKey]: shardPartition(USAGE_LIST_PARTITION, listShardOf(project)), [LIST_SORT_KEY]: project };
}

export function storedUsageOf(project: string, item: Item | undefined): StoredUsage {
  const usage = { ...NO_USAGE };
  for (const resource of QUOTA_RESOURCES) if (typeof item?.[resource] === 'number') usage[resource] = item[resource];
  return { project, usage, version: typeof item?.version === 'number' ? item.version : 0 };
}

/** The usage items of the image table (shared/adapters/table-design.ts, projectPartition). */
export class DynamoUsageRepository implements UsageRepository {
  private readonly doc: DynamoDBDocumentClient;

  constructor(
    client: DynamoDBClient,
    private readonly options: { tableName: string },
  ) {
    this.doc = DynamoDBDocumentClient.from(client);
  }

  async get(project: string): Promise<StoredUsage> {
    const out = await this.doc.send(new GetCommand({ TableName: this.options.tableName, Key: usageKey(project), ConsistentRead: true }));
    return storedUsageOf(project, out.Item);
  }

  /** Every project's counters, shard after shard (in no particular order across shards). */
  async *all(): AsyncIterable<StoredUsage> {
    for (const partition of shardPartitions(USAGE_LIST_PARTITION)) {
      let startKey: Item | undefined;
      do {
        const out = await this.doc.send(
          new QueryCommand({
            TableName: this.options.tableName,
            IndexName: INDEXES.all.name,
            KeyConditionExpression: '#p = :p',
            ExpressionAttributeNames: { '#p': INDEXES.all.partitionKey },
            ExpressionAttributeValues: { ':p': partition },
            ExclusiveStartKey: startKey,
          }),
        );
        for (const item of out.Items ?? []) yield storedUsageOf(String(item[LIST_SORT_KEY]), item);
        startKey = out.LastEvaluatedKey;
      } while (startKey);
    }
  }

  async repair(stored: StoredUsage, usage: Usage): Promise<boolean> {
    const names: Record<string, string> = { '#version': 'version' };
    const values: Item = { ':one': 1 };
    const sets = QUOTA_RESOURCES.map((resource, i) => {
      names[`#r${i}`] = resource;
      values[`:r${i}`] = usage[resource];
      return `#r${i} = :r${i}`;
    });
    for (const [name, value] of Object.entries(usageIndexAttributes(stored.project))) {
      names[`#${name}`] = name;
      values[`:${name}`] = value;
      sets.push(`#${name} = :${name}`);
    }
    if (stored.version > 0) values[':v'] = stored.version;
    try {
      await this.doc.send(
        new UpdateCommand({
          TableName: this.options.tableName,
          Key: usageKey(stored.project),
          UpdateExpression: `SET ${sets.join(', ')} ADD #version :one`,
          ConditionExpression: stored.version > 0 ? '#version = :v' : 'attribute_not_exists(#version)',
          ExpressionAttributeNames: names,
          ExpressionAttributeValues: values,
        }),
      );
      return true;
    } catch (error) {
      if (error instanceof ConditionalCheckFailedException) return false;
      throw error;
    }
  }
}
