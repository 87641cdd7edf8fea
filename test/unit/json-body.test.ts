import { describe, expect, it } from 'vitest';
import { GlanceError } from '../../shared/domain/errors.js';
import { MAX_JSON_DEPTH, nestingDepth, parseJsonBody } from '../../shared/domain/json-body.js';

function refusal(body: Uint8Array | string | undefined): GlanceError {
  try {
    parseJsonBody(body);
  } catch (error) {
    if (error instanceof GlanceError) return error;
    throw error;
  }
  throw new Error('parseJsonBody accepted the body');
}

const bytes = (...parts: Array<string | number[]>) => Buffer.concat(parts.map((p) => (typeof p === 'string' ? Buffer.from(p) : Buffer.from(p))));

describe('parseJsonBody', () => {
  it('parses JSON from bytes or text', () => {
    expect(parseJsonBody(Buffer.from('{"name": "zażółć 🐧"}'))).toEqual({ name: 'zażółć 🐧' });
    expect(parseJsonBody('[1, {"a": [true, null]}]')).toEqual([1, { a: [true, null] }]);
  });

  it('answers an empty body with Glance\'s "Body expected in request."', () => {
    for (const body of [undefined, '', Buffer.alloc(0), '  \n']) {
      expect(refusal(body)).toMatchObject({ status: 400, message: 'Body expected in request.' });
    }
  });

  it('refuses invalid UTF-8 as Glance\'s strict decoding does, instead of storing U+FFFD', () => {
    for (const body of [
      bytes('{"name": "a', [0xff], '"}'),
      bytes('{"name": "', [0xc3], '"}'), // truncated sequence
      bytes('{"name": "', [0xed, 0xa0, 0x80], '"}'), // an encoded surrogate
      bytes('{"name": "', [0xc0, 0xaf], '"}'), // overlong "/"
      bytes('{"name": "', [0xf4, 0x90, 0x80, 0x80], '"}'), // above U+10FFFF
      bytes([0xef, 0xbb, 0xbf], '{}'), // a BOM: Python's json refuses it too
    ]) {
      expect(refusal(body)).toMatchObject({ status: 400, message: 'Malformed JSON in request body.' });
    }
  });

  it('refuses nesting deeper than MAX_JSON_DEPTH at any position, and accepts it up to there', () => {
    const list = (n: number) => '['.repeat(n) + ']'.repeat(n);
    const object = (n: number) => '{"a":'.repeat(n) + '0' + '}'.repeat(n);
    expect(nestingDepth(parseJsonBody(list(MAX_JSON_DEPTH)))).toBe(MAX_JSON_DEPTH);
    expect(nestingDepth(parseJsonBody(object(MAX_JSON_DEPTH)))).toBe(MAX_JSON_DEPTH);
    for (const body of [list(MAX_JSON_DEPTH + 1), object(MAX_JSON_DEPTH + 1), `{"tags": ["a", ${list(100_000)}]}`, `[1, 2, {"x": ${object(5000)}}]`]) {
      const error = refusal(body);
      expect(error.status).toBe(400);
      expect(error.message).toBe(`Malformed JSON in request body: nested deeper than ${MAX_JSON_DEPTH} levels.`);
    }
  });

  it('refuses unpaired surrogate escapes, the escaped form of invalid UTF-8, in values and keys', () => {
    for (const body of ['{"name": "\\ud800"}', '{"name": "a\\udfffb"}', '{"tags": ["ok", "\\udbff"]}', '{"\\ud800": "v"}', '[[[{"a": ["\\udc00\\ud800"]}]]]']) {
      expect(refusal(body), body).toMatchObject({ status: 400, message: 'Malformed JSON in request body: a string holds an unpaired surrogate escape.' });
    }
    expect(parseJsonBody('{"name": "\\ud83d\\udc27"}')).toEqual({ name: '🐧' });
    expect(parseJsonBody(`[${Array.from({ length: 500_000 }, () => '"x"').join(',')}]`)).toHaveLength(500_000);
  });
});

describe('nestingDepth', () => {
  it('counts arrays and objects, not scalars, without recursion', () => {
    expect(nestingDepth('x')).toBe(0);
    expect(nestingDepth(null)).toBe(0);
    expect(nestingDepth([])).toBe(1);
    expect(nestingDepth({ a: [1, { b: [] }], c: 'd' })).toBe(4);
    let deep: unknown = [];
    for (let i = 0; i < 200_000; i++) deep = [deep];
    expect(nestingDepth(deep)).toBe(200_001);
    expect(nestingDepth(deep, 10)).toBe(11);
  });
});
