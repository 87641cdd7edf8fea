import type { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { ConditionalCheckFailedException, TransactionCanceledException } from '@aws-sdk/client-dynamodb';
import { DynamoDBDocumentClient, GetCommand, TransactWriteCommand, paginateQuery, type TransactWriteCommandInput } from '@aws-sdk/lib-dynamodb';
import { isUuid, type Image } from '../domain/image.js';
import { badRequest } from '../domain/errors.js';
import { compareTasks, isExpired, taskTimestamp, type Task, type TaskListQuery, type TaskSettlement } from '../domain/task.js';
import type { ImageTasks, TaskRepository } from '../ports/task-repository.js';
import { imageFromItem } from './image-item.js';
import {
  IMAGE_SORT_KEY, IMAGE_TASK_SORT_PREFIX, imagePartition, INDEXES, LIST_SORT_KEY, listShardOf, shardPartition, shardPartitions, TABLE_KEYS, TASK_LIST_PARTITION,
  TASK_SORT_KEY, taskPartition, TTL_ATTRIBUTE,
} from './table-design.js';

type Item = Record<string, unknown>;
/** One item of a TransactWriteItems. */
export type TransactItem = NonNullable<TransactWriteCommandInput['TransactItems']>[number];
type TransactPut = NonNullable<TransactItem['Put']>;
type TransactUpdate = NonNullable<TransactItem['Update']>;

/** The task was not recorded: a task with its id exists. */
export class DuplicateTaskError extends Error {
  constructor(readonly id: string) {
    super(`Task ${id} already exists`);
    this.name = 'DuplicateTaskError';
  }
}

const TASK_FIELDS = ['id', 'type', 'status', 'owner', 'user_id', 'request_id', 'image_id', 'message', 'created_at', 'updated_at', 'expires_at', 'version'] as const;

/** Epoch seconds for DynamoDB's TTL: a finished task's item goes once it expires (up to a couple of days late: reads filter). */
function ttlOf(expiresAt: string | null): number | undefined {
  return expiresAt ? Math.floor(Date.parse(expiresAt) / 1000) : undefined;
}

/**
 * A task's stored attributes. `input` and `result` are client data (their keys too) and are
 * kept as JSON strings, as image properties are, so no key of theirs is ever an attribute name.
 */
function taskAttributes(task: Task): Item {
  const item: Item = {};
  for (const field of TASK_FIELDS) item[field] = task[field];
  item.input = task.input === null ? null : JSON.stringify(task.input);
  item.result = task.result === null ? null : JSON.stringify(task.result);
  const ttl = ttlOf(task.expires_at);
  if (ttl !== undefined) item[TTL_ATTRIBUTE] = ttl;
  return item;
}

export function taskFromItem(item: Item): Task {
  const task = {} as Record<string, unknown>;
  for (const field of TASK_FIELDS) task[field] = item[field] ?? null;
  task.message = typeof item.message === 'string' ? item.message : '';
  task.input = typeof item.input === 'string' ? JSON.parse(item.input) : null;
  task.result = typeof item.result === 'string' ? JSON.parse(item.result) : null;
  return task as unknown as Task;
}

function taskKey(taskId: string): Item {
  return { [TABLE_KEYS.partitionKey]: taskPartition(taskId), [TABLE_KEYS.sortKey]: TASK_SORT_KEY };
}

function imageTaskKey(imageId: string, taskId: string): Item {
  return { [TABLE_KEYS.partitionKey]: imagePartition(imageId), [TABLE_KEYS.sortKey]: `${IMAGE_TASK_SORT_PREFIX}${taskId}` };
}

const listSortKey = (task: Pick<Task, 'created_at' | 'id'>) => `${task.created_at}#${task.id}`;

/**
 * The Puts that record a new task, each conditional on its key being unused: the task's own
 * item (with its `all` index keys) and, when it names an image, the copy in the image's
 * partition. An image write that starts an import adds them to its transaction.
 */
export function taskCreatePuts(table: string, task: Task): TransactItem[] {
  const attributes = taskAttributes(task);
  const condition = { ConditionExpression: 'attribute_not_exists(#pk)', ExpressionAttributeNames: { '#pk': TABLE_KEYS.partitionKey } };
  const puts: TransactPut[] = [
    {
      TableName: table,
      Item: {
        ...taskKey(task.id),
        ...attributes,
        [INDEXES.all.partitionKey]: shardPartition(TASK_LIST_PARTITION, listShardOf(task.id)),
        [LIST_SORT_KEY]: listSortKey(task),
      },
      ...condition,
    },
  ];
  if (task.image_id) puts.push({ TableName: table, Item: { ...imageTaskKey(task.image_id, task.id), ...attributes }, ...condition });
  return puts.map((Put) => ({ Put }));
}

/**
 * The Updates that finish a running task, on both its items, each conditional on the task
 * still running: the image write that settles the import carries them in its transaction, so
 * a task can only finish together with its image, and only once.
 */
export function taskSettlementUpdates(table: string, settlement: TaskSettlement): TransactItem[] {
  const ttl = ttlOf(settlement.expires_at);
  const update = (Key: Item): TransactItem => ({ Update: {
    TableName: table,
    Key,
    UpdateExpression: 'SET #status = :status, #message = :message, #result = :result, #updated = :updated, #expires = :expires, #ttl = :ttl ADD #version :one',
    ConditionExpression: '#status IN (:pending, :processing)',
    ExpressionAttributeNames: {
      '#status': 'status', '#message': 'message', '#result': 'result', '#updated': 'updated_at', '#expires': 'expires_at', '#ttl': TTL_ATTRIBUTE, '#version': 'version',
    },
    ExpressionAttributeValues: {
      ':status': settlement.status,
      ':message': settlement.message,
      ':result': settlement.result === null ? null : JSON.stringify(settlement.result),
      ':updated': settlement.updated_at,
      ':expires': settlement.expires_at,
      ':ttl': ttl,
      ':one': 1,
      ':pending': 'pending',
      ':processing': 'processing',
    },
  } satisfies TransactUpdate });
  return [update(taskKey(settlement.task_id)), ...(settlement.image_id ? [update(imageTaskKey(settlement.image_id, settlement.task_id))] : [])];
}

export interface DynamoTaskRepositoryOptions {
  tableName: string;
  now?: () => Date;
  /** Past this many matching tasks, a list in an order no index keeps is refused (400) rather than run into the function's timeout. */
  maxSortedTasks?: number;
}

/** ~10 MB of tasks, read in well under the list function's 10 s. */
export const MAX_SORTED_TASKS = 10_000;

/** Tasks in the image table (docs/table-design.md, "Tasks"). */
export class DynamoTaskRepository implements TaskRepository {
  private readonly doc: DynamoDBDocumentClient;
  private readonly table: string;
  private readonly now: () => Date;
  private readonly maxSortedTasks: number;

  constructor(client: DynamoDBClient, options: DynamoTaskRepositoryOptions) {
    this.doc = DynamoDBDocumentClient.from(client, { marshallOptions: { removeUndefinedValues: true } });
    this.table = options.tableName;
    this.now = options.now ?? (() => new Date());
    this.maxSortedTasks = options.maxSortedTasks ?? MAX_SORTED_TASKS;
  }

  async get(id: string): Promise<Task | undefined> {
    if (!isUuid(id)) return undefined;
    const out = await this.doc.send(new GetCommand({ TableName: this.table, Key: taskKey(id.toLowerCase()), ConsistentRead: true }));
    const task = out.Item ? taskFromItem(out.Item) : undefined;
    return task && !isExpired(task, this.now()) ? task : undefined;
  }

  async imageTasks(imageId: string): Promise<ImageTasks> {
    if (!isUuid(imageId)) return { image: undefined, tasks: [] };
    // The image's item (`IMAGE`) and its tasks (`IMAGE#TASK#...`) are the partition's keys that
    // start with IMAGE: its members (`MEMBER#`) are not read.
    let image: Image | undefined;
    const tasks: Task[] = [];
    const pages = paginateQuery(
      { client: this.doc },
      {
        TableName: this.table,
        KeyConditionExpression: '#pk = :pk AND begins_with(#sk, :image)',
        ExpressionAttributeNames: { '#pk': TABLE_KEYS.partitionKey, '#sk': TABLE_KEYS.sortKey },
        ExpressionAttributeValues: { ':pk': imagePartition(imageId), ':image': IMAGE_SORT_KEY },
        ConsistentRead: true,
      },
    );
    for await (const page of pages) {
      for (const item of page.Items ?? []) {
        const sk = String(item[TABLE_KEYS.sortKey]);
        if (sk === IMAGE_SORT_KEY) image = imageFromItem(item);
        else if (sk.startsWith(IMAGE_TASK_SORT_PREFIX)) tasks.push(taskFromItem(item));
      }
    }
    const now = this.now();
    return { image, tasks: tasks.filter((t) => !isExpired(t, now)).sort((a, b) => listSortKey(a).localeCompare(listSortKey(b))) };
  }

  async list(query: TaskListQuery, marker: Task | undefined, owner: string | undefined): Promise<Task[]> {
    if (query.limit === 0) return [];
    const now = this.now();
    const keep = (t: Task) => !isExpired(t, now) && (!query.status || t.status === query.status) && (!query.type || t.type === query.type) && (owner === undefined || t.owner === owner);
    if (query.sortKey !== 'created_at') return this.listSortedInMemory(query, marker, keep);
    const bound = marker ? listSortKey(marker) : undefined;
    // Each shard is read in order up to a page of matches; the pages merge by the same key.
    const shards = await Promise.all(shardPartitions(TASK_LIST_PARTITION).map((partition) => this.shardPage(partition, query, bound, keep)));
    const merged = shards.flat().sort((a, b) => listSortKey(a).localeCompare(listSortKey(b)));
    if (!query.forward) merged.reverse();
    return merged.slice(0, query.limit);
  }

  /**
   * Orders no index keeps (status, type, id, updated_at): every unexpired task is read (the
   * store holds about 48 hours of them: task_time_to_live) and sorted here, within a bound.
   */
  private async listSortedInMemory(query: TaskListQuery, marker: Task | undefined, keep: (t: Task) => boolean): Promise<Task[]> {
    const everything = { ...query, limit: this.maxSortedTasks + 1, sortKey: 'created_at' as const };
    const shards = await Promise.all(shardPartitions(TASK_LIST_PARTITION).map((partition) => this.shardPage(partition, everything, undefined, keep)));
    const all = shards.flat();
    if (all.length > this.maxSortedTasks) {
      throw badRequest(`More than ${this.maxSortedTasks} tasks match: sort them by created_at (the indexed order), or narrow the list with status= or type=.`);
    }
    const compare = compareTasks(query.sortKey, query.forward);
    all.sort(compare);
    const start = marker ? all.filter((t) => compare(t, marker) <= 0).length : 0;
    return all.slice(start, start + query.limit);
  }

  private async shardPage(partition: string, query: TaskListQuery, bound: string | undefined, keep: (t: Task) => boolean): Promise<Task[]> {
    const found: Task[] = [];
    const pages = paginateQuery(
      { client: this.doc },
      {
        TableName: this.table,
        IndexName: INDEXES.all.name,
        KeyConditionExpression: bound ? `#p = :p AND #s ${query.forward ? '>' : '<'} :bound` : '#p = :p',
        ExpressionAttributeNames: { '#p': INDEXES.all.partitionKey, ...(bound ? { '#s': LIST_SORT_KEY } : {}) },
        ExpressionAttributeValues: { ':p': partition, ...(bound ? { ':bound': bound } : {}) },
        ScanIndexForward: query.forward,
        Limit: Math.min(query.limit + 1, 1000),
      },
    );
    for await (const page of pages) {
      for (const item of page.Items ?? []) {
        const task = taskFromItem(item);
        if (keep(task)) found.push(task);
        // Leaving the loop stops the paginator: no further page is read.
        if (found.length >= query.limit) return found;
      }
    }
    return found;
  }

  async create(task: Task): Promise<void> {
    const puts = taskCreatePuts(this.table, task);
    try {
      await this.doc.send(new TransactWriteCommand({ TransactItems: puts }));
    } catch (error) {
      if (error instanceof TransactionCanceledException && error.CancellationReasons?.some((r) => r.Code === 'ConditionalCheckFailed')) throw new DuplicateTaskError(task.id);
      if (error instanceof ConditionalCheckFailedException) throw new DuplicateTaskError(task.id);
      throw error;
    }
  }

  async recordProgress(taskId: string, imageId: string, message: string): Promise<boolean> {
    const update = (Key: Item) => ({ Update: {
      TableName: this.table,
      Key,
      UpdateExpression: 'SET #message = :message, #updated = :updated',
      ConditionExpression: '#status = :processing',
      ExpressionAttributeNames: { '#status': 'status', '#message': 'message', '#updated': 'updated_at' },
      ExpressionAttributeValues: { ':message': message, ':updated': taskTimestamp(this.now()), ':processing': 'processing' },
    } });
    try {
      await this.doc.send(new TransactWriteCommand({ TransactItems: [update(taskKey(taskId)), update(imageTaskKey(imageId, taskId))] }));
      return true;
    } catch (error) {
      if (error instanceof TransactionCanceledException && error.CancellationReasons?.some((r) => r.Code === 'ConditionalCheckFailed')) return false;
      throw error;
    }
  }
}
