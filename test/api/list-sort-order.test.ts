import { beforeAll, describe, expect, it } from 'vitest';
import { call, createImage, patch, tokenFor, uniqueProject } from './client.js';
import { pageThrough as pageThroughAll } from './list-paging.js';
import { settled } from './data-helpers.js';

/**
 * Sorts by updated_at, size and status, and status filters, served by the sort twins
 * (docs/table-design.md): each key and direction, in both of Glance's syntaxes, pages through a
 * catalogue with ties (the same size and status many times, created and updated in the same
 * second) in exactly Glance's order ([key, created_at, id], all one way; NULL first ascending),
 * with no image lost or repeated while other images come and go. The caller's own images
 * (`owner=`), so no other file's images move through these lists while they are read; the
 * sharded twins (public, community, an admin's) are checked against a full scan in
 * list-consistency/property.ts.
 */
interface Listed {
  id: string;
  created_at: string;
  updated_at: string;
  size: number | null;
  status: string;
}

type Key = 'created_at' | 'updated_at' | 'size' | 'status';
type Dir = 'asc' | 'desc';

function glanceOrder(key: Key, dir: Dir) {
  const cmp = (a: string | number | null, b: string | number | null) => (a === b ? 0 : a === null ? -1 : b === null ? 1 : a < b ? -1 : 1);
  return (a: Listed, b: Listed) => {
    const c = cmp(a[key], b[key]) || cmp(a.created_at, b.created_at) || cmp(a.id, b.id);
    return dir === 'asc' ? c : -c;
  };
}

describe('list order on the sort twins', () => {
  let token: string;
  let adminToken: string;
  let project: string;
  let stable: Listed[] = [];

  beforeAll(async () => {
    project = uniqueProject('sorts');
    token = await tokenFor(project);
    adminToken = await tokenFor(uniqueProject('sorts-admin'), ['admin']);
    // Created in parallel: many share a created_at (and so an updated_at) second.
    const made = await Promise.all(Array.from({ length: 14 }, (_, i) => createImage(token, { name: `${project}-${i}`, disk_format: 'raw', container_format: 'bare' })));
    // Bytes for ten of them, in three sizes (ties); four stay queued (size null). Two go on to deactivated.
    await Promise.all(
      made.slice(0, 10).map(async (image, i) => {
        const put = await call(`/v2/images/${image.id}/file`, { method: 'PUT', token, body: Buffer.alloc([5, 70, 700][i % 3]!, i), headers: { 'Content-Type': 'application/octet-stream' } });
        expect(put.status).toBe(204);
        expect((await settled(token, image.id)).status).toBe('active');
      }),
    );
    for (const image of made.slice(0, 2)) expect((await call(`/v2/images/${image.id}/actions/deactivate`, { method: 'POST', token: adminToken })).status).toBe(204);
    stable = await Promise.all(made.map(async (image) => (await call(`/v2/images/${image.id}`, { token })).body as Listed));
  }, 120_000);

  const pageThrough = (path: string, t: string, during?: () => Promise<void>) => pageThroughAll<Listed>(path, t, during);

  /**
   * Writes while a list is paged: a new image (it may or may not be listed, never twice), and,
   * unless the list is by updated_at, a property change to a listed image, which moves its
   * updated_at entry but not its place in this order.
   */
  function churn(key: Key) {
    let n = 0;
    return async () => {
      n++;
      await Promise.all([
        n <= 3 ? createImage(token, { name: `${project}-new-${n}` }) : undefined,
        key === 'updated_at' ? undefined : patch(token, stable[n % stable.length]!.id, [{ op: 'add', path: `/churn_${n}`, value: 'x' }]).then((res) => expect(res.status).toBe(200)),
      ]);
    };
  }

  function expectExactlyInOrder(seen: Listed[], expected: Listed[], key: Key, dir: Dir, label: string) {
    const order = glanceOrder(key, dir);
    const ids = seen.map((i) => i.id);
    expect(new Set(ids).size, `${label}: an image repeated`).toBe(ids.length);
    for (let i = 1; i < seen.length; i++) expect(order(seen[i - 1]!, seen[i]!), `${label}: out of order at ${i}`).toBeLessThan(0);
    const wanted = new Set(expected.map((i) => i.id));
    expect(seen.filter((i) => wanted.has(i.id)).map((i) => i.id), label).toEqual([...expected].sort(order).map((i) => i.id));
  }

  it('has ties to order: sizes, statuses and updated_at seconds shared', () => {
    for (const key of ['size', 'status', 'updated_at'] as const) expect(new Set(stable.map((i) => i[key])).size, key).toBeLessThan(stable.length / 2);
    expect(stable.filter((i) => i.size === null)).toHaveLength(4);
  });

  for (const key of ['updated_at', 'size', 'status'] as const) {
    for (const [query, dir] of [
      [`sort=${key}:asc`, 'asc'],
      [`sort=${key}:desc`, 'desc'],
      [`sort_key=${key}&sort_dir=asc`, 'asc'],
      [`sort_key=${key}`, 'desc'],
    ] as const) {
      it(`pages ${query} in Glance's order (${key}, then created_at and id the same way)`, async () => {
        const seen = await pageThrough(`/v2/images?owner=${project}&${query}&limit=3`, token, churn(key));
        expectExactlyInOrder(seen, stable, key, dir, query);
      });
    }
  }

  it('filters by status from the status twin, in the default order and created_at asc, one status or several', async () => {
    const active = stable.filter((i) => i.status === 'active');
    expectExactlyInOrder(await pageThrough(`/v2/images?owner=${project}&status=active&limit=2`, token, churn('status')), active, 'created_at', 'desc', 'status=active');
    const some = stable.filter((i) => i.status === 'queued' || i.status === 'deactivated');
    const listed = await pageThrough(`/v2/images?owner=${project}&status=in:queued,deactivated&sort=created_at:asc&limit=2`, token, churn('status'));
    expectExactlyInOrder(listed, some, 'created_at', 'asc', 'status=in:queued,deactivated');
    // Images made while it was paged are queued too; nothing else is listed.
    expect(listed.every((i) => i.status === 'queued' || i.status === 'deactivated')).toBe(true);
    // A status sort within a status filter reads that status's keys only.
    const deactivated = await pageThrough(`/v2/images?owner=${project}&status=deactivated&sort=status:desc&limit=1`, token);
    expectExactlyInOrder(deactivated, stable.filter((i) => i.status === 'deactivated'), 'status', 'desc', 'status=deactivated&sort=status:desc');
  });

  it('serves an admin the same orders over one project', async () => {
    const seen = await pageThrough(`/v2/images?owner=${project}&sort=size:asc&limit=4`, adminToken);
    expectExactlyInOrder(seen, stable, 'size', 'asc', 'admin size:asc');
  });
});
