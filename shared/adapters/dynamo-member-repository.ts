import type { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { DynamoDBDocumentClient, GetCommand } from '@aws-sdk/lib-dynamodb';
import { isUuid } from '../domain/image.js';
import type { ImageMember } from '../domain/member.js';
import type { MemberRepository } from '../ports/member-repository.js';
import { imagePartition, TABLE_KEYS } from './table-design.js';

export interface DynamoMemberRepositoryOptions {
  tableName: string;
}

/** Members as items in the image's partition: `IMAGE#<image id>` / `MEMBER#<project>`. */
export class DynamoMemberRepository implements MemberRepository {
  private readonly doc: DynamoDBDocumentClient;
  private readonly table: string;

  constructor(client: DynamoDBClient, options: DynamoMemberRepositoryOptions) {
    this.doc = DynamoDBDocumentClient.from(client, { marshallOptions: { removeUndefinedValues: true } });
    this.table = options.tableName;
  }

  async get(imageId: string, memberId: string): Promise<ImageMember | undefined> {
    if (!isUuid(imageId)) return undefined;
    const out = await this.doc.send(new GetCommand({ TableName: this.table, Key: memberKey(imageId, memberId), ConsistentRead: true }));
    return out.Item ? memberFromItem(out.Item) : undefined;
  }
}

export function memberKey(imageId: string, memberId: string): Record<string, string> {
  return { [TABLE_KEYS.partitionKey]: imagePartition(imageId), [TABLE_KEYS.sortKey]: `MEMBER#${memberId}` };
}

export function memberFromItem(item: Record<string, unknown>): ImageMember {
  return {
    image_id: String(item.image_id),
    member_id: String(item.member_id),
    status: item.status as ImageMember['status'],
    created_at: String(item.created_at),
    updated_at: String(item.updated_at),
  };
}
