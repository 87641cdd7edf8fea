import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { tagItems, tagWrites } from '../../shared/adapters/dynamo-image-repository.js';
import { TAG_ITEMS_MAX } from '../../shared/adapters/table-design.js';
import { MAX_TAGS, type Image } from '../../shared/domain/image.js';

/**
 * Tag items change in their image's own TransactWriteItems (docs/table-design.md, "Tags"),
 * which holds at most 100 actions beside the image's Put, 2 usage counters and up to 4 task
 * items: whatever an image write does to tags, visibility, owner, os_hidden or status, its tag
 * item writes must fit, and they must take the items from exactly before's to after's.
 */
const image = (over: Partial<Image>): Image =>
  ({
    id: '00000000-0000-4000-8000-000000000001', name: 'n', status: 'active', visibility: 'private', protected: false, os_hidden: false, owner: 'p',
    checksum: null, os_hash_algo: null, os_hash_value: null, size: null, virtual_size: null, min_disk: 0, min_ram: 0, disk_format: 'raw',
    container_format: 'bare', tags: [], created_at: '2026-01-01T00:00:00Z', updated_at: '2026-01-01T00:00:00Z', properties: {}, location: null,
    upload: null, failure: null, version: 1, ...over,
  }) as Image;

const state = fc.record({
  tags: fc.uniqueArray(fc.oneof(fc.constantFrom('a', 'b', 'c'), fc.string({ minLength: 1, maxLength: 8 })), { maxLength: MAX_TAGS }),
  visibility: fc.constantFrom('private', 'shared', 'public', 'community'),
  os_hidden: fc.boolean(),
  status: fc.constantFrom('queued', 'active', 'pending_delete', 'deleted'),
  owner: fc.constantFrom('p', 'q'),
});

describe('tag item writes', () => {
  it('fit a transaction beside the image, its counters and tasks, and leave exactly the items the image has', () => {
    fc.assert(
      fc.property(fc.option(state, { nil: undefined }), state, (was, is) => {
        const before = was && image(was as Partial<Image>);
        const after = image(is as Partial<Image>);
        const writes = tagWrites('t', before, after, new Date(0));
        expect(writes.length).toBeLessThanOrEqual(2 * TAG_ITEMS_MAX + 2);
        expect(1 + 2 + 4 + writes.length).toBeLessThanOrEqual(100);
        // Applying the writes to before's items gives after's (a retired item has no index key).
        const items = new Map((before ? tagItems(before) : []).map((item) => [String(item.sk), item]));
        for (const w of writes) items.set(String(w.Put!.Item!.sk), w.Put!.Item as Record<string, unknown>);
        const live = [...items.values()].filter((item) => item.listSk !== undefined);
        expect(live.sort((x, y) => String(x.sk).localeCompare(String(y.sk)))).toEqual(tagItems(after).sort((x, y) => String(x.sk).localeCompare(String(y.sk))));
      }),
      { numRuns: 300 },
    );
  });

  it('writes nothing for a write that moves no tag item (a rename, an upload)', () => {
    const before = image({ tags: ['a', 'b'], visibility: 'public' });
    expect(tagWrites('t', before, { ...before, name: 'other', size: 5, updated_at: '2026-01-02T00:00:00Z', version: 2 }, new Date(0))).toEqual([]);
  });
});
