import { existsSync, readFileSync } from 'node:fs';
import fc from 'fast-check';
import { describe, expect, inject, it } from 'vitest';
import { call, createImage, patch, tokenFor, uniqueProject } from './client.js';
import { download, settled, until } from './data-helpers.js';

type PublishedEvent = { 'detail-type': string; detail: Record<string, unknown> };

/** The membership events published for one image (the relay publishes after each write commits). */
function memberEvents(imageId: string): PublishedEvent[] {
  const file = inject('eventsFile');
  if (!existsSync(file)) return [];
  return readFileSync(file, 'utf8')
    .split('\n')
    .filter(Boolean)
    .map((l) => JSON.parse(l) as PublishedEvent)
    .filter((e) => e.detail.image_id === imageId && e['detail-type'].startsWith('image.member.'));
}

const members = (token: string, id: string) => call(`/v2/images/${id}/members`, { token });
const addMember = (token: string, id: string, member: unknown) => call(`/v2/images/${id}/members`, { method: 'POST', token, json: { member } });
const setStatus = (token: string, id: string, member: string, status: unknown) =>
  call(`/v2/images/${id}/members/${member}`, { method: 'PUT', token, json: { status } });
const listIds = async (token: string, query = '') =>
  ((await call(`/v2/images?limit=1000${query}`, { token })).body.images as { id: string }[]).map((i) => i.id);

/** Project A with a shared image, and project B (a member project) with its token. */
async function sharedImage() {
  const a = uniqueProject('a');
  const b = uniqueProject('b');
  const owner = await tokenFor(a);
  const member = await tokenFor(b);
  const image = await createImage(owner, { name: 'shared', visibility: 'shared' });
  return { a, b, owner, member, id: image.id as string };
}

