import type { DynamoDBBatchResponse, DynamoDBStreamEvent } from 'aws-lambda';
import { unmarshall } from '@aws-sdk/util-dynamodb';
import { imageFromItem } from '../../shared/adapters/image-item.js';
import { IMAGE_SORT_KEY, TABLE_KEYS } from '../../shared/adapters/table-design.js';
import { shareCopyRelay } from '../../shared/app/share-copy-services.js';

/**
 * Fed by the image table's stream beside the outbox relay: after each write of an image, brings
 * its memberships' copies of its list keys to that version (docs/table-design.md, "Shared-with-me
 * images"). A record it cannot finish is reported as the batch's first failure, so Lambda retries
 * from that record on (ReportBatchItemFailures). Other items' records (memberships, tags, tasks) carry no image.
 */
export const handler = async (event: DynamoDBStreamEvent): Promise<DynamoDBBatchResponse> => {
  const records = event.Records.map((record) => {
    const written = record.dynamodb?.NewImage;
    const isImage = written?.[TABLE_KEYS.sortKey]?.S === IMAGE_SORT_KEY;
    return {
      sequenceNumber: record.dynamodb?.SequenceNumber ?? '',
      image: isImage ? imageFromItem(unmarshall(written as Parameters<typeof unmarshall>[0])) : undefined,
    };
  });
  const failedAt = await shareCopyRelay().relay(records);
  return { batchItemFailures: failedAt === undefined ? [] : [{ itemIdentifier: failedAt }] };
};
