import { TABLE_KEYS, TTL_ATTRIBUTE } from './table-design.js';

type Item = Record<string, unknown>;

/** A Put inside a transaction. */
export interface PutAction {
  Put: { TableName: string; Item: Item };
}

/**
 * The Puts that take a set of items kept beside an image (its tag items, its memberships'
 * share-tag items) from `before` to `after`, all in one partition: a Put of each item that is new
 * or changed (`after` items equal to their `before` are not written), and for each sort key
 * `before` has and `after` has not, a Put of the bare key with a TTL of `now`: out of every
 * index at once, removed by DynamoDB's TTL later, so no writer holds DeleteItem. `before: undefined`
 * (the previous state unknown, only its sort keys): every `after` item is written.
 */
export function itemWrites(table: string, partition: Item, before: readonly Item[], after: readonly Item[], now: Date, knownBefore = true): PutAction[] {
  const was = new Map(before.map((item) => [String(item[TABLE_KEYS.sortKey]), JSON.stringify(item)]));
  const writes: PutAction[] = [];
  const kept = new Set<string>();
  for (const item of after) {
    const sk = String(item[TABLE_KEYS.sortKey]);
    kept.add(sk);
    if (!knownBefore || was.get(sk) !== JSON.stringify(item)) writes.push({ Put: { TableName: table, Item: item } });
  }
  const gone = Math.floor(now.getTime() / 1000);
  for (const sk of was.keys()) if (!kept.has(sk)) writes.push({ Put: { TableName: table, Item: { ...partition, [TABLE_KEYS.sortKey]: sk, [TTL_ATTRIBUTE]: gone } } });
  return writes;
}
