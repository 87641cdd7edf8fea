import type { DynamoDBBatchResponse, DynamoDBStreamEvent } from 'aws-lambda';
import { outboxOf } from '../../shared/adapters/dynamo-image-repository.js';
import { imageEvents } from '../../shared/app/event-services.js';
import { OutboxRelay } from '../../shared/app/outbox-relay.js';

let relay: OutboxRelay | undefined;

/**
 * The outbox relay, fed by the image table's stream: publishes the events each write recorded
 * on its item. A record it cannot publish is reported as the batch's first failure, so Lambda
 * retries from that record on (ReportBatchItemFailures), keeping each image's events in order.
 */
export const handler = async (event: DynamoDBStreamEvent): Promise<DynamoDBBatchResponse> => {
  relay ??= new OutboxRelay(imageEvents());
  const records = event.Records.map((record) => ({
    sequenceNumber: record.dynamodb?.SequenceNumber ?? '',
    events: outboxOf(record.dynamodb?.NewImage as Record<string, unknown> | undefined),
  }));
  const failedAt = await relay.relay(records);
  return { batchItemFailures: failedAt === undefined ? [] : [{ itemIdentifier: failedAt }] };
};
