import { DynamoDBClient, GetItemCommand } from '@aws-sdk/client-dynamodb';

/**
 * Cold-import reference (bench section 2): a function that does nothing but hold a bare
 * DynamoDB client, bundled like every Skyglass function. What a handler costs beyond this is
 * Skyglass's own code; up to it, the AWS SDK's.
 */
export const handler = async () => new DynamoDBClient({}).send(new GetItemCommand({ TableName: 'reference', Key: {} }));