describe('members API', () => {
  it('A shares with B: pending, then accepted; B sees it in its default list only once accepted', async () => {
    const { a, b, owner, member, id } = await sharedImage();
    // Before the share, B does not see the image at all.
    expect((await call(`/v2/images/${id}`, { token: member })).status).toBe(404);
    expect((await members(member, id)).status).toBe(404);

    const added = await addMember(owner, id, b);
    expect(added.status).toBe(200);
    expect(added.body).toEqual({
      member_id: b, image_id: id, status: 'pending', created_at: expect.any(String), updated_at: expect.any(String), schema: '/v2/schemas/member',
    });
    expect(added.body.created_at).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$/);

    // A pending member shows the image, and reads its own membership; not yet in its default list.
    expect((await call(`/v2/images/${id}`, { token: member })).status).toBe(200);
    expect((await call(`/v2/images/${id}/members/${b}`, { token: member })).body.status).toBe('pending');
    expect(await listIds(member)).not.toContain(id);
    expect(await listIds(member, '&visibility=shared&member_status=pending')).toContain(id);

    const listed = await members(owner, id);
    expect(listed.status).toBe(200);
    expect(listed.body).toEqual({ members: [added.body], schema: '/v2/schemas/members' });

    const accepted = await setStatus(member, id, b, 'accepted');
    expect(accepted.status).toBe(200);
    expect(accepted.body).toMatchObject({ member_id: b, image_id: id, status: 'accepted' });
    expect(await listIds(member)).toContain(id);
    expect(await listIds(member, '&visibility=shared')).toContain(id);
    expect(await listIds(member, '&visibility=shared&member_status=pending')).not.toContain(id);
    // The owner's list holds its own image once, membership or not.
    expect((await listIds(owner)).filter((x) => x === id)).toHaveLength(1);

    // B cannot manage members (changing or deleting the image is the policy's, tested with it).
    const byMember = await addMember(member, id, uniqueProject());
    expect(byMember.status).toBe(403);
    expect(byMember.body.message).toBe('You are not authorized to complete add_member action.');
    expect((await call(`/v2/images/${id}/members/${b}`, { method: 'DELETE', token: member })).status).toBe(403);

    // The owner may not change the member's status.
    const byOwner = await setStatus(owner, id, b, 'rejected');
    expect(byOwner.status).toBe(403);
    expect(byOwner.body.message).toBe('You are not authorized to complete modify_member action.');

    // Removing the member: 204, then gone for B, and a second removal is 404.
    expect((await call(`/v2/images/${id}/members/${b}`, { method: 'DELETE', token: owner })).status).toBe(204);
    expect((await call(`/v2/images/${id}/members/${b}`, { method: 'DELETE', token: owner })).status).toBe(404);
    expect((await call(`/v2/images/${id}`, { token: member })).status).toBe(404);
    expect(await listIds(member, '&visibility=shared&member_status=all')).not.toContain(id);
    expect((await members(owner, id)).body.members).toEqual([]);
    // Re-adding reuses the membership, pending again.
    expect((await addMember(owner, id, b)).body.status).toBe('pending');
    expect(a).not.toBe(b);

    const seen = await until('membership events', async () => {
      const events = memberEvents(id);
      return events.length >= 4 ? events : undefined;
    });
    expect(seen.map((e) => [e['detail-type'], e.detail.status, e.detail.deleted])).toEqual([
      ['image.member.create', 'pending', false],
      ['image.member.update', 'accepted', false],
      ['image.member.delete', 'accepted', true],
      ['image.member.create', 'pending', false],
    ]);
    expect(seen[0]!.detail).toMatchObject({ image_id: id, member_id: b, deleted_at: null });
    expect(seen[2]!.detail.deleted_at).toEqual(expect.any(String));
  });

  it('a rejected member still shows and lists with member_status=rejected, never in the default list', async () => {
    const { b, owner, member, id } = await sharedImage();
    await addMember(owner, id, b);
    expect((await setStatus(member, id, b, 'rejected')).body.status).toBe('rejected');
    expect((await call(`/v2/images/${id}`, { token: member })).status).toBe(200);
    expect(await listIds(member)).not.toContain(id);
    expect(await listIds(member, '&visibility=shared&member_status=rejected')).toContain(id);
    expect(await listIds(member, '&visibility=shared&member_status=all')).toContain(id);
    expect(await listIds(member, '&visibility=all')).not.toContain(id);
    // And back to pending, by the member.
    expect((await setStatus(member, id, b, 'pending')).body.status).toBe('pending');
  });

  it('a member downloads the shared image in any member status; another project gets 404', async () => {
    const { b, owner, member } = await sharedImage();
    const id = (await createImage(owner, { name: 'shared data', visibility: 'shared', disk_format: 'raw', container_format: 'bare' })).id as string;
    const data = Buffer.from('shared bytes '.repeat(100));
    const put = await call(`/v2/images/${id}/file`, { method: 'PUT', token: owner, body: data, headers: { 'Content-Type': 'application/octet-stream' } });
    expect(put.status).toBe(204);
    expect((await settled(owner, id)).status).toBe('active');
    expect((await download(member, id)).redirect.status).toBe(404);
    await addMember(owner, id, b);
    for (const status of ['pending', 'rejected', 'accepted']) {
      if (status !== 'pending') await setStatus(member, id, b, status);
      const got = await download(member, id);
      expect(got.redirect.status, status).toBe(302);
      expect(got.bytes, status).toEqual(data);
    }
    const stranger = await tokenFor(uniqueProject('c'));
    expect((await download(stranger, id)).redirect.status).toBe(404);
    expect((await call(`/v2/images/${id}`, { token: stranger })).status).toBe(404);
  });

  it('a member sees only its own entry; another project sees nothing', async () => {
    const { b, owner, member, id } = await sharedImage();
    const c = uniqueProject('c');
    await addMember(owner, id, b);
    await addMember(owner, id, c);
    expect((await members(owner, id)).body.members.map((m: { member_id: string }) => m.member_id).sort()).toEqual([b, c].sort());
    expect((await members(member, id)).body.members.map((m: { member_id: string }) => m.member_id)).toEqual([b]);
    const other = await call(`/v2/images/${id}/members/${c}`, { token: member });
    expect(other.status).toBe(404);
    expect(other.body.message).toBe(`${c} not found in the member list of the image ${id}.`);
    // B cannot set C's status either: C's membership does not exist for B.
    expect((await setStatus(member, id, c, 'accepted')).status).toBe(404);
    const stranger = await tokenFor(uniqueProject('d'));
    const unseen = await members(stranger, id);
    expect(unseen.status).toBe(404);
    expect(unseen.body.message).toBe(`Image ${id} not found.`);
    expect((await addMember(stranger, id, 'x')).status).toBe(404);
  });

  it('refuses members on images that are not shared (403), duplicates (409) and bad bodies (400)', async () => {
    const owner = await tokenFor(uniqueProject('a'));
    const priv = await createImage(owner, { name: 'private', visibility: 'private' });
    const refused = await addMember(owner, priv.id, 'someone');
    expect(refused.status).toBe(403);
    expect(refused.body.message).toBe(`Not allowed to create members for image ${priv.id}.`);
    const list = await members(owner, priv.id);
    expect(list.status).toBe(403);
    expect(list.body.message).toBe(`Not allowed to list members for image ${priv.id}: Only shared images have members.`);
    expect((await call(`/v2/images/${priv.id}/members/someone`, { token: owner })).status).toBe(404);

    const { b, owner: a, id } = await sharedImage();
    expect((await addMember(a, id, b)).status).toBe(200);
    const dup = await addMember(a, id, b);
    expect(dup.status).toBe(409);
    expect(dup.body.message).toBe(`Member ${b} is duplicated for image ${id}`);

    const post = (json: unknown) => call(`/v2/images/${id}/members`, { method: 'POST', token: a, json });
    expect((await post({})).body.message).toBe('Member to be added not specified');
    expect((await post({ member: '' })).body.message).toBe("Member can't be empty");
    expect((await post(['x'])).body.message).toBe('Expected a member in the form: {"member": "image_id"}');
    expect((await post({ member: 'x'.repeat(256) })).status).toBe(400);
    expect((await call(`/v2/images/${id}/members`, { method: 'POST', token: a })).body.message).toBe('Body expected in request.');

    const bad = await setStatus(await tokenFor(b), id, b, 'maybe');
    expect(bad.status).toBe(400);
    expect(bad.body.message).toBe('Incorrect request: Status must be "pending", "accepted" or "rejected".');
    const missing = await call(`/v2/images/${id}/members/${b}`, { method: 'PUT', token: await tokenFor(b), json: {} });
    expect(missing.status).toBe(400);
    expect(missing.body.message).toBe('Status not specified');
    expect((await call(`/v2/images/${id}/members/nobody`, { token: a })).status).toBe(404);
  });

  it('keeps members when visibility leaves shared, hiding the image from them until it comes back', async () => {
    const { b, owner, member, id } = await sharedImage();
    await addMember(owner, id, b);
    await setStatus(member, id, b, 'accepted');
    expect((await patch(owner, id, [{ op: 'replace', path: '/visibility', value: 'private' }])).status).toBe(200);
    expect((await call(`/v2/images/${id}`, { token: member })).status).toBe(404);
    expect(await listIds(member, '&visibility=shared&member_status=all')).not.toContain(id);
    expect(await listIds(member)).not.toContain(id);
    expect((await members(owner, id)).status).toBe(403);
    expect((await patch(owner, id, [{ op: 'replace', path: '/visibility', value: 'shared' }])).status).toBe(200);
    expect((await call(`/v2/images/${id}`, { token: member })).status).toBe(200);
    expect(await listIds(member)).toContain(id);
    expect((await members(owner, id)).body.members.map((m: { status: string }) => m.status)).toEqual(['accepted']);
  });

  it('a deleted image takes its members with it: 404 everywhere, in no list', async () => {
    const { b, owner, member, id } = await sharedImage();
    await addMember(owner, id, b);
    await setStatus(member, id, b, 'accepted');
    expect((await call(`/v2/images/${id}`, { method: 'DELETE', token: owner })).status).toBe(204);
    expect((await members(owner, id)).status).toBe(404);
    expect((await call(`/v2/images/${id}/members/${b}`, { token: member })).status).toBe(404);
    expect(await listIds(member, '&visibility=shared&member_status=all')).not.toContain(id);
    expect(await listIds(member)).not.toContain(id);
  });

  it(`enforces image_member_quota (default 128) with Glance's 413`, async () => {
    const { owner, id } = await sharedImage();
    // Concurrent adds serialise on the image's member count; a loser reads again and retries, so
    // none of them is refused (as in Glance).
    for (let i = 0; i < 120; i += 8) {
      const added = await Promise.all(Array.from({ length: 8 }, (_, j) => addMember(owner, id, `q-${i + j}`)));
      expect(added.map((r) => r.status)).toEqual(Array(8).fill(200));
    }
    // 16 at once for the last 8 places: exactly 8 get in, the others are 413, never 129 members.
    const race = await Promise.all(Array.from({ length: 16 }, (_, j) => addMember(owner, id, `race-${j}`)));
    expect(race.filter((r) => r.status === 200)).toHaveLength(8);
    expect(race.filter((r) => r.status === 413)).toHaveLength(8);
    const winners = race.flatMap((r, j) => (r.status === 200 ? [`race-${j}`] : []));
    expect((await members(owner, id)).body.members.filter((m: { member_id: string }) => m.member_id.startsWith('race-')).map((m: { member_id: string }) => m.member_id).sort()).toEqual(winners.sort());
    const over = await addMember(owner, id, 'q-128');
    expect(over.status).toBe(413);
    expect(over.body.message).toBe(
      `Image member limit exceeded for image ${id}: The limit has been exceeded on the number of allowed image members for this image. Attempted: 129, Maximum: 128:`,
    );
    expect((await members(owner, id)).body.members).toHaveLength(128);
    // Removing one makes room for one.
    expect((await call(`/v2/images/${id}/members/q-0`, { method: 'DELETE', token: owner })).status).toBe(204);
    expect((await addMember(owner, id, 'q-128')).status).toBe(200);
    expect((await addMember(owner, id, 'q-129')).status).toBe(413);
  });

  it('serves the member schemas as Glance does', async () => {
    const token = await tokenFor(uniqueProject());
    const member = await call('/v2/schemas/member', { token });
    expect(member.status).toBe(200);
    expect(member.body.name).toBe('member');
    expect(member.body.additionalProperties).toBe(false);
    expect(Object.keys(member.body.properties)).toEqual(['member_id', 'image_id', 'created_at', 'updated_at', 'status', 'schema']);
    expect(member.body.properties.status.enum).toEqual(['pending', 'accepted', 'rejected']);
    const list = await call('/v2/schemas/members', { token });
    expect(list.body.name).toBe('members');
    expect(list.body.properties.members.items).toEqual(member.body);
    expect(list.body.links.map((l: { rel: string }) => l.rel)).toEqual(['first', 'next', 'describedby']);
  });
});

