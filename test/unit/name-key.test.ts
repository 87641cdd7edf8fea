import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { nameKeyPrefix, nameSortKey } from '../../shared/adapters/table-design.js';
import { compareCodePoints } from '../../shared/domain/list-query.js';

/** DynamoDB orders string keys by their UTF-8 bytes. */
const byUtf8 = (a: string, b: string) => Buffer.compare(Buffer.from(a, 'utf8'), Buffer.from(b, 'utf8'));
/** Glance's order of names (compareImages): code points, NULL first. */
const glance = (a: string | null, b: string | null) => (a === b ? 0 : a === null ? -1 : b === null ? 1 : compareCodePoints(a, b));
const sign = (n: number) => Math.sign(n);

// Names from the characters that matter most to an encoding: the escapes, the separator's
// neighbours, ASCII, and characters of every UTF-8 length (surrogate pairs included).
const tricky = fc.constantFrom('\u0000', '\u0001', '\u0002', '\u0003', '#', '$', '~', 'a', 'b', ' ', ',', '\u007f', 'é', '\uffff', '\u{1f600}', '\u{10ffff}');
const name = fc.option(fc.oneof(fc.string({ unit: tricky, maxLength: 8 }), fc.string({ unit: 'grapheme', maxLength: 8 })), { nil: null });
const listKey = fc.constantFrom('2026-01-01T00:00:00Z#0000', '2026-01-01T00:00:00Z#ffff', '2026-06-01T12:00:00Z#8888');

describe('the name sort key', () => {
  it("sorts by UTF-8 bytes (DynamoDB's order) exactly as Glance orders names, then by created_at and id", () => {
    fc.assert(
      fc.property(name, name, listKey, listKey, (a, b, ka, kb) => {
        const expected = glance(a, b) || sign(byUtf8(ka, kb));
        expect(sign(byUtf8(nameSortKey(a, ka), nameSortKey(b, kb)))).toBe(sign(expected));
      }),
      { numRuns: 5000 },
    );
  });

  it("holds one name's keys, and only them, under its prefix (a name=, not a prefix match)", () => {
    fc.assert(
      fc.property(name, name, listKey, (a, b, k) => {
        fc.pre(a !== b);
        expect(nameSortKey(b, k).startsWith(nameKeyPrefix(a))).toBe(false);
        expect(nameSortKey(a, k).startsWith(nameKeyPrefix(a))).toBe(true);
      }),
      { numRuns: 5000 },
    );
  });

  it('never holds U+0000 and fits a GSI sort key (1,024 bytes) for any name Glance accepts (255 characters)', () => {
    const longest = '\u{1f600}'.repeat(255);
    const key = nameSortKey(longest, '2026-01-01T00:00:00Z#00000000-0000-4000-8000-000000000000');
    expect(Buffer.byteLength(key, 'utf8')).toBeLessThanOrEqual(1024);
    expect(nameSortKey('\u0000'.repeat(255), '')).not.toContain('\u0000');
  });
});
