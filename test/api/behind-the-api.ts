import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { S3Client } from '@aws-sdk/client-s3';
import { inject } from 'vitest';
import { DynamoImageRepository } from '../../shared/adapters/dynamo-image-repository.js';
import { DynamoUsageRepository } from '../../shared/adapters/dynamo-usage-repository.js';
import { S3_CLIENT_DEFAULTS } from '../../shared/adapters/s3-blob-store.js';

/**
 * Clients for the emulators behind the API under test, for what a test must check or set up
 * where no client of the API can reach (object keys, stored sessions, the bucket itself).
 */
const CREDENTIALS = { accessKeyId: 'local', secretAccessKey: 'local' };

export function storeClient(): S3Client {
  return new S3Client({ endpoint: inject('s3Endpoint'), region: 'us-east-1', forcePathStyle: true, credentials: CREDENTIALS, ...S3_CLIENT_DEFAULTS });
}

export function imageTable(): DynamoImageRepository {
  const client = new DynamoDBClient({ endpoint: inject('dynamodbEndpoint'), region: 'us-east-1', credentials: CREDENTIALS });
  return new DynamoImageRepository(client, { tableName: inject('tableName') });
}

/** The per-project usage counters, as the auditor reads and repairs them. */
export function usageCounters(): DynamoUsageRepository {
  const client = new DynamoDBClient({ endpoint: inject('dynamodbEndpoint'), region: 'us-east-1', credentials: CREDENTIALS });
  return new DynamoUsageRepository(client, { tableName: inject('tableName') });
}