const VISIBILITY_FILTERS = [undefined, 'public', 'private', 'shared', 'community', 'all'] as const;
const MEMBER_STATUS_FILTERS = [undefined, 'pending', 'accepted', 'rejected', 'all'] as const;
type Project = 'A' | 'B' | 'C';
interface ImageSpec {
  owner: 'A' | 'B';
  /** Where the image ends up; every image starts shared so it can take members. */
  visibility: 'public' | 'private' | 'shared' | 'community';
  members: Partial<Record<Project, 'pending' | 'accepted' | 'rejected'>>;
}

/** Glance's list for a regular caller (glance/db/sqlalchemy/api.py), written out independently of the implementation. */
function expectedList(caller: Project, specs: ImageSpec[], visibility: string | undefined, memberStatus: string | undefined): number[] {
  const status = memberStatus ?? 'accepted';
  return specs.flatMap((spec, i) => {
    const own = spec.owner === caller;
    const membership = spec.members[caller];
    const sharedIn = spec.visibility === 'shared' && membership !== undefined && (status === 'all' || membership === status);
    if (!(spec.visibility === 'public' || spec.visibility === 'community' || own || sharedIn)) return [];
    if (visibility === undefined) return spec.visibility !== 'community' || own ? [i] : [];
    return visibility === 'all' || spec.visibility === visibility ? [i] : [];
  });
}

