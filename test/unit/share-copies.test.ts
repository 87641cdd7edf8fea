import { describe, expect, it } from 'vitest';
import { listIndexAttributes } from '../../shared/adapters/dynamo-image-repository.js';
import {
  IMAGE_VERSION_ATTRIBUTE, memberShareTagWrites, SHARE_TAGS_ATTRIBUTE, shareCopyAttributes, shareTagItems, shareTagItemsOfMember,
} from '../../shared/adapters/share-copies.js';
import { shareTagOverflowSortKey, shareTagSortKey, TAG_ITEMS_MAX } from '../../shared/adapters/table-design.js';
import { followThenRelay, ShareCopyRelay } from '../../shared/app/share-copy-relay.js';
import type { Image } from '../../shared/domain/image.js';
import { sampleImage } from '../support/sample-image.js';

describe("shareCopyAttributes: a membership's copies of its image's list keys", () => {
  it("are the image's own keys on byOwner and its twins, under <member>#shared#<status>, with the image's id and version", () => {
    const image = sampleImage({ status: 'active', visibility: 'shared', name: 'cirros', size: 61, version: 7 });
    const own = listIndexAttributes(image);
    const copies = shareCopyAttributes(image, 'proj-b', 'accepted');
    expect(copies).toEqual({
      id: image.id,
      ownerPk: 'proj-b#shared#accepted',
      listSk: own.listSk,
      nameSk: own.nameSk,
      updatedSk: own.updatedSk,
      sizeSk: own.sizeSk,
      statusListSk: own.statusListSk,
      [IMAGE_VERSION_ATTRIBUTE]: 7,
      [SHARE_TAGS_ATTRIBUTE]: image.tags,
    });
  });

  it("take the hidden partition of a hidden image, as the image's entries do", () => {
    const image = sampleImage({ status: 'queued', visibility: 'shared', os_hidden: true });
    expect(shareCopyAttributes(image, 'proj-b', 'pending').ownerPk).toBe('proj-b#shared#pending#hidden');
  });

  it('stay while the image is live whatever its visibility (Glance keeps the membership), and go with its deletion', () => {
    expect(shareCopyAttributes(sampleImage({ status: 'active', visibility: 'private' }), 'b', 'accepted').ownerPk).toBe('b#shared#accepted');
    for (const status of ['pending_delete', 'deleted'] as const) {
      const image = sampleImage({ status, visibility: 'shared', version: 3 });
      expect(shareCopyAttributes(image, 'b', 'accepted'), status).toEqual({ id: image.id, listSk: `${image.created_at}#${image.id}`, [IMAGE_VERSION_ATTRIBUTE]: 3, [SHARE_TAGS_ATTRIBUTE]: [] });
    }
  });
});

