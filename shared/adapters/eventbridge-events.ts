import { EventBridgeClient, PutEventsCommand } from '@aws-sdk/client-eventbridge';
import { glanceTimestamp, type Image } from '../domain/image.js';
import { notificationPayload } from '../domain/notification.js';
import type { ImageEvents, ImageEventType } from '../ports/events.js';

/** The `source` of every Skyglass event on the bus. */
export const EVENT_SOURCE = 'skyglass.images';

/** Image events on an EventBridge bus: `source` skyglass.images, `detail-type` the event type. */
export class EventBridgeEvents implements ImageEvents {
  constructor(
    private readonly client: EventBridgeClient,
    private readonly busName: string,
    private readonly clock: () => Date = () => new Date(),
  ) {}

  async publish(type: ImageEventType, image: Image): Promise<void> {
    const detail = notificationPayload(image, glanceTimestamp(this.clock()));
    try {
      const out = await this.client.send(
        new PutEventsCommand({
          Entries: [{ EventBusName: this.busName, Source: EVENT_SOURCE, DetailType: type, Detail: JSON.stringify(detail), Resources: [] }],
        }),
      );
      if (out.FailedEntryCount) throw new Error(out.Entries?.[0]?.ErrorMessage ?? 'PutEvents failed');
    } catch (error) {
      // The state change already happened; losing its event is logged loudly, not turned into a 500.
      console.error(JSON.stringify({ level: 'error', message: 'event not published', type, image_id: image.id, error: String(error) }));
    }
  }
}
