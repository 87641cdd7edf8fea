import { beforeAll, describe, expect, it } from 'vitest';
import { call, createImage, patch, tokenFor, uniqueProject } from './client.js';
import { pageThrough as pageThroughAll } from './list-paging.js';

/**
 * Name lookups and name sorts served by the name-sorted indexes (docs/table-design.md): each
 * order pages through a catalogue with ties (the same name many times, many images created in
 * the same second) in exactly Glance's order, across the caller's own, public, community and
 * shared-with-it images, with no image lost or repeated while other images come and go.
 */
interface Listed {
  id: string;
  name: string | null;
  created_at: string;
  visibility: string;
  owner: string;
}

type Dir = 'asc' | 'desc';

/** Glance's order for [name dir, created_at dir, id dir] (names here are ASCII; NULL sorts first ascending). */
function glanceOrder(byName: boolean, dir: Dir) {
  const cmp = (a: string | null, b: string | null) => (a === b ? 0 : a === null ? -1 : b === null ? 1 : a < b ? -1 : 1);
  return (a: Listed, b: Listed) => {
    const c = (byName ? cmp(a.name, b.name) : 0) || cmp(a.created_at, b.created_at) || cmp(a.id, b.id);
    return dir === 'asc' ? c : -c;
  };
}

describe('list order on the name indexes', () => {
  let token: string;
  let otherToken: string;
  let adminToken: string;
  let project: string;
  let names: string[];
  let othersPrivate: string;
  /** Every image made before the pages are read, which each full paging must return exactly once. */
  const stable: Listed[] = [];

  beforeAll(async () => {
    project = uniqueProject('order');
    const other = uniqueProject('order-other');
    token = await tokenFor(project);
    otherToken = await tokenFor(other);
    adminToken = await tokenFor(uniqueProject('order-admin'), ['admin']);
    // Names unique to this file, so other files' public images never land in these lists.
    names = ['b', 'a', 'c', 'a b', 'a,b'].map((n) => `${project}-${n}`);
    const made = async (t: string, body: Record<string, unknown>) => {
      const res = await createImage(t, body);
      stable.push({ id: res.id, name: res.name, created_at: res.created_at, visibility: res.visibility, owner: res.owner });
      return res;
    };
    // Created in parallel batches: many share a name and a created_at second.
    await Promise.all(Array.from({ length: 12 }, (_, i) => made(token, { name: names[i % 3], visibility: i % 4 === 0 ? 'community' : 'private' })));
    await Promise.all(Array.from({ length: 4 }, (_, i) => made(token, { name: names[3 + (i % 2)] })));
    await Promise.all(Array.from({ length: 4 }, (_, i) => made(adminToken, { name: names[i % 3], visibility: 'public' })));
    await Promise.all(Array.from({ length: 3 }, (_, i) => made(otherToken, { name: names[i % 3], visibility: 'community' })));
    // Shared with the caller and accepted: on its default list, read from byMember.
    for (let i = 0; i < 3; i++) {
      const image = await made(otherToken, { name: names[i], visibility: 'shared' });
      expect((await call(`/v2/images/${image.id}/members`, { method: 'POST', token: otherToken, json: { member: project } })).status).toBe(200);
      expect((await call(`/v2/images/${image.id}/members/${project}`, { method: 'PUT', token, json: { status: 'accepted' } })).status).toBe(200);
    }
    // Another project's private image of the same name: on no list of the caller's.
    othersPrivate = (await createImage(otherToken, { name: names[0] })).id;
  });

  const pageThrough = (path: string, t: string, during?: () => Promise<void>) => pageThroughAll<Listed>(path, t, during);

  /**
   * Writes while a list is paged: a new image of a listed name (it may or may not be listed,
   * never twice), and a change to a listed image that leaves its place (a property), which
   * rewrites its index entries. (Deleting a listed image could delete the next page's marker,
   * which Glance answers 400 too.)
   */
  function churn(t: string) {
    let n = 0;
    return async () => {
      n++;
      const mine = stable.filter((i) => i.owner === project);
      // A few new images per paging, so the catalogue does not outgrow the pages reading it.
      await Promise.all([
        n <= 4 ? createImage(t, { name: names[n % names.length] }) : undefined,
        patch(t, mine[n % mine.length]!.id, [{ op: 'add', path: `/churn_${n}`, value: 'x' }]).then((res) => expect(res.status).toBe(200)),
      ]);
    };
  }

  function expectExactlyInOrder(seen: Listed[], expectedStable: Listed[], byName: boolean, dir: Dir, label: string, order = glanceOrder(byName, dir)) {
    const ids = seen.map((i) => i.id);
    expect(new Set(ids).size, `${label}: an image repeated`).toBe(ids.length);
    for (let i = 1; i < seen.length; i++) expect(order(seen[i - 1]!, seen[i]!), `${label}: out of order at ${i}`).toBeLessThan(0);
    const stableIds = new Set(expectedStable.map((i) => i.id));
    expect(seen.filter((i) => stableIds.has(i.id)).map((i) => i.id), label).toEqual([...expectedStable].sort(order).map((i) => i.id));
  }

  const visibleToCaller = () => stable.filter((i) => i.visibility !== 'community' || i.owner === project);
  const inNames = () => `name=in:${names.slice(0, 3).join(',')},${names.slice(3).map((n) => `"${n}"`).join(',')}`;

  it('has ties to order: names repeated and created_at seconds shared', () => {
    const key = (i: Listed) => `${i.name}@${i.created_at}`;
    expect(new Set(stable.map(key)).size).toBeLessThan(stable.length);
  });

  it('looks a name up in the default order across own, public and shared images, page by page', async () => {
    for (const name of names.slice(0, 3)) {
      const expected = visibleToCaller().filter((i) => i.name === name);
      const seen = await pageThrough(`/v2/images?name=${encodeURIComponent(name)}&limit=2`, token, churn(token));
      expectExactlyInOrder(seen, expected, false, 'desc', name);
      expect(seen.every((i) => i.name === name)).toBe(true);
    }
  });

  it('looks several names up with in:, quoted ones included, in the default order', async () => {
    const seen = await pageThrough(`/v2/images?${encodeURI(inNames())}&limit=3`, token, churn(token));
    expectExactlyInOrder(seen, visibleToCaller(), false, 'desc', 'in:');
  });

  for (const [query, dir] of [
    ['sort=name:asc', 'asc'],
    ['sort=name:desc', 'desc'],
    ['sort=name', 'desc'],
    ['sort_key=name&sort_dir=asc', 'asc'],
    ['sort_key=name', 'desc'],
  ] as const) {
    it(`pages ${query} in Glance's order (name, then created_at and id the same way)`, async () => {
      const seen = await pageThrough(`/v2/images?${encodeURI(inNames())}&${query}&limit=3`, token, churn(token));
      expectExactlyInOrder(seen, visibleToCaller(), true, dir, query);
      const one = await pageThrough(`/v2/images?name=${encodeURIComponent(names[1]!)}&${query}&limit=2`, token);
      expectExactlyInOrder(one, visibleToCaller().filter((i) => i.name === names[1]), true, dir, `${query}, one name`);
    });
  }

  for (const query of ['sort=created_at:asc', 'sort_key=created_at&sort_dir=asc']) {
    it(`pages ${query} oldest first (created_at, then id ascending), from the list indexes read forward`, async () => {
      const byNames = await pageThrough(`/v2/images?${encodeURI(inNames())}&${query}&limit=3`, token, churn(token));
      expectExactlyInOrder(byNames, visibleToCaller(), false, 'asc', `${query}, names`);
      const own = await pageThrough(`/v2/images?owner=${project}&${query}&limit=4`, token, churn(token));
      expectExactlyInOrder(own, stable.filter((i) => i.owner === project), false, 'asc', `${query}, own`);
      const admin = await pageThrough(`/v2/images?${encodeURI(inNames())}&visibility=all&${query}&limit=5`, adminToken);
      expectExactlyInOrder(admin, admin.filter((i) => stable.some((s) => s.id === i.id) || i.id === othersPrivate), false, 'asc', `${query}, admin`);
      expect(admin.map((i) => i.id)).toEqual(expect.arrayContaining([...stable.map((i) => i.id), othersPrivate]));
    });
  }

  it('serves community and every visibility when asked for, and an admin every project', async () => {
    const community = await pageThrough(`/v2/images?${encodeURI(inNames())}&visibility=community&sort=name:asc&limit=2`, token);
    expectExactlyInOrder(community, stable.filter((i) => i.visibility === 'community'), true, 'asc', 'community');
    const all = await pageThrough(`/v2/images?${encodeURI(inNames())}&visibility=all&limit=4`, token);
    expectExactlyInOrder(all, stable, false, 'desc', 'visibility=all');
    const admin = await pageThrough(`/v2/images?${encodeURI(inNames())}&visibility=all&sort=name:desc&limit=5`, adminToken);
    // The admin also sees the other project's private image of the first name.
    const withPrivate = [...stable, { ...stable[0]!, id: othersPrivate, name: names[0]!, visibility: 'private' }];
    expectExactlyInOrder(admin, admin.filter((i) => withPrivate.some((s) => s.id === i.id) ), true, 'desc', 'admin');
    expect(admin.map((i) => i.id)).toEqual(expect.arrayContaining(withPrivate.map((i) => i.id)));
  });

  it('answers a filter and sort the indexes do not serve correctly (in memory)', async () => {
    // Two directions: the tie-breakers are desc, which no index holds.
    const seen = await pageThrough(`/v2/images?${encodeURI(inNames())}&sort=name:asc,created_at:asc&limit=4`, token, churn(token));
    const order = (a: Listed, b: Listed) =>
      (a.name! < b.name! ? -1 : a.name! > b.name! ? 1 : 0) || (a.created_at < b.created_at ? -1 : a.created_at > b.created_at ? 1 : 0) || (a.id < b.id ? 1 : a.id > b.id ? -1 : 0);
    expectExactlyInOrder(seen, visibleToCaller(), true, 'asc', 'mixed directions', order);
  });
});
