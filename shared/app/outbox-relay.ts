import { eventImageId, type ImageEvent, type ImageEvents } from '../ports/events.js';

/** One change from the table's stream: its position, and the events its write recorded. */
export interface OutboxRecord {
  sequenceNumber: string;
  events: ImageEvent[];
}

/**
 * Publishes what each write recorded in its outbox, in stream order. It stops at the first
 * record it cannot publish and names it: the stream retries from there, so events arrive at
 * least once and in order per image (a retry may repeat ones already sent; consumers can
 * tell repeats by image id, detail-type and updated_at).
 */
export class OutboxRelay {
  constructor(private readonly events: ImageEvents) {}

  /** The sequence number to retry from, or undefined when everything was published. */
  async relay(records: readonly OutboxRecord[]): Promise<string | undefined> {
    for (const record of records) {
      if (record.events.length === 0) continue;
      try {
        await this.events.publish(record.events);
      } catch (error) {
        console.error(
          JSON.stringify({
            level: 'error',
            message: 'events not published; the stream will retry from this record',
            sequence_number: record.sequenceNumber,
            image_id: record.events[0] && eventImageId(record.events[0]),
            types: record.events.map((e) => e.type),
            error: String(error),
          }),
        );
        return record.sequenceNumber;
      }
    }
    return undefined;
  }
}
