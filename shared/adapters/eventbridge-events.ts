import { EventBridgeClient, PutEventsCommand, type PutEventsRequestEntry } from '@aws-sdk/client-eventbridge';
import { memberNotificationPayload, notificationPayload } from '../domain/notification.js';
import type { ImageEvent, ImageEvents } from '../ports/events.js';

/** The `source` of every Skyglass event on the bus. */
export const EVENT_SOURCE = 'skyglass.images';

/** PutEvents takes at most 10 entries per call. */
const PUT_EVENTS_MAX = 10;

/** Some entries of a PutEvents call were not accepted. */
export class EventsNotPublishedError extends Error {
  constructor(readonly failed: number, detail: string) {
    super(`${failed} event(s) not published: ${detail}`);
    this.name = 'EventsNotPublishedError';
  }
}

/**
 * Image events on an EventBridge bus: `source` skyglass.images, `detail-type` the event type,
 * `time` when the change was written (the image's updated_at), `detail` Glance's payload.
 */
export class EventBridgeEvents implements ImageEvents {
  constructor(
    private readonly client: EventBridgeClient,
    private readonly busName: string,
  ) {}

  async publish(events: readonly ImageEvent[]): Promise<void> {
    for (let i = 0; i < events.length; i += PUT_EVENTS_MAX) {
      const entries = events.slice(i, i + PUT_EVENTS_MAX).map((event) => this.entry(event));
      const out = await this.client.send(new PutEventsCommand({ Entries: entries }));
      if (out.FailedEntryCount) {
        const reasons = [...new Set((out.Entries ?? []).map((e) => e.ErrorMessage ?? e.ErrorCode).filter(Boolean))].join('; ');
        throw new EventsNotPublishedError(out.FailedEntryCount, reasons || 'PutEvents refused them');
      }
    }
  }

  private entry(event: ImageEvent): PutEventsRequestEntry {
    const at = 'image' in event ? event.image.updated_at : event.member.updated_at;
    return {
      EventBusName: this.busName,
      Source: EVENT_SOURCE,
      DetailType: event.type,
      Time: new Date(at),
      Detail: JSON.stringify('image' in event ? notificationPayload(event.image, at) : memberNotificationPayload(event.member, at)),
      Resources: [],
    };
  }
}
