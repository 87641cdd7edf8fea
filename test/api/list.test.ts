import { describe, expect, it, beforeAll } from 'vitest';
import { call, createImage, patch, tokenFor, uniqueProject, type CallResult } from './client.js';
import { pageThrough } from './list-paging.js';
import { TAG_ITEMS_MAX } from '../../shared/adapters/table-design.js';

/** Each describe gets its own projects, so parallel test files never see each other's images. */
describe('list', () => {
  let project: string;
  let token: string;
  let otherToken: string;
  let adminToken: string;
  const ids: Record<string, string> = {};

  beforeAll(async () => {
    project = uniqueProject('list');
    token = await tokenFor(project);
    otherToken = await tokenFor(uniqueProject('other'));
    adminToken = await tokenFor(uniqueProject('admin'), ['admin']);
    // Created one by one so created_at/id ordering is deterministic enough to assert.
    const specs: Array<[string, Record<string, unknown>]> = [
      ['alpha', { name: 'alpha', disk_format: 'qcow2', container_format: 'bare', tags: ['linux', 'small'], os_distro: 'debian' }],
      ['beta', { name: 'beta', disk_format: 'raw', container_format: 'bare', tags: ['linux'], visibility: 'private' }],
      ['gamma', { name: 'gamma', disk_format: 'iso', container_format: 'bare', tags: ['small'], visibility: 'community' }],
      ['hidden', { name: 'hidden', os_hidden: true }],
      ['prot', { name: 'prot', protected: true, disk_format: 'qcow2' }],
    ];
    for (const [key, body] of specs) ids[key] = (await createImage(token, body)).id;
    ids.foreignShared = (await createImage(otherToken, { name: 'foreign-shared' })).id;
    ids.foreignCommunity = (await createImage(otherToken, { name: 'foreign-community', visibility: 'community' })).id;
  });

  const names = (res: { body: { images: Array<{ name: string }> } }) => res.body.images.map((i) => i.name);
  const mine = async (query = '') => call(`/v2/images?owner=${project}${query ? `&${query}` : ''}`, { token });

  it('lists own images newest first, hiding os_hidden ones and other projects\' non-public images', async () => {
    const res = await call('/v2/images', { token });
    expect(res.status).toBe(200);
    const listed = names(res);
    expect(listed).toEqual(expect.arrayContaining(['alpha', 'beta', 'gamma', 'prot']));
    expect(listed).not.toContain('hidden');
    expect(listed).not.toContain('foreign-shared');
    expect(listed).not.toContain('foreign-community');
    const createdAt = res.body.images.map((i: any) => `${i.created_at}#${i.id}`);
    expect(createdAt).toEqual([...createdAt].sort().reverse());
    expect(res.body.first).toBe('/v2/images');
    expect(res.body.schema).toBe('/v2/schemas/images');
    // Other test files make public images, which every default list holds too: a full page
    // (Glance's default limit, 25) links to the next one, a shorter one is the last.
    if (listed.length < 25) expect(res.body).not.toHaveProperty('next');
    else expect(res.body.next).toBe(`/v2/images?marker=${res.body.images[24].id}`);
  });

  it('filters by name, status, formats, tags (AND), properties, protected, os_hidden and in:', async () => {
    expect(names(await mine('name=alpha'))).toEqual(['alpha']);
    expect(names(await mine('disk_format=qcow2')).sort()).toEqual(['alpha', 'prot']);
    expect(names(await mine('tag=linux')).sort()).toEqual(['alpha', 'beta']);
    expect(names(await mine('tag=linux&tag=small'))).toEqual(['alpha']);
    expect(names(await mine('os_distro=debian'))).toEqual(['alpha']);
    expect(names(await mine('protected=true'))).toEqual(['prot']);
    expect(names(await mine('os_hidden=true'))).toEqual(['hidden']);
    expect(names(await mine('name=in:alpha,gamma')).sort()).toEqual(['alpha', 'gamma']);
    expect(names(await mine('status=queued')).length).toBe(4);
    expect(names(await mine('status=bogus'))).toEqual([]);
    expect(names(await mine('visibility=private'))).toEqual(['beta']);
    expect(names(await mine('created_at=gte:2000-01-01T00:00:00Z')).length).toBe(4);
    expect(names(await mine('created_at=lt:2000-01-01T00:00:00Z'))).toEqual([]);
  });

  it('shows community images of others only with visibility=community', async () => {
    expect(names(await call('/v2/images?visibility=community', { token }))).toContain('foreign-community');
    expect(names(await call('/v2/images?visibility=community', { token: otherToken }))).toContain('gamma');
  });

  it('lets an admin list every project, community images only when asked for (as Glance with secure RBAC)', async () => {
    const res = await call(`/v2/images?owner=${project}&limit=1000`, { token: adminToken });
    expect(names(res).sort()).toEqual(['alpha', 'beta', 'prot']);
    const all = await call(`/v2/images?owner=${project}&visibility=all&limit=1000`, { token: adminToken });
    expect(names(all).sort()).toEqual(['alpha', 'beta', 'gamma', 'prot']);
  });

  it('sorts by the new and old syntax', async () => {
    expect(names(await mine('sort=name:asc'))).toEqual(['alpha', 'beta', 'gamma', 'prot']);
    expect(names(await mine('sort_key=name&sort_dir=desc'))).toEqual(['prot', 'gamma', 'beta', 'alpha']);
    expect(names(await mine('sort=disk_format:asc,name:desc'))).toEqual(['gamma', 'prot', 'alpha', 'beta']);
  });

  it('pages with limit and marker, with Glance\'s first/next links', async () => {
    const seen: string[] = [];
    let path: string | undefined = `/v2/images?owner=${project}&limit=2`;
    let pages = 0;
    while (path) {
      const res: CallResult = await call(path, { token });
      expect(res.status).toBe(200);
      seen.push(...names(res));
      path = res.body.next;
      pages++;
      expect(pages).toBeLessThan(5);
    }
    // 4 visible images in pages of 2: full, full, then the empty page an exact fit points to.
    expect(pages).toBe(3);
    expect(seen.sort()).toEqual(['alpha', 'beta', 'gamma', 'prot']);
    const sorted: string[] = [];
    path = `/v2/images?owner=${project}&limit=3&sort=name:asc`;
    while (path) {
      const res: CallResult = await call(path, { token });
      sorted.push(...names(res));
      path = res.body.next;
    }
    expect(sorted).toEqual(['alpha', 'beta', 'gamma', 'prot']);
  });

  it('answers bad list parameters with 400', async () => {
    for (const query of ['limit=-1', 'limit=abc', 'sort_key=bogus', 'sort=name:sideways', 'sort=name&sort_key=name',
      'visibility=bogus', 'size_min=big', 'marker=00000000-0000-0000-0000-000000000000', 'created_at=gt:yesterday',
      'protected=maybe']) {
      const res = await call(`/v2/images?${query}`, { token });
      expect(res.status, query).toBe(400);
      expect(res.body.code, query).toBe('400 Bad Request');
    }
    expect((await call('/v2/images?limit=0', { token })).body.images).toEqual([]);
  });

  it('does not leak an invisible image through marker', async () => {
    const res = await call(`/v2/images?marker=${ids.foreignShared}`, { token });
    expect(res.status).toBe(400);
  });
});

