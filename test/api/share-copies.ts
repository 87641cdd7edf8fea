import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { DynamoDBDocumentClient, QueryCommand } from '@aws-sdk/lib-dynamodb';
import { inject } from 'vitest';

/**
 * Waits until the memberships' copies of their images' list keys have followed every write of
 * these images (docs/table-design.md, "Shared-with-me images"): the stream's consumer (the publishEvents
 * worker) gives each live membership `imageVersion` = its image's version. Read from the table
 * (one strongly consistent Query per image partition), so a test waits for that state, never
 * for a guessed time.
 */
export async function shareCopiesFollowed(imageIds: readonly string[], timeoutMs = 20_000): Promise<void> {
  const client = new DynamoDBClient({ endpoint: inject('dynamodbEndpoint'), region: 'us-east-1', credentials: { accessKeyId: 'local', secretAccessKey: 'local' } });
  const doc = DynamoDBDocumentClient.from(client);
  const deadline = Date.now() + timeoutMs;
  try {
    for (;;) {
      const behind: string[] = [];
      for (const id of new Set(imageIds)) if (await lagging(doc, id)) behind.push(id);
      if (behind.length === 0) return;
      if (Date.now() > deadline) throw new Error(`memberships' copies still behind their images: ${behind.join(', ')}`);
      await new Promise((r) => setTimeout(r, 50));
    }
  } finally {
    client.destroy();
  }
}

/** Whether a live membership of the image holds copies of an older version of it than the image's. */
async function lagging(doc: DynamoDBDocumentClient, imageId: string): Promise<boolean> {
  const out = await doc.send(
    new QueryCommand({
      TableName: inject('tableName'),
      KeyConditionExpression: 'pk = :pk',
      ExpressionAttributeValues: { ':pk': `IMAGE#${imageId}` },
      ConsistentRead: true,
    }),
  );
  const items = out.Items ?? [];
  const image = items.find((i) => i.sk === 'IMAGE');
  if (!image) return false;
  return items.some((i) => String(i.sk).startsWith('MEMBER#') && i.deleted === false && i.imageVersion !== image.version);
}
