import { expect } from 'vitest';
import { call, type CallResult } from './client.js';

/**
 * Follows `next` from `path` to the end, running `during` (writes) beside each page's request;
 * every image listed, in the order listed. Each page must answer 200, and there are at most 100.
 */
export async function pageThrough<T>(path: string, token: string, during?: () => Promise<void>): Promise<T[]> {
  const seen: T[] = [];
  let next: string | undefined = path;
  for (let pages = 0; next; pages++) {
    expect(pages, path).toBeLessThan(100);
    const [res]: [CallResult, void] = await Promise.all([call(next, { token }), during?.()]);
    expect(res.status, next).toBe(200);
    seen.push(...res.body.images);
    next = res.body.next;
  }
  return seen;
}