/**
 * Hidden images sit on partitions of their own on every list index (docs/table-design.md,
 * "os_hidden"): `os_hidden=true` lists exactly them, in every indexed order and with markers,
 * a default list never them, and a PATCH of os_hidden moves an image from one list to the other.
 */
describe('hidden images (os_hidden=true), served by their own index partitions', () => {
  let project: string;
  let token: string;
  let otherToken: string;
  let adminToken: string;
  const hidden: Array<{ id: string; name: string; created_at: string }> = [];
  let shown: string;

  beforeAll(async () => {
    project = uniqueProject('hid');
    token = await tokenFor(project);
    otherToken = await tokenFor(uniqueProject('hidother'));
    adminToken = await tokenFor(uniqueProject('hidadm'), ['admin']);
    // Ties on name, and (created within a second) on created_at: the id breaks them.
    for (const name of ['b', 'a', 'b', 'c', 'a']) {
      const image = await createImage(token, { name: `${project}-${name}`, os_hidden: true });
      hidden.push({ id: image.id, name: image.name, created_at: image.created_at });
    }
    shown = (await createImage(token, { name: `${project}-shown` })).id;
  });

  // Ascending by the keys in turn (dir 1), or descending (-1).
  const byKeys = (keys: Array<(i: (typeof hidden)[number]) => string>, dir: 1 | -1) => (x: (typeof hidden)[number], y: (typeof hidden)[number]) => {
    for (const key of keys) if (key(x) !== key(y)) return key(x) < key(y) ? -dir : dir;
    return 0;
  };
  const ids = async (path: string, as = token) => (await pageThrough<{ id: string }>(path, as)).map((i) => i.id);

  it('lists only the hidden images, in each indexed order, page by page', async () => {
    const created = (i: (typeof hidden)[number]) => i.created_at;
    const id = (i: (typeof hidden)[number]) => i.id;
    const name = (i: (typeof hidden)[number]) => i.name;
    const newestFirst = [...hidden].sort(byKeys([created, id], -1)).map(id);
    expect(await ids(`/v2/images?owner=${project}&os_hidden=true&limit=2`)).toEqual(newestFirst);
    expect(await ids(`/v2/images?os_hidden=true&name=in:${project}-a,${project}-c&limit=1`)).toEqual([...hidden].filter((i) => !i.name.endsWith('-b')).sort(byKeys([created, id], -1)).map(id));
    expect(await ids(`/v2/images?os_hidden=true&visibility=shared&limit=2&sort=created_at:asc`)).toEqual([...newestFirst].reverse());
    expect(await ids(`/v2/images?owner=${project}&os_hidden=true&limit=2&sort=name:asc`)).toEqual([...hidden].sort(byKeys([name, created, id], 1)).map(id));
    expect(await ids(`/v2/images?owner=${project}&os_hidden=true&limit=3&sort=size:desc`)).toEqual(newestFirst);
    expect(await ids(`/v2/images?os_hidden=true&status=queued&owner=${project}&limit=2`)).toEqual(newestFirst);
    expect(await ids(`/v2/images?owner=${project}&os_hidden=true&limit=2`, adminToken)).toEqual(newestFirst);
    const mine = await ids(`/v2/images?owner=${project}&limit=2`);
    expect(mine).toEqual([shown]);
    expect(await ids(`/v2/images?name=${project}-a&limit=1`)).toEqual([]);
  });

  it('moves an image between the lists when os_hidden is patched', async () => {
    const first = hidden[0]!.id;
    expect((await patch(token, first, [{ op: 'replace', path: '/os_hidden', value: false }])).status).toBe(200);
    expect(await ids(`/v2/images?owner=${project}`)).toEqual(expect.arrayContaining([first, shown]));
    expect(await ids(`/v2/images?owner=${project}&os_hidden=true&sort=name:desc`)).not.toContain(first);
    expect((await patch(token, shown, [{ op: 'replace', path: '/os_hidden', value: true }])).status).toBe(200);
    expect(await ids(`/v2/images?owner=${project}`)).toEqual([first]);
    expect(await ids(`/v2/images?owner=${project}&os_hidden=true&sort=updated_at:desc&limit=1`)).toContain(shown);
    expect((await patch(token, first, [{ op: 'replace', path: '/os_hidden', value: true }])).status).toBe(200);
    expect((await patch(token, shown, [{ op: 'replace', path: '/os_hidden', value: false }])).status).toBe(200);
  });

  it('lists another project\'s public hidden images only with os_hidden=true', async () => {
    const name = `${project}-public-hidden`;
    const image = await createImage(adminToken, { name, visibility: 'public', os_hidden: true });
    expect(await ids(`/v2/images?name=${name}`, otherToken)).toEqual([]);
    expect(await ids(`/v2/images?name=${name}&os_hidden=true`, otherToken)).toEqual([image.id]);
    expect(await ids(`/v2/images?os_hidden=true&visibility=public&sort=name:asc&limit=1000`, otherToken)).toContain(image.id);
    expect(await ids(`/v2/images?visibility=public&limit=1000`, otherToken)).not.toContain(image.id);
  });
});

