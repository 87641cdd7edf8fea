import { describe, expect, it } from 'vitest';
import { imageMemberQuota } from '../../shared/app/member-services.js';
import { ImageMembers } from '../../shared/app/image-members.js';
import { makeCaller } from '../../shared/domain/caller.js';
import { GlanceError } from '../../shared/domain/errors.js';
import type { Image } from '../../shared/domain/image.js';
import { memberStatus, parseMemberToAdd, parseStatusBody } from '../../shared/domain/image-members.js';
import { inGlanceList } from '../../shared/domain/list-visibility.js';
import { defaultPolicy } from '../../shared/domain/policy.js';
import { parseListQuery } from '../../shared/domain/list-query.js';
import { MemberWriteRefused, type ImagePartitionRead, type MemberRepository, type StoredMember } from '../../shared/ports/member-repository.js';
import { sampleImage } from '../support/sample-image.js';

/** The member port in memory, with the adapter's conditions: the count and the member must be as read. */
class MemoryMembers implements MemberRepository {
  members = new Map<string, StoredMember>();
  count = 0;
  constructor(public image: Image) {}
  async get(_imageId: string, memberId: string) {
    return this.members.get(memberId);
  }
  async read(_imageId: string, memberIds: readonly string[]): Promise<ImagePartitionRead> {
    return { image: this.image, members: memberIds.flatMap((m) => this.members.get(m) ?? []), memberCount: this.count };
  }
  async readAll(): Promise<ImagePartitionRead> {
    return { image: this.image, members: [...this.members.values()], memberCount: this.count };
  }
  async add(_image: Image, member: StoredMember, memberCount: number) {
    if (memberCount !== this.count) throw new MemberWriteRefused('count-moved');
    if (this.members.has(member.member_id)) throw new MemberWriteRefused('duplicate');
    this.members.set(member.member_id, { ...member, version: member.version + 1 });
    this.count++;
  }
  async update(_image: Image, next: StoredMember) {
    this.members.set(next.member_id, { ...next, version: next.version + 1 });
  }
  async remove(_image: Image, member: StoredMember) {
    this.members.delete(member.member_id);
    this.count--;
  }
}

const owner = makeCaller('p1', 'u1', ['member', 'reader']);
const status = async (promise: Promise<unknown>) => promise.then(() => 200, (e: unknown) => (e instanceof GlanceError ? e.status : 500));

describe('ImageMembers with a small image_member_quota', () => {
  it('admits members up to the quota, then 413 with Glance\'s message, and room again after a removal', async () => {
    const repo = new MemoryMembers(sampleImage());
    const members = new ImageMembers(repo, defaultPolicy, { quota: 2 });
    await members.create(owner, repo.image.id, { member: 'b' });
    await members.create(owner, repo.image.id, { member: 'c' });
    const over = await members.create(owner, repo.image.id, { member: 'd' }).catch((e: GlanceError) => e);
    expect(over).toBeInstanceOf(GlanceError);
    expect((over as GlanceError).status).toBe(413);
    expect((over as GlanceError).message).toMatch(/Attempted: 3, Maximum: 2:$/);
    // At the quota, a duplicate is 413 too: Glance checks the quota first.
    expect(await status(members.create(owner, repo.image.id, { member: 'b' }))).toBe(413);
    await members.remove(owner, repo.image.id, 'c');
    expect(await status(members.create(owner, repo.image.id, { member: 'd' }))).toBe(200);
    expect(repo.count).toBe(2);
  });

  it('treats a negative quota as no limit; an add that keeps losing the member count is a 409 after its retries', async () => {
    const repo = new MemoryMembers(sampleImage());
    const members = new ImageMembers(repo, defaultPolicy, { quota: -1 });
    for (let i = 0; i < 200; i++) await members.create(owner, repo.image.id, { member: `m${i}` });
    expect(repo.count).toBe(200);
    const read = repo.read.bind(repo);
    let reads = 0;
    repo.read = async (id, ids) => ({ ...(await read(id, ids)), memberCount: (reads++, 7) });
    expect(await status(members.create(owner, repo.image.id, { member: 'late' }))).toBe(409);
    expect(reads).toBe(8);
    // One lost count, then a fresh read: the add goes through.
    reads = 0;
    repo.read = async (id, ids) => {
      const fresh = await read(id, ids);
      return reads++ === 0 ? { ...fresh, memberCount: fresh.memberCount - 1 } : fresh;
    };
    expect(await status(members.create(owner, repo.image.id, { member: 'later' }))).toBe(200);
    expect(reads).toBe(2);
  });

  it('reads IMAGE_MEMBER_QUOTA: default 128, negatives allowed, anything else refused', () => {
    expect(imageMemberQuota(undefined)).toBe(128);
    expect(imageMemberQuota('')).toBe(128);
    expect(imageMemberQuota('3')).toBe(3);
    expect(imageMemberQuota('-1')).toBe(-1);
    expect(() => imageMemberQuota('lots')).toThrow(/IMAGE_MEMBER_QUOTA/);
  });
});

