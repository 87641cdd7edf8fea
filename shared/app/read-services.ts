import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { attachAwsCallLog } from '../adapters/aws-call-log.js';
import { deployedIndexes } from '../adapters/table-design.js';
import { attachDynamoDbCallStats } from '../adapters/dynamodb-call-stats.js';
import { DynamoImageLists } from '../adapters/dynamo-image-lists.js';
import { DynamoImageRepository } from '../adapters/dynamo-image-repository.js';
import { DynamoMemberRepository } from '../adapters/dynamo-member-repository.js';
import { DynamoUsageRepository } from '../adapters/dynamo-usage-repository.js';
import { DynamoTaskRepository } from '../adapters/dynamo-task-repository.js';
import { attachFaultInjection } from '../adapters/fault-injection.js';
import { limitsFor } from '../domain/quota.js';
import type { ImageRepository } from '../ports/image-repository.js';
import type { MemberRepository } from '../ports/member-repository.js';
import type { UsageRepository } from '../ports/usage-repository.js';
import type { TaskRepository } from '../ports/task-repository.js';
import { TaskService } from './tasks.js';
import { AuthorizedImages } from './authorized-images.js';
import { config } from './config.js';
import { ImageQueries, ImageShow } from './image-queries.js';
import { policy } from './policy-config.js';
import { propertyProtections } from './property-protection-config.js';
import { UsageQueries } from './usage.js';

// Built on first use and kept for the life of the (Lambda) process. Read-only functions import
// this module alone, so their bundles carry only the DynamoDB client.
let dynamodb: DynamoDBClient | undefined;
let repository: ImageRepository | undefined;
let members: MemberRepository | undefined;
let queries: ImageQueries | undefined;
let shows: ImageShow | undefined;
let authorized: AuthorizedImages | undefined;
let usage: UsageQueries | undefined;
let usageCounters: UsageRepository | undefined;

/** The one DynamoDB client of the process, shared by the image and member repositories. */
export function dynamoDbClient(): DynamoDBClient {
  if (!dynamodb) {
    const { region, dynamodbEndpoint } = config();
    const client = new DynamoDBClient({ region, ...(dynamodbEndpoint ? { endpoint: dynamodbEndpoint } : {}) });
    // Observability used by `npm run bench` (DynamoDB calls and items read per operation); off by default.
    if (process.env.SKYGLASS_DYNAMODB_STATS === '1') attachDynamoDbCallStats(client);
    // Resilience tests only: the local runtime sets it, deployed functions never do.
    if (process.env.SKYGLASS_FAULTS_FILE) attachFaultInjection(client, process.env.SKYGLASS_FAULTS_FILE);
    // Tests only: every call recorded for the check against the stack's IAM (test/iam).
    if (process.env.SKYGLASS_AWS_CALL_LOG) attachAwsCallLog(client, 'dynamodb', process.env.SKYGLASS_AWS_CALL_LOG);
    dynamodb = client;
  }
  return dynamodb;
}

export function imageRepository(): ImageRepository {
  const { tableName, quotas } = config();
  return (repository ??= new DynamoImageRepository(dynamoDbClient(), { tableName, limits: (project) => (quotas ? limitsFor(quotas, project) : {}) }));
}

export function memberRepository(): MemberRepository {
  return (members ??= new DynamoMemberRepository(dynamoDbClient(), { tableName: config().tableName }));
}

/** Images as each caller may use them: every use case's reads go through this. */
export function authorizedImages(): AuthorizedImages {
  return (authorized ??= new AuthorizedImages(imageRepository(), memberRepository(), policy()));
}

/** Show. */
export function imageShow(): ImageShow {
  return (shows ??= new ImageShow(authorizedImages(), propertyProtections()));
}

/** List. */
export function imageQueries(): ImageQueries {
  return (queries ??= new ImageQueries(new DynamoImageLists(dynamoDbClient(), { tableName: config().tableName, indexes: deployedIndexes(config().tableIndexes) }), authorizedImages(), propertyProtections()));
}

/** The per-project usage counters (written by the image repository's transactions). */
export function usageRepository(): UsageRepository {
  return (usageCounters ??= new DynamoUsageRepository(dynamoDbClient(), { tableName: config().tableName }));
}

/** GET /v2/info/usage. */
export function usageQueries(): UsageQueries {
  return (usage ??= new UsageQueries(usageRepository(), config().quotas));
}

let taskRepo: TaskRepository | undefined;
let taskService: TaskService | undefined;

export function taskRepository(): TaskRepository {
  return (taskRepo ??= new DynamoTaskRepository(dynamoDbClient(), { tableName: config().tableName }));
}

/** The tasks API and an image's tasks. */
export function taskServices(): TaskService {
  return (taskService ??= new TaskService(taskRepository(), authorizedImages()));
}
