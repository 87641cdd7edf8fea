import { DynamoDBClient, GetItemCommand } from '@aws-sdk/client-dynamodb';

/**
 * Cold-import reference (bench section 2): a function that does nothing but hold a bare
 * DynamoDB client, bundled like every Skyglass function. What a handler costs beyond this is
 * Skyglass's own code; up to it, the AWS SDK's. Like the functions, it builds its client on
 * the first request and keeps it.
 */
let client: DynamoDBClient | undefined;

export const handler = async () => {
  const endpoint = process.env.DYNAMODB_ENDPOINT;
  client ??= new DynamoDBClient(endpoint ? { endpoint } : {});
  return client.send(new GetItemCommand({ TableName: 'reference', Key: { pk: { S: 'IMAGE#reference' } } }));
};
