import { marshall } from '@aws-sdk/util-dynamodb';
import { describe, expect, it } from 'vitest';
import { outboxOf } from '../../shared/adapters/dynamo-image-repository.js';
import { OUTBOX_ATTRIBUTE } from '../../shared/adapters/table-design.js';
import { OutboxRelay } from '../../shared/app/outbox-relay.js';
import type { ImageEvent, ImageEventType, ImageEvents } from '../../shared/ports/events.js';
import { sampleImage } from '../support/sample-image.js';

/** A stream record's NewImage as the repository writes the item (DynamoDB wire format). */
function streamImage(outbox: unknown, sk = 'IMAGE') {
  const image = sampleImage({ status: 'active', tags: ['a'] });
  const item: Record<string, unknown> = { pk: `IMAGE#${image.id}`, sk, ...image, properties: JSON.stringify({ ['__proto__']: 'x' }) };
  if (outbox !== undefined) item[OUTBOX_ATTRIBUTE] = outbox;
  return marshall(item, { removeUndefinedValues: true }) as Record<string, unknown>;
}

describe('outboxOf: the events a stream record carries', () => {
  it('reads the recorded events, in order, each with the image as written', () => {
    const events = outboxOf(streamImage(['image.upload', 'image.activate']));
    expect(events.map((e) => e.type)).toEqual(['image.upload', 'image.activate']);
    expect((events[0] as { image: unknown }).image).toMatchObject({ status: 'active', tags: ['a'] });
    // Custom property keys stay data, never prototypes.
    expect(Object.getOwnPropertyNames((events[0] as { image: { properties: object } }).image.properties)).toEqual(['__proto__']);
  });

  it('is empty for writes that recorded none, for unknown types, and for items that are not images', () => {
    expect(outboxOf(streamImage(undefined))).toEqual([]);
    expect(outboxOf(streamImage([]))).toEqual([]);
    expect(outboxOf(streamImage(['image.exploded'])).map((e) => e.type)).toEqual([]);
    expect(outboxOf(streamImage(['image.update'], 'MEMBER#p'))).toEqual([]);
    expect(outboxOf(undefined)).toEqual([]);
  });

  it('is empty for metadefs items, without decoding them (the local stream hands an empty map over as {})', () => {
    const tag = { pk: { S: 'METADEF#d5584e06' }, sk: { S: 'TAG#t' }, kind: { S: 'TAG' }, name: { S: 't' }, data: {} };
    expect(outboxOf(tag)).toEqual([]);
    expect(outboxOf({ pk: { S: 'METADEFS' }, sk: { S: 'NAMESPACE#OS::Compute::Hardware' }, data: {} })).toEqual([]);
  });
});

describe('outboxOf on membership items', () => {
  const memberItem = (outbox: unknown, deleted = false) =>
    marshall({
      pk: 'IMAGE#0b0c2f6e-6f0a-4d57-9a43-2a1f8b1c9d10', sk: 'MEMBER#p2', image_id: '0b0c2f6e-6f0a-4d57-9a43-2a1f8b1c9d10', member_id: 'p2',
      status: 'accepted', created_at: '2024-01-02T03:04:05Z', updated_at: '2024-01-02T03:05:00Z', version: 2, deleted, [OUTBOX_ATTRIBUTE]: outbox,
    }) as Record<string, unknown>;

  it('reads membership events with the membership as written, tombstones as deleted', () => {
    const [event] = outboxOf(memberItem(['image.member.update']));
    expect(event).toMatchObject({ type: 'image.member.update', member: { image_id: '0b0c2f6e-6f0a-4d57-9a43-2a1f8b1c9d10', member_id: 'p2', status: 'accepted', deleted: false } });
    expect(outboxOf(memberItem(['image.member.delete'], true))[0]).toMatchObject({ member: { deleted: true } });
    // Image events on a member item, and unknown types, are not events.
    expect(outboxOf(memberItem(['image.update', 'image.member.exploded']))).toEqual([]);
  });
});

describe('OutboxRelay', () => {
  const event = (type: ImageEventType): ImageEvent => ({ type, image: sampleImage() });

  it('publishes each record in order and skips records without events', async () => {
    const sent: string[][] = [];
    const bus: ImageEvents = { publish: async (events) => void sent.push(events.map((e) => e.type)) };
    const failedAt = await new OutboxRelay(bus).relay([
      { sequenceNumber: '1', events: [event('image.create')] },
      { sequenceNumber: '2', events: [] },
      { sequenceNumber: '3', events: [event('image.upload'), event('image.activate')] },
    ]);
    expect(failedAt).toBeUndefined();
    expect(sent).toEqual([['image.create'], ['image.upload', 'image.activate']]);
  });

  it('stops at the first record the bus refuses and names it, publishing nothing after it', async () => {
    const sent: string[] = [];
    const bus: ImageEvents = {
      publish: async (events) => {
        if (events[0]!.type === 'image.delete') throw new Error('ThrottlingException');
        sent.push(events[0]!.type);
      },
    };
    const failedAt = await new OutboxRelay(bus).relay([
      { sequenceNumber: '1', events: [event('image.update')] },
      { sequenceNumber: '2', events: [event('image.delete')] },
      { sequenceNumber: '3', events: [event('image.create')] },
    ]);
    expect(failedAt).toBe('2');
    expect(sent).toEqual(['image.update']);
  });
});
