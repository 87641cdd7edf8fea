import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { DynamoImageRepository } from '../adapters/dynamo-image-repository.js';
import { config } from './config.js';
import { ImageService } from './images.js';

let images: ImageService | undefined;

/** The image use cases wired to the configured adapters, once per cold start. */
export function imageService(): ImageService {
  if (!images) {
    const { tableName, region, dynamodbEndpoint } = config();
    const client = new DynamoDBClient({ region, ...(dynamodbEndpoint ? { endpoint: dynamodbEndpoint } : {}) });
    images = new ImageService(new DynamoImageRepository(client, { tableName }));
  }
  return images;
}