describe("shareTagItems: a membership's entries on its shares partition's tag twin", () => {
  const now = new Date('2026-01-01T00:00:00Z');
  it('are one item per tag in the image partition, on <shares partition>#tag=<tag>, keyed by (member, tag)', () => {
    const image = sampleImage({ status: 'active', visibility: 'shared', tags: ['gold', 'linux'], version: 2 });
    const items = shareTagItemsOfMember({ ...shareCopyAttributes(image, 'proj-b', 'accepted'), member_id: 'proj-b' });
    expect(items.map((i) => [i.sk, i.tagOwnerPk, i.listSk, i.id])).toEqual([
      [shareTagSortKey('proj-b', 'gold'), 'proj-b#shared#accepted#tag=gold', `${image.created_at}#${image.id}`, image.id],
      [shareTagSortKey('proj-b', 'linux'), 'proj-b#shared#accepted#tag=linux', `${image.created_at}#${image.id}`, image.id],
    ]);
    expect(items.every((i) => i.pk === `IMAGE#${image.id}`)).toBe(true);
  });

  it("keys no two (member, tag) pairs alike, whatever '#' they hold", () => {
    expect(shareTagSortKey('a#b', 'c')).not.toBe(shareTagSortKey('a', 'b#c'));
    expect(shareTagSortKey('a', 'b')).not.toBe(shareTagSortKey('b', 'a'));
  });

  it('past 40 tags, one overflow item on the hidden partition of a hidden image; none for a deleted one', () => {
    const tags = Array.from({ length: TAG_ITEMS_MAX + 1 }, (_, k) => `t${k}`);
    const hidden = sampleImage({ status: 'active', os_hidden: true, tags });
    expect(shareTagItemsOfMember({ ...shareCopyAttributes(hidden, 'b', 'pending'), member_id: 'b' }).map((i) => [i.sk, i.tagOwnerPk])).toEqual([
      [shareTagOverflowSortKey('b'), 'b#shared#pending#hidden#tags*'],
    ]);
    expect(shareTagItemsOfMember({ ...shareCopyAttributes(sampleImage({ status: 'pending_delete', tags }), 'b', 'pending'), member_id: 'b' })).toEqual([]);
    expect(shareTagItems('id', 'k', 'b', undefined, ['t'])).toEqual([]);
  });

  it('member writes put every tag of the image and retire the recorded ones it no longer has; a removal retires all', () => {
    const image = sampleImage({ status: 'active', tags: ['new', 'kept'] });
    const writes = memberShareTagWrites('T', image, 'b', 'accepted', ['kept', 'gone'], now);
    const put = writes.filter((w) => !('expiresAt' in w.Put.Item)).map((w) => w.Put.Item.tag);
    const retired = writes.filter((w) => 'expiresAt' in w.Put.Item).map((w) => w.Put.Item.sk);
    expect(put).toEqual(['new', 'kept']);
    expect(retired).toEqual([shareTagSortKey('b', 'gone')]);
    const removal = memberShareTagWrites('T', image, 'b', undefined, ['new', 'kept'], now);
    expect(removal.map((w) => Object.keys(w.Put.Item).sort())).toEqual([['expiresAt', 'pk', 'sk'], ['expiresAt', 'pk', 'sk']]);
  });
});

describe('ShareCopyRelay: copies after each image write, in stream order', () => {
  it('follows every image record, skips other items, and names the first record it could not finish', async () => {
    const followed: string[] = [];
    const relay = new ShareCopyRelay({
      follow: async (image: Image) => {
        if (image.name === 'fails') throw new Error('throttled');
        followed.push(image.name ?? '');
      },
    });
    const image = (name: string) => sampleImage({ name });
    const records = [
      { sequenceNumber: '1', image: image('a') },
      { sequenceNumber: '2', image: undefined },
      { sequenceNumber: '3', image: image('fails') },
      { sequenceNumber: '4', image: image('b') },
    ];
    expect(await relay.relay(records)).toBe('3');
    // The stream retries from 3 on: nothing after the failure was done out of order.
    expect(followed).toEqual(['a']);
    expect(await relay.relay([records[0]!, records[1]!, records[3]!])).toBeUndefined();
    expect(followed).toEqual(['a', 'a', 'b']);
  });
});

describe("followThenRelay: a batch of the table's stream", () => {
  const image = (name: string) => sampleImage({ name });
  const records = ['1', '2', '3'].map((n) => ({ sequenceNumber: n, image: image(n), events: [{ type: 'image.update' as const, image: image(n) }] }));
  const outbox = (published: string[], failAt?: string) => ({
    relay: async (batch: readonly { sequenceNumber: string }[]) => {
      for (const r of batch) {
        if (r.sequenceNumber === failAt) return r.sequenceNumber;
        published.push(r.sequenceNumber);
      }
      return undefined;
    },
  });

  it('publishes the events of the records before a failed copy only, and retries from the copy', async () => {
    const published: string[] = [];
    expect(await followThenRelay(records, { relay: async () => '2' }, outbox(published))).toBe('2');
    expect(published).toEqual(['1']);
  });

  it('retries from the earlier of a failed copy and a failed publication, and is done when both are', async () => {
    const published: string[] = [];
    expect(await followThenRelay(records, { relay: async () => '3' }, outbox(published, '2'))).toBe('2');
    expect(await followThenRelay(records, { relay: async () => undefined }, outbox([]))).toBeUndefined();
  });
});
