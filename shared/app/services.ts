import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { EventBridgeClient } from '@aws-sdk/client-eventbridge';
import { SFNClient } from '@aws-sdk/client-sfn';
import { attachDynamoDbCallStats } from '../adapters/dynamodb-call-stats.js';
import { DynamoImageRepository } from '../adapters/dynamo-image-repository.js';
import { EventBridgeEvents } from '../adapters/eventbridge-events.js';
import { SfnWorkflows } from '../adapters/sfn-workflows.js';
import type { ImageEvents } from '../ports/events.js';
import type { ImageRepository } from '../ports/image-repository.js';
import type { Workflows } from '../ports/workflows.js';
import { config } from './config.js';
import { ImageService } from './images.js';

// Built on first use and kept for the life of the (Lambda) process. Functions that never
// touch image bytes import this module alone, so their bundles carry no S3 client.
let repository: ImageRepository | undefined;
let events: ImageEvents | undefined;
let workflows: Workflows | undefined;
let images: ImageService | undefined;

export function imageRepository(): ImageRepository {
  if (!repository) {
    const { tableName, region, dynamodbEndpoint } = config();
    const client = new DynamoDBClient({ region, ...(dynamodbEndpoint ? { endpoint: dynamodbEndpoint } : {}) });
    // Observability used by `npm run bench` (DynamoDB calls and items read per operation); off by default.
    if (process.env.SKYGLASS_DYNAMODB_STATS === '1') attachDynamoDbCallStats(client);
    repository = new DynamoImageRepository(client, { tableName });
  }
  return repository;
}

export function imageEvents(): ImageEvents {
  if (!events) {
    const { region, eventBusName, eventsEndpoint } = config();
    events = new EventBridgeEvents(new EventBridgeClient({ region, ...(eventsEndpoint ? { endpoint: eventsEndpoint } : {}) }), eventBusName);
  }
  return events;
}

export function imageWorkflows(): Workflows {
  if (!workflows) {
    const { region, sfnEndpoint, verifierArn, scrubberArn } = config();
    const sfn = new SFNClient({ region, ...(sfnEndpoint ? { endpoint: sfnEndpoint } : {}) });
    workflows = new SfnWorkflows(sfn, { verifier: verifierArn, scrubber: scrubberArn });
  }
  return workflows;
}

/** The image metadata use cases. */
export function imageService(): ImageService {
  const { delayedDelete, scrubDelaySeconds } = config();
  return (images ??= new ImageService(imageRepository(), imageEvents(), imageWorkflows(), { delayedDelete, scrubDelaySeconds }));
}