describe('list visibility with members (property)', () => {
  it('lists for every caller and filter exactly what Glance would, and never an image the caller may not see', async () => {
    const project = fc.constantFrom<Project>('A', 'B', 'C');
    // Members are other projects: an owner's membership of its own image is not a case here.
    const spec: fc.Arbitrary<ImageSpec> = fc
      .record({
        owner: fc.constantFrom<'A' | 'B'>('A', 'B'),
        visibility: fc.constantFrom<ImageSpec['visibility']>('public', 'private', 'shared', 'community'),
        members: fc.dictionary(project, fc.constantFrom<'pending' | 'accepted' | 'rejected'>('pending', 'accepted', 'rejected'), { maxKeys: 3 }),
      })
      .map((s) => ({ ...s, members: Object.fromEntries(Object.entries(s.members).filter(([p]) => p !== s.owner)) }));
    await fc.assert(
      fc.asyncProperty(fc.array(spec, { minLength: 2, maxLength: 5 }), async (specs) => {
        const names: Record<Project, string> = { A: uniqueProject('pa'), B: uniqueProject('pb'), C: uniqueProject('pc') };
        const tokens = Object.fromEntries(await Promise.all((['A', 'B', 'C'] as const).map(async (p) => [p, await tokenFor(names[p])]))) as Record<Project, string>;
        const admin = await tokenFor(uniqueProject('padm'), ['admin']);
        const tag = uniqueProject('run');
        const ids: string[] = [];
        for (const s of specs) {
          const image = await createImage(tokens[s.owner], { name: 'prop', visibility: 'shared', tags: [tag] });
          ids.push(image.id);
          for (const [member, status] of Object.entries(s.members) as [Project, string][]) {
            expect((await addMember(tokens[s.owner], image.id, names[member])).status).toBe(200);
            if (status !== 'pending') expect((await setStatus(tokens[member], image.id, names[member], status)).status).toBe(200);
          }
          // Members survive the change away from shared; an admin may make it public.
          if (s.visibility !== 'shared') expect((await patch(admin, image.id, [{ op: 'replace', path: '/visibility', value: s.visibility }])).status).toBe(200);
        }
        for (const caller of ['A', 'B', 'C'] as const) {
          for (const visibility of VISIBILITY_FILTERS) {
            for (const memberStatus of MEMBER_STATUS_FILTERS) {
              const query = `&tag=${tag}${visibility ? `&visibility=${visibility}` : ''}${memberStatus ? `&member_status=${memberStatus}` : ''}`;
              const listed = await listIds(tokens[caller], query);
              const want = expectedList(caller, specs, visibility, memberStatus).map((i) => ids[i]);
              expect(listed.sort(), `${caller} ${query}`).toEqual(want.sort());
            }
          }
          // Every image listed under any filter shows to the caller; every other one of the run is 404.
          const anyList = new Set([...(await listIds(tokens[caller], `&tag=${tag}&visibility=all&member_status=all`))]);
          for (const [i, id] of ids.entries()) {
            const visible = expectedList(caller, specs, 'all', 'all').includes(i);
            expect(anyList.has(id)).toBe(visible);
            expect((await call(`/v2/images/${id}`, { token: tokens[caller] })).status, `${caller} shows ${i}`).toBe(visible ? 200 : 404);
          }
          // Pages of one with markers walk the same default list, shared images included.
          const paged: string[] = [];
          let path: string | undefined = `/v2/images?limit=1&tag=${tag}`;
          while (path) {
            const page: { images: { id: string }[]; next?: string } = (await call(path, { token: tokens[caller] })).body;
            paged.push(...page.images.map((image) => image.id));
            path = page.next;
          }
          expect(paged, `${caller} pages`).toEqual(await listIds(tokens[caller], `&tag=${tag}`));
        }
      }),
      { numRuns: 6, seed: 9 },
    );
  }, 240_000);
});
