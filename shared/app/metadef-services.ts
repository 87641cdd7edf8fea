import { DynamoMetadefRepository } from '../adapters/dynamo-metadef-repository.js';
import { config } from './config.js';
import type { MetadefContext } from './metadefs.js';
import { policy } from './policy-config.js';
import { dynamoDbClient } from './read-services.js';

/** The route whose function seeds the catalogue when its first list finds no seed marker (and whose grants seeding needs). */
export const METADEF_SEEDING_FUNCTION = 'listMetadefNamespaces';

// Built on first use and kept for the life of the (Lambda) process.
let context: MetadefContext | undefined;

/** What the metadefs API's use cases (shared/app/metadefs.ts) work over: the table and the policy. */
export function metadefContext(): MetadefContext {
  return (context ??= { repo: new DynamoMetadefRepository(dynamoDbClient(), { tableName: config().tableName }), policy: policy() });
}
