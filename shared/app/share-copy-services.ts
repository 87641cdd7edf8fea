import { DynamoShareCopies } from '../adapters/dynamo-share-copies.js';
import { config } from './config.js';
import { dynamoDbClient } from './read-services.js';
import { ShareCopyRelay } from './share-copy-relay.js';

let relay: ShareCopyRelay | undefined;

/** The share copies' relay of the table stream's consumer (publishEvents), built on first use and kept for the life of the process. */
export function shareCopyRelay(): ShareCopyRelay {
  return (relay ??= new ShareCopyRelay(new DynamoShareCopies(dynamoDbClient(), config().tableName)));
}
