import type { DynamoDBBatchResponse, DynamoDBStreamEvent } from 'aws-lambda';
import { unmarshall } from '@aws-sdk/util-dynamodb';
import { outboxOf } from '../../shared/adapters/dynamo-image-repository.js';
import { imageFromItem } from '../../shared/adapters/image-item.js';
import { IMAGE_SORT_KEY, TABLE_KEYS } from '../../shared/adapters/table-design.js';
import { imageEvents } from '../../shared/app/event-services.js';
import { OutboxRelay } from '../../shared/app/outbox-relay.js';
import { followThenRelay } from '../../shared/app/share-copy-relay.js';
import { shareCopyRelay } from '../../shared/app/share-copy-services.js';

let relay: OutboxRelay | undefined;

/**
 * The image table's stream consumer. First it brings the memberships' copies of each written
 * image's list keys up to that write (docs/table-design.md, "Shared-with-me images"), then it
 * publishes the events each write recorded on its item (the outbox relay), both in stream order.
 * A record either step cannot finish is reported as the batch's first failure, so Lambda retries
 * from that record on (ReportBatchItemFailures); events are published only for the records
 * before a failed copy, so a copy's retry publishes nothing twice that it did not have to.
 */
export const handler = async (event: DynamoDBStreamEvent): Promise<DynamoDBBatchResponse> => {
  relay ??= new OutboxRelay(imageEvents());
  const records = event.Records.map((record) => {
    const written = record.dynamodb?.NewImage as Record<string, { S?: string }> | undefined;
    return {
      sequenceNumber: record.dynamodb?.SequenceNumber ?? '',
      events: outboxOf(written),
      image: written?.[TABLE_KEYS.sortKey]?.S === IMAGE_SORT_KEY ? imageFromItem(unmarshall(written as Parameters<typeof unmarshall>[0])) : undefined,
    };
  });
  const failedAt = await followThenRelay(records, shareCopyRelay(), relay);
  return { batchItemFailures: failedAt === undefined ? [] : [{ itemIdentifier: failedAt }] };
};