/**
 * `tag=` under the default order and `created_at` reads the tag twins (docs/table-design.md,
 * "Tags"): the first tag's partitions, plus the overflow keys of images with more than
 * TAG_ITEMS_MAX tags; the other tags are checked on each image read.
 */
describe('tag lists, served by tag items', () => {
  let project: string;
  let token: string;
  let otherToken: string;
  let adminToken: string;
  let tag: string;
  const tagged: string[] = []; // in Glance's created_at asc, id asc order, once all are made

  beforeAll(async () => {
    project = uniqueProject('tag');
    token = await tokenFor(project);
    otherToken = await tokenFor(uniqueProject('tagother'));
    adminToken = await tokenFor(uniqueProject('tagadm'), ['admin']);
    tag = `${project}-gold`;
    // Untagged images between the tagged ones, an image with many tags (the overflow item), one
    // with only the second tag, and a public tagged one of another project.
    for (let k = 0; k < 4; k++) {
      tagged.push((await createImage(token, { name: `t${k}`, tags: [tag, ...(k % 2 ? ['second'] : [])] })).id);
      await createImage(token, { name: `u${k}`, tags: ['second'] });
    }
    tagged.push((await createImage(token, { name: 'many', tags: [...Array.from({ length: TAG_ITEMS_MAX }, (_, k) => `x${k}`), tag] })).id);
    tagged.push((await createImage(adminToken, { name: 'public', tags: [tag], visibility: 'public' })).id);
    // Several are made within one second: the id breaks their tie, as in Glance.
    const made = await Promise.all(tagged.map(async (id) => (await call(`/v2/images/${id}`, { token: adminToken })).body as { id: string; created_at: string }));
    const order = made.map((i) => `${i.created_at}#${i.id}`);
    const sorted = [...tagged].sort((a, b) => (order[tagged.indexOf(a)]! < order[tagged.indexOf(b)]! ? -1 : 1));
    inOrder = sorted;
  });
  let inOrder: string[] = [];
  /** The ids given, in Glance's default order (newest first). */
  const newestFirst = (some: readonly (string | undefined)[]) => inOrder.filter((id) => some.includes(id)).reverse();

  const ids = async (path: string, as = token) => (await pageThrough<{ id: string }>(path, as)).map((i) => i.id);

  it('lists the images with the tag, newest first or oldest first, page by page', async () => {
    expect(await ids(`/v2/images?tag=${tag}&limit=2`)).toEqual(newestFirst(tagged));
    expect(await ids(`/v2/images?tag=${tag}&limit=1&sort=created_at:asc`)).toEqual(newestFirst(tagged).reverse());
    // Both tags (AND), in one page: Glance's `next` keeps only the last value of a repeated key.
    expect(await ids(`/v2/images?tag=${tag}&tag=second&limit=3`)).toEqual(newestFirst([tagged[3], tagged[1]]));
    expect(await ids(`/v2/images?tag=second&tag=${tag}&limit=3&sort=created_at:asc`)).toEqual(newestFirst([tagged[1], tagged[3]]).reverse());
    expect(await ids(`/v2/images?tag=${tag}&owner=${project}&limit=2`)).toEqual(newestFirst(tagged.slice(0, 5)));
    expect(await ids(`/v2/images?tag=${tag}&limit=2`, otherToken)).toEqual([tagged[5]]);
    expect(await ids(`/v2/images?tag=${tag}&limit=2`, adminToken)).toEqual(newestFirst(tagged));
    expect(await ids(`/v2/images?tag=x7&owner=${project}`)).toEqual([tagged[4]]);
    // Another order with tag= is read and sorted in the function: still exact.
    expect(await ids(`/v2/images?tag=${tag}&owner=${project}&sort=name:desc&limit=2`)).toEqual([tagged[3], tagged[2], tagged[1], tagged[0], tagged[4]]);
  });

  it('replaces every tag of an image in one write, at Glance\'s 128 tags and at the tag items\' limit', async () => {
    const some = (prefix: string, n: number) => Array.from({ length: n }, (_, k) => `${prefix}${k}`);
    const made = await createImage(token, { name: 'retag', tags: some(`${project}-a`, 128) });
    const replace = async (tags: string[]) => expect((await patch(token, made.id, [{ op: 'replace', path: '/tags', value: tags }])).status).toBe(200);
    // 40 items retired and 40 put, beside the image, in one TransactWriteItems.
    await replace(some(`${project}-b`, TAG_ITEMS_MAX));
    await replace(some(`${project}-c`, TAG_ITEMS_MAX));
    expect(await ids(`/v2/images?tag=${project}-c7`)).toEqual([made.id]);
    expect(await ids(`/v2/images?tag=${project}-b7`)).toEqual([]);
    await replace(some(`${project}-d`, 128));
    expect(await ids(`/v2/images?tag=${project}-d100`)).toEqual([made.id]);
    expect(await ids(`/v2/images?tag=${project}-c7`)).toEqual([]);
    // Visibility and os_hidden move every tag item: 40 of them in one write.
    await replace(some(`${project}-e`, TAG_ITEMS_MAX));
    expect((await patch(token, made.id, [{ op: 'replace', path: '/visibility', value: 'community' }])).status).toBe(200);
    expect(await ids(`/v2/images?tag=${project}-e3&visibility=community`, otherToken)).toEqual([made.id]);
    expect((await patch(token, made.id, [{ op: 'replace', path: '/os_hidden', value: true }])).status).toBe(200);
    expect(await ids(`/v2/images?tag=${project}-e3&visibility=community`, otherToken)).toEqual([]);
    expect(await ids(`/v2/images?tag=${project}-e3&os_hidden=true`)).toEqual([made.id]);
    expect((await call(`/v2/images/${made.id}`, { method: 'DELETE', token })).status).toBe(204);
    expect(await ids(`/v2/images?tag=${project}-e3&os_hidden=true`)).toEqual([]);
  });

  it('follows tag changes, visibility changes and deletes', async () => {
    const [first] = tagged;
    expect((await call(`/v2/images/${first}/tags/${tag}`, { method: 'DELETE', token })).status).toBe(204);
    expect(await ids(`/v2/images?tag=${tag}&owner=${project}`)).not.toContain(first);
    expect((await call(`/v2/images/${first}/tags/${tag}`, { method: 'PUT', token })).status).toBe(204);
    expect(await ids(`/v2/images?tag=${tag}&owner=${project}`)).toContain(first);
    // Many tags to one, and back.
    const many = tagged[4]!;
    expect((await patch(token, many, [{ op: 'replace', path: '/tags', value: ['x7'] }])).status).toBe(200);
    expect(await ids(`/v2/images?tag=${tag}&owner=${project}`)).not.toContain(many);
    expect(await ids(`/v2/images?tag=x7`)).toEqual([many]);
    expect((await patch(token, many, [{ op: 'replace', path: '/tags', value: [tag, ...Array.from({ length: TAG_ITEMS_MAX }, (_, k) => `x${k}`)] }])).status).toBe(200);
    expect(await ids(`/v2/images?tag=x7`)).toEqual([many]);
    // Community: another project sees it with visibility=community only.
    expect((await patch(token, tagged[2]!, [{ op: 'replace', path: '/visibility', value: 'community' }])).status).toBe(200);
    expect(await ids(`/v2/images?tag=${tag}&visibility=community`, otherToken)).toEqual([tagged[2]]);
    expect(await ids(`/v2/images?tag=${tag}`, otherToken)).toEqual([tagged[5]]);
    // Hidden: in the hidden list only.
    expect((await patch(token, tagged[3]!, [{ op: 'replace', path: '/os_hidden', value: true }])).status).toBe(200);
    expect(await ids(`/v2/images?tag=${tag}&os_hidden=true`)).toEqual([tagged[3]]);
    expect(await ids(`/v2/images?tag=${tag}&owner=${project}`)).not.toContain(tagged[3]);
    // Deleted: gone from every tag list, the admin's too.
    expect((await call(`/v2/images/${tagged[1]}`, { method: 'DELETE', token })).status).toBe(204);
    expect(await ids(`/v2/images?tag=second`, adminToken)).not.toContain(tagged[1]);
    // (tagged[2] is community: an admin's list holds other projects' community images only with visibility=community.)
    expect(await ids(`/v2/images?tag=${tag}&owner=${project}`, adminToken)).toEqual(newestFirst([many, first]));
    expect(await ids(`/v2/images?tag=${tag}&owner=${project}&visibility=all`, adminToken)).toEqual(newestFirst([many, tagged[2], first]));
  });
});