describe('member request bodies', () => {
  it('reads {"member": ...} as Glance\'s deserializer does', () => {
    expect(parseMemberToAdd({ member: 'p2' })).toBe('p2');
    for (const [body, message] of [
      [{}, 'Member to be added not specified'],
      [{ member: '' }, "Member can't be empty"],
      [{ member: null }, "Member can't be empty"],
      [{ member: 0 }, "Member can't be empty"],
      [{ member: [] }, "Member can't be empty"],
      ['p2', 'Expected a member in the form: {"member": "image_id"}'],
      [[{ member: 'p2' }], 'Expected a member in the form: {"member": "image_id"}'],
      [{ member: 12 }, 'Expected a member in the form: {"member": "image_id"}'],
    ] as const) {
      expect(() => parseMemberToAdd(body), JSON.stringify(body)).toThrow(message);
    }
  });

  it('reads {"status": ...} and accepts only Glance\'s three statuses', () => {
    expect(memberStatus(parseStatusBody({ status: 'accepted' }))).toBe('accepted');
    expect(() => parseStatusBody({})).toThrow('Status not specified');
    expect(() => parseStatusBody(null)).toThrow('Expected a status in the form: {"status": "status"}');
    for (const bad of ['ACCEPTED', 'all', '', 1, null]) expect(() => memberStatus(bad)).toThrow(/Status must be "pending", "accepted" or "rejected"/);
  });
});

describe('inGlanceList', () => {
  const caller = { projectId: 'me', isAdmin: false };
  const query = (params: Record<string, string> = {}) => parseListQuery(Object.fromEntries(Object.entries(params).map(([k, v]) => [k, [v]])));
  const image = (visibility: Image['visibility'], owner = 'other') => sampleImage({ visibility, owner });

  it("is own + public + accepted shares by default; others' community only when asked for", () => {
    expect(inGlanceList(caller, image('private', 'me'), undefined, query())).toBe(true);
    expect(inGlanceList(caller, image('community', 'me'), undefined, query())).toBe(true);
    expect(inGlanceList(caller, image('public'), undefined, query())).toBe(true);
    expect(inGlanceList(caller, image('community'), undefined, query())).toBe(false);
    expect(inGlanceList(caller, image('community'), undefined, query({ visibility: 'community' }))).toBe(true);
    expect(inGlanceList(caller, image('private'), undefined, query({ visibility: 'all' }))).toBe(false);
    expect(inGlanceList(caller, image('shared'), 'accepted', query())).toBe(true);
    expect(inGlanceList(caller, image('shared'), 'pending', query())).toBe(false);
    expect(inGlanceList(caller, image('shared'), 'pending', query({ visibility: 'shared', member_status: 'pending' }))).toBe(true);
    expect(inGlanceList(caller, image('shared'), 'rejected', query({ member_status: 'all' }))).toBe(true);
    // A membership of an image that is no longer shared shows nothing.
    expect(inGlanceList(caller, image('private'), 'accepted', query({ visibility: 'all', member_status: 'all' }))).toBe(false);
    // visibility=shared holds the caller's own shared images too.
    expect(inGlanceList(caller, image('shared', 'me'), undefined, query({ visibility: 'shared' }))).toBe(true);
    expect(inGlanceList(caller, image('private', 'me'), undefined, query({ visibility: 'shared' }))).toBe(false);
  });

  it('is every image for an admin, narrowed by a visibility filter', () => {
    const admin = { projectId: 'ops', isAdmin: true };
    expect(inGlanceList(admin, image('private'), undefined, query())).toBe(true);
    expect(inGlanceList(admin, image('shared'), undefined, query({ visibility: 'shared' }))).toBe(true);
    expect(inGlanceList(admin, image('private'), undefined, query({ visibility: 'public' }))).toBe(false);
  });
});
