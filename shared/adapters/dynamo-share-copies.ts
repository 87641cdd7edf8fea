import { ConditionalCheckFailedException, TransactionCanceledException, type DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { DynamoDBDocumentClient, QueryCommand, TransactWriteCommand, UpdateCommand } from '@aws-sdk/lib-dynamodb';
import type { Image } from '../domain/image.js';
import type { MemberStatus } from '../domain/member.js';
import type { ShareCopies } from '../ports/share-copies.js';
import { itemWrites } from './item-writes.js';
import { IMAGE_VERSION_ATTRIBUTE, SHARE_COPY_ATTRIBUTES, SHARE_TAGS_ATTRIBUTE, shareCopyAttributes, shareTagItemsOfMember } from './share-copies.js';
import { imagePartition, INDEXES, MEMBER_SORT_PREFIX, OUTBOX_ATTRIBUTE, TABLE_KEYS } from './table-design.js';

type Item = Record<string, unknown>;

/** UpdateItems in flight at once: an image has at most image_member_quota memberships (128 by default), so 4 rounds at most. */
const UPDATES_IN_FLIGHT = 32;

/**
 * The memberships' copies of an image's list keys (shared/adapters/share-copies.ts), written from
 * the table's stream after each image write: one strongly consistent Query of the image's
 * `MEMBER#` items (the stream delivers a record after its write commits, so every membership
 * written before it is seen), then one conditional UpdateItem per live membership whose copies
 * are older. The condition (live, the membership version read, copies of an older image version)
 * means a replayed or late record never overwrites newer copies, and a concurrent member write,
 * which takes its copies from the image version it ConditionChecks, is never undone.
 */
export class DynamoShareCopies implements ShareCopies {
  private readonly doc: DynamoDBDocumentClient;

  constructor(client: DynamoDBClient, private readonly table: string) {
    this.doc = DynamoDBDocumentClient.from(client, { marshallOptions: { removeUndefinedValues: true } });
  }

  async follow(image: Image): Promise<void> {
    const stale: Item[] = [];
    let startKey: Item | undefined;
    do {
      const out = await this.doc.send(
        new QueryCommand({
          TableName: this.table,
          KeyConditionExpression: '#pk = :pk AND begins_with(#sk, :member)',
          ExpressionAttributeNames: { '#pk': TABLE_KEYS.partitionKey, '#sk': TABLE_KEYS.sortKey },
          ExpressionAttributeValues: { ':pk': imagePartition(image.id), ':member': MEMBER_SORT_PREFIX },
          ConsistentRead: true,
          ExclusiveStartKey: startKey,
        }),
      );
      for (const item of out.Items ?? []) {
        const copied = item[IMAGE_VERSION_ATTRIBUTE];
        // Copies of this version or a later one are current, unless written before share-tag
        // items (no SHARE_TAGS_ATTRIBUTE: list keys version 4), which the rewrite brings up to date.
        const current = typeof copied === 'number' && (copied > image.version || (copied === image.version && SHARE_TAGS_ATTRIBUTE in item));
        if (item.deleted !== true && !current) stale.push(item);
      }
      startKey = out.LastEvaluatedKey;
    } while (startKey);
    for (let i = 0; i < stale.length; i += UPDATES_IN_FLIGHT) await Promise.all(stale.slice(i, i + UPDATES_IN_FLIGHT).map((member) => this.copyTo(member, image)));
  }

  /**
   * One membership's copies of `image`, and its share-tag items (shared/adapters/share-copies.ts):
   * a conditional UpdateItem of the member item, or, when its share-tag items change (the image's
   * tags, hidden state or liveness), one TransactWriteItems of that same Update and their Puts
   * (retired ones put back bare with a TTL): at most 1 + 40 + 40 actions.
   */
  private async copyTo(member: Item, image: Image): Promise<void> {
    const copies = shareCopyAttributes(image, String(member.member_id), member.status as MemberStatus);
    const names: Record<string, string> = { '#pk': TABLE_KEYS.partitionKey, '#deleted': 'deleted', '#version': 'version', '#iv': IMAGE_VERSION_ATTRIBUTE, '#outbox': OUTBOX_ATTRIBUTE, '#st': SHARE_TAGS_ATTRIBUTE };
    const values: Item = { ':false': false, ':mv': member.version, ':v': image.version };
    const sets: string[] = [];
    Object.entries(copies).forEach(([attr, value], i) => {
      names[`#a${i}`] = attr;
      values[`:a${i}`] = value;
      sets.push(`#a${i} = :a${i}`);
    });
    // A deleted image (pending_delete, deleted) takes its memberships out of the shares
    // partitions; the outbox goes too: it belongs to the member write that recorded it, and this
    // write's stream record must not carry its event again.
    const removed = ['#outbox', ...SHARE_COPY_ATTRIBUTES.filter((attr) => !(attr in copies)).map((attr, i) => ((names[`#r${i}`] = attr), `#r${i}`))];
    const key = { [TABLE_KEYS.partitionKey]: member[TABLE_KEYS.partitionKey], [TABLE_KEYS.sortKey]: member[TABLE_KEYS.sortKey] };
    const update = {
      TableName: this.table,
      Key: key,
      UpdateExpression: `SET ${sets.join(', ')} REMOVE ${removed.join(', ')}`,
      // Copies of an older version, or of this one from before share-tag items (no record of its tags).
      ConditionExpression: 'attribute_exists(#pk) AND #deleted = :false AND #version = :mv AND (attribute_not_exists(#iv) OR #iv < :v OR (#iv = :v AND attribute_not_exists(#st)))',
      ExpressionAttributeNames: names,
      ExpressionAttributeValues: values,
    };
    const tagWrites = itemWrites(this.table, { [TABLE_KEYS.partitionKey]: key[TABLE_KEYS.partitionKey] }, shareTagItemsOfMember(member), shareTagItemsOfMember({ ...member, ...copies, ...(INDEXES.byOwner.partitionKey in copies ? {} : { [INDEXES.byOwner.partitionKey]: undefined }) }), new Date());
    try {
      if (tagWrites.length === 0) await this.doc.send(new UpdateCommand(update));
      else await this.doc.send(new TransactWriteCommand({ TransactItems: [{ Update: update }, ...tagWrites] }));
    } catch (error) {
      // Changed since the Query (removed, or written by a member write with copies of this
      // version or a later one): nothing is left to copy.
      if (error instanceof ConditionalCheckFailedException) return;
      if (error instanceof TransactionCanceledException && error.CancellationReasons?.[0]?.Code === 'ConditionalCheckFailed') return;
      throw error;
    }
  }
}
