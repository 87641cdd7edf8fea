import type { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { TransactionCanceledException } from '@aws-sdk/client-dynamodb';
import {
  BatchGetCommand,
  DynamoDBDocumentClient,
  GetCommand,
  QueryCommand,
  TransactWriteCommand,
  type TransactWriteCommandInput,
} from '@aws-sdk/lib-dynamodb';
import { isUuid, type Image } from '../domain/image.js';
import { MEMBER_EVENT_TYPES, type ImageEvent, type MemberEventType } from '../ports/events.js';
import { MemberWriteRefused, type ImagePartitionRead, type StoredMember, type MemberRepository, type MemberWriteRefusal } from '../ports/member-repository.js';
import { imageFromItem } from './image-item.js';
import { memberShareTagWrites, SHARE_TAGS_ATTRIBUTE, shareCopyAttributes } from './share-copies.js';
import { IMAGE_SORT_KEY, imagePartition, INDEXES, MEMBER_COUNT_SORT_KEY, MEMBER_SORT_PREFIX, memberIndexPartition, OUTBOX_ATTRIBUTE, TABLE_KEYS, TTL_ATTRIBUTE } from './table-design.js';

type Item = Record<string, unknown>;

export interface DynamoMemberRepositoryOptions {
  tableName: string;
  /** How long a removed membership's tombstone is kept (it carries the delete event). */
  tombstoneTtlSeconds?: number;
  now?: () => Date;
}

/** DynamoDB's BatchGetItem takes at most 100 keys. */
const BATCH_GET_MAX = 100;

/**
 * Members as items in the image's partition: `IMAGE#<image id>` / `MEMBER#<project>`, and one
 * counter item `IMAGE#<image id>` / `MEMBERS` (the quota's count). A removed membership stays
 * as a tombstone (`deleted`), as Glance keeps its row, so its delete event reaches the stream
 * (which carries new images only) and a re-add reuses it. Live members carry the byMember index
 * key (`<project>#<status>`, sorted by the image's `<created_at>#<id>`): "images shared with
 * project X" is a Query, never a Scan.
 */
export class DynamoMemberRepository implements MemberRepository {
  private readonly doc: DynamoDBDocumentClient;
  private readonly table: string;
  private readonly tombstoneTtl: number;
  private readonly now: () => Date;

  constructor(client: DynamoDBClient, options: DynamoMemberRepositoryOptions) {
    this.doc = DynamoDBDocumentClient.from(client, { marshallOptions: { removeUndefinedValues: true } });
    this.table = options.tableName;
    this.tombstoneTtl = options.tombstoneTtlSeconds ?? 90 * 24 * 3600;
    this.now = options.now ?? (() => new Date());
  }

  async get(imageId: string, memberId: string): Promise<StoredMember | undefined> {
    if (!isUuid(imageId)) return undefined;
    const out = await this.doc.send(new GetCommand({ TableName: this.table, Key: memberKey(imageId, memberId), ConsistentRead: true }));
    return out.Item && !out.Item.deleted ? memberFromItem(out.Item) : undefined;
  }

  async read(imageId: string, memberIds: readonly string[]): Promise<ImagePartitionRead> {
    if (!isUuid(imageId)) return { image: undefined, members: [], memberCount: 0 };
    const sortKeys = [IMAGE_SORT_KEY, MEMBER_COUNT_SORT_KEY, ...new Set(memberIds.map((m) => `${MEMBER_SORT_PREFIX}${m}`))];
    if (sortKeys.length > BATCH_GET_MAX) throw new Error('read: too many members for one BatchGetItem');
    let keys: Item[] = sortKeys.map((sk) => ({ [TABLE_KEYS.partitionKey]: imagePartition(imageId), [TABLE_KEYS.sortKey]: sk }));
    const items: Item[] = [];
    // Unprocessed keys (throttling) are asked for again; a read never silently drops an item.
    while (keys.length) {
      const out = await this.doc.send(new BatchGetCommand({ RequestItems: { [this.table]: { Keys: keys, ConsistentRead: true } } }));
      items.push(...(out.Responses?.[this.table] ?? []));
      keys = (out.UnprocessedKeys?.[this.table]?.Keys as Item[] | undefined) ?? [];
    }
    return partitionRead(items);
  }

  async readAll(imageId: string): Promise<ImagePartitionRead> {
    if (!isUuid(imageId)) return { image: undefined, members: [], memberCount: 0 };
    const items: Item[] = [];
    let startKey: Item | undefined;
    do {
      const out = await this.doc.send(
        new QueryCommand({
          TableName: this.table,
          // From the image to the member count: the image, its tasks and its memberships, not
          // the tag and share-tag items after them (up to 40 per membership).
          KeyConditionExpression: '#pk = :pk AND #sk BETWEEN :image AND :count',
          ExpressionAttributeNames: { '#pk': TABLE_KEYS.partitionKey, '#sk': TABLE_KEYS.sortKey },
          ExpressionAttributeValues: { ':pk': imagePartition(imageId), ':image': IMAGE_SORT_KEY, ':count': MEMBER_COUNT_SORT_KEY },
          ConsistentRead: true,
          ExclusiveStartKey: startKey,
        }),
      );
      items.push(...(out.Items ?? []));
      startKey = out.LastEvaluatedKey;
    } while (startKey);
    return partitionRead(items);
  }

  async add(image: Image, member: StoredMember, memberCount: number): Promise<void> {
    await this.transact(
      [
        this.imageCheck(image),
        this.countWrite(image.id, memberCount, memberCount + 1),
        {
          Put: {
            TableName: this.table,
            Item: this.memberItem(image, member, false, 'image.member.create'),
            // A tombstone (a membership removed earlier) is reused, as Glance reuses its row.
            ConditionExpression: 'attribute_not_exists(#pk) OR #deleted = :true',
            ExpressionAttributeNames: { '#pk': TABLE_KEYS.partitionKey, '#deleted': 'deleted' },
            ExpressionAttributeValues: { ':true': true },
          },
        },
        // A tombstone's share-tag items were retired with it: only the image's are put.
        ...this.shareTagWrites(image, member, member.status),
      ],
      ['image-changed', 'count-moved', 'duplicate'],
    );
  }

  async update(image: Image, next: StoredMember, previous: StoredMember): Promise<void> {
    await this.transact(
      [
        this.imageCheck(image),
        { Put: { TableName: this.table, Item: this.memberItem(image, next, false, 'image.member.update'), ...this.memberUnchanged(previous) } },
        ...this.shareTagWrites(image, previous, next.status),
      ],
      ['image-changed', 'member-changed'],
    );
  }

  async remove(image: Image, member: StoredMember, memberCount: number, at: string): Promise<void> {
    const tombstone = { ...member, updated_at: at };
    await this.transact(
      [
        this.imageCheck(image),
        this.countWrite(image.id, memberCount, Math.max(memberCount - 1, 0)),
        { Put: { TableName: this.table, Item: this.memberItem(image, tombstone, true, 'image.member.delete'), ...this.memberUnchanged(member) } },
        ...this.shareTagWrites(image, member, undefined),
      ],
      ['image-changed', 'count-moved', 'member-changed'],
    );
  }

  /**
   * The membership's share-tag items, in its write's transaction: those of the image on its new
   * status's shares partition (none once removed), the ones it recorded and no longer has retired.
   * At most 40 Puts and 40 retirements (or 1 overflow item each) beside the write's 2 or 3 actions: within 100.
   */
  private shareTagWrites(image: Image, member: StoredMember, status: StoredMember['status'] | undefined) {
    return memberShareTagWrites(this.table, image, member.member_id, status, member.shareTags ?? [], this.now());
  }

  /** The image is still the version read: live, shared, same owner (the version pins all of it). */
  private imageCheck(image: Image): NonNullable<TransactWriteCommandInput['TransactItems']>[number] {
    return {
      ConditionCheck: {
        TableName: this.table,
        Key: { [TABLE_KEYS.partitionKey]: imagePartition(image.id), [TABLE_KEYS.sortKey]: IMAGE_SORT_KEY },
        ConditionExpression: '#version = :v AND #visibility = :shared AND #owner = :owner AND NOT #status IN (:deleted, :pendingDelete)',
        ExpressionAttributeNames: { '#version': 'version', '#visibility': 'visibility', '#owner': 'owner', '#status': 'status' },
        ExpressionAttributeValues: { ':v': image.version, ':shared': 'shared', ':owner': image.owner, ':deleted': 'deleted', ':pendingDelete': 'pending_delete' },
      },
    };
  }

  /**
   * The member counter moves from the count read to `to`, in the same transaction as the
   * member: of concurrent adds that read the same count, one commits and the others fail, so
   * the quota the use case checked against that count cannot be overshot.
   */
  private countWrite(imageId: string, from: number, to: number): NonNullable<TransactWriteCommandInput['TransactItems']>[number] {
    return {
      Put: {
        TableName: this.table,
        Item: { [TABLE_KEYS.partitionKey]: imagePartition(imageId), [TABLE_KEYS.sortKey]: MEMBER_COUNT_SORT_KEY, count: to },
        ConditionExpression: from === 0 ? 'attribute_not_exists(#count) OR #count = :from' : '#count = :from',
        ExpressionAttributeNames: { '#count': 'count' },
        ExpressionAttributeValues: { ':from': from },
      },
    };
  }

  /** The stored membership is still the one read (live, same version). */
  private memberUnchanged(previous: StoredMember) {
    return {
      ConditionExpression: '#version = :mv AND #deleted = :false',
      ExpressionAttributeNames: { '#version': 'version', '#deleted': 'deleted' },
      ExpressionAttributeValues: { ':mv': previous.version, ':false': false },
    };
  }

  private memberItem(image: Image, member: StoredMember, deleted: boolean, event: MemberEventType): Item {
    const item: Item = {
      ...memberKey(image.id, member.member_id),
      image_id: member.image_id,
      member_id: member.member_id,
      status: member.status,
      created_at: member.created_at,
      updated_at: member.updated_at,
      version: member.version + 1,
      deleted,
      [OUTBOX_ATTRIBUTE]: [event],
    };
    if (deleted) item[TTL_ATTRIBUTE] = Math.floor(this.now().getTime() / 1000) + this.tombstoneTtl;
    else {
      // Only live members are in byMember, sorted as the image is in every list index; and they
      // carry copies of the image's list keys (on byOwner's `<member>#shared#<status>` and its
      // twins), taken from the image this write ConditionChecks, with its version: the stream's
      // copies of later image writes replace them, older ones are refused (shared/adapters/dynamo-share-copies.ts).
      item[INDEXES.byMember.partitionKey] = memberIndexPartition(member.member_id, member.status);
      Object.assign(item, shareCopyAttributes(image, member.member_id, member.status));
    }
    return item;
  }

  /** One transaction; a refused one names which item's condition failed, in the order of `reasons`. */
  private async transact(items: NonNullable<TransactWriteCommandInput['TransactItems']>, reasons: MemberWriteRefusal[]): Promise<void> {
    try {
      await this.doc.send(new TransactWriteCommand({ TransactItems: items }));
    } catch (error) {
      if (!(error instanceof TransactionCanceledException)) throw error;
      const codes = (error.CancellationReasons ?? []).map((r) => r.Code);
      const failed = reasons.find((_, i) => codes[i] === 'ConditionalCheckFailed');
      // Anything else (another transaction on the same items in flight) is a lost race too.
      throw new MemberWriteRefused(failed ?? 'count-moved');
    }
  }
}

export function memberKey(imageId: string, memberId: string): Record<string, string> {
  return { [TABLE_KEYS.partitionKey]: imagePartition(imageId), [TABLE_KEYS.sortKey]: `${MEMBER_SORT_PREFIX}${memberId}` };
}

export function memberFromItem(item: Record<string, unknown>): StoredMember {
  return {
    image_id: String(item.image_id),
    member_id: String(item.member_id),
    status: item.status as StoredMember['status'],
    created_at: String(item.created_at),
    updated_at: String(item.updated_at),
    version: typeof item.version === 'number' ? item.version : 0,
    ...(Array.isArray(item[SHARE_TAGS_ATTRIBUTE]) ? { shareTags: (item[SHARE_TAGS_ATTRIBUTE] as unknown[]).map(String) } : {}),
  };
}

function partitionRead(items: readonly Item[]): ImagePartitionRead {
  let image: Image | undefined;
  let memberCount = 0;
  const members: StoredMember[] = [];
  for (const item of items) {
    const sk = String(item[TABLE_KEYS.sortKey]);
    if (sk === IMAGE_SORT_KEY) image = imageFromItem(item);
    else if (sk === MEMBER_COUNT_SORT_KEY) memberCount = typeof item.count === 'number' ? item.count : 0;
    else if (sk.startsWith(MEMBER_SORT_PREFIX) && !item.deleted) members.push(memberFromItem(item));
  }
  return { image, members, memberCount };
}

/** The membership events a member item's write recorded (its outbox), for the relay. */
export function memberOutboxOf(item: Item): ImageEvent[] {
  const recorded = item[OUTBOX_ATTRIBUTE];
  if (!Array.isArray(recorded)) return [];
  const member = { ...memberFromItem(item), deleted: item.deleted === true };
  return recorded
    .filter((type): type is MemberEventType => (MEMBER_EVENT_TYPES as readonly unknown[]).includes(type))
    .map((type) => ({ type, member }));
}
