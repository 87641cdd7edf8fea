import { describe, expect, it } from 'vitest';
import { GlanceError } from '../../shared/domain/errors.js';
import { DEFAULT_PART_SIZE, MAX_OBJECT_SIZE, MAX_STREAMED_SIZE, MIN_PART_SIZE, planUpload, streamedPartSize } from '../../shared/domain/upload-plan.js';

function refusal(size: unknown): string {
  try {
    planUpload(size);
  } catch (error) {
    if (error instanceof GlanceError && error.status === 400) return error.message;
    throw error;
  }
  throw new Error(`planUpload accepted ${String(size)}`);
}

describe('planUpload: sizes', () => {
  it('says any size past the largest image exceeds it, however large or inexact the number', () => {
    for (const size of [MAX_OBJECT_SIZE + 1, 6e12, 99999999999999999, 2 ** 53, 1e300, Number.MAX_VALUE, JSON.parse('1e400')]) {
      expect(refusal(size), String(size)).toBe(`'size' ${size} exceeds the largest image, ${MAX_OBJECT_SIZE} bytes (5 TiB)`);
    }
  });

  it('refuses what is not a whole number of bytes', () => {
    for (const size of [0, -1, 1.5, '10', null, [10], { n: 10 }, Number.NaN]) {
      expect(refusal(size), String(size)).toBe("'size' must be a whole number of bytes, at least 1");
    }
  });

  it('plans the largest image', () => {
    expect(planUpload(MAX_OBJECT_SIZE).size).toBe(MAX_OBJECT_SIZE);
  });
});

describe('streamedPartSize: parts of a body whose length is not known in advance', () => {
  it('keeps the default part size for the first 1000 parts, then grows by it every 1000', () => {
    expect([1, 1000, 1001, 2000, 2001, 10_000].map(streamedPartSize)).toEqual([1, 1, 2, 2, 3, 10].map((n) => n * DEFAULT_PART_SIZE));
    expect(streamedPartSize(1)).toBeGreaterThanOrEqual(MIN_PART_SIZE);
  });

  it("holds 430 GiB in S3's 10,000 parts", () => {
    expect(MAX_STREAMED_SIZE).toBe(55_000 * DEFAULT_PART_SIZE);
    // The closed form is the sum of the parts' sizes.
    expect(MAX_STREAMED_SIZE).toBe(Array.from({ length: 10_000 }, (_, i) => streamedPartSize(i + 1)).reduce((a, b) => a + b, 0));
  });
});
