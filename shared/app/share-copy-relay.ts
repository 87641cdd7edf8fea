import type { Image } from '../domain/image.js';
import type { ShareCopies } from '../ports/share-copies.js';
import type { OutboxRecord, OutboxRelay } from './outbox-relay.js';

/** One change from the table's stream: its position, and the image it wrote (none for other items). */
export interface ImageChangeRecord {
  sequenceNumber: string;
  image: Image | undefined;
}

/**
 * Brings the memberships' copies of each written image up to that write, in stream order. It
 * stops at the first record it cannot finish and names it: the stream retries from there, so a
 * crash or a failed call between an image write and its copies is finished by the retry (copies
 * of a version already copied are refused by their condition, so repeats change nothing).
 */
export class ShareCopyRelay {
  constructor(private readonly copies: ShareCopies) {}

  /** The sequence number to retry from, or undefined when every record's copies are written. */
  async relay(records: readonly ImageChangeRecord[]): Promise<string | undefined> {
    for (const record of records) {
      if (!record.image) continue;
      try {
        await this.copies.follow(record.image);
      } catch (error) {
        console.error(
          JSON.stringify({
            level: 'error',
            message: "memberships' copies not written; the stream will retry from this record",
            sequence_number: record.sequenceNumber,
            image_id: record.image.id,
            version: record.image.version,
            error: String(error),
          }),
        );
        return record.sequenceNumber;
      }
    }
    return undefined;
  }
}

/**
 * One batch of the table's stream, as its consumer handles it: the memberships' copies first, then
 * the events of the records before the first record whose copies failed (so the stream's retry
 * from that record publishes nothing twice on the copies' account). The sequence number to retry
 * from, or undefined when the whole batch is done.
 */
export async function followThenRelay(
  records: readonly (ImageChangeRecord & OutboxRecord)[],
  copies: Pick<ShareCopyRelay, 'relay'>,
  outbox: Pick<OutboxRelay, 'relay'>,
): Promise<string | undefined> {
  const copiesFailedAt = await copies.relay(records);
  const done = copiesFailedAt === undefined ? records : records.slice(0, records.findIndex((r) => r.sequenceNumber === copiesFailedAt));
  return (await outbox.relay(done)) ?? copiesFailedAt;
}
