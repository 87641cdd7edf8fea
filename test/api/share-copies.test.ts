import { randomBytes } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { until } from './data-helpers.js';
import { call, createImage, patch, tokenFor, uniqueProject } from './client.js';
import { faultReached, injectFault } from './faults.js';
import { shareCopiesFollowed } from './share-copies.js';

/**
 * The images shared with a project are listed from its memberships' copies of their keys
 * (docs/table-design.md, "Shared-with-me images"): written with each member write, and after
 * each image write by the stream's consumer (the publishEvents worker).
 */
const ids = async (token: string, query: string) => {
  const res = await call(`/v2/images?limit=100&${query}`, { token });
  expect(res.status, res.text).toBe(200);
  return (res.body.images as { id: string }[]).map((i) => i.id);
};

async function sharedAndAccepted(name: string) {
  const owner = await tokenFor(uniqueProject('so'));
  const memberProject = uniqueProject('sm');
  const member = await tokenFor(memberProject);
  const image = await createImage(owner, { name, visibility: 'shared', disk_format: 'raw', container_format: 'bare' });
  expect((await call(`/v2/images/${image.id}/members`, { method: 'POST', token: owner, json: { member: memberProject } })).status).toBe(200);
  expect((await call(`/v2/images/${image.id}/members/${memberProject}`, { method: 'PUT', token: member, json: { status: 'accepted' } })).status).toBe(200);
  return { owner, member, id: image.id as string };
}

describe("images shared with the caller, from the memberships' copies", () => {
  it("a rename of a shared image shows in the member's sort=name and name= lists once the copy follows", async () => {
    const run = uniqueProject('rn');
    const { owner, member, id } = await sharedAndAccepted(`${run}-old`);
    const other = await sharedAndAccepted(`${run}-m`);
    await shareCopiesFollowed([id, other.id]);
    expect(await ids(member, `name=${run}-old`)).toEqual([id]);

    expect((await patch(owner, id, [{ op: 'replace', path: '/name', value: `${run}-z` }])).status).toBe(200);
    await shareCopiesFollowed([id]);
    expect(await ids(member, `name=${run}-z`)).toEqual([id]);
    expect(await ids(member, `name=${run}-old`)).toEqual([]);
    // In the member's name order (its shares only: the public images of other files sort among
    // them in the shared runtime, past a page of 100 in a full run).
    expect(await ids(member, 'visibility=shared&sort=name:asc')).toEqual([id]);
    const mine = await ids(other.member, `name=in:${run}-m,${run}-z&sort=name:asc`);
    expect(mine).toEqual([other.id]);
    const page = await call(`/v2/images?limit=1&visibility=shared&sort=name:desc`, { token: member });
    expect(page.body.images.map((i: { id: string }) => i.id)).toEqual([id]);
  });

  it('a project whose id ends #shared#accepted shares a byOwner partition with another\'s shares, and neither sees the other\'s images', async () => {
    const x = uniqueProject('cx');
    const lookalike = `${x}#shared#accepted`;
    const xToken = await tokenFor(x);
    const lookalikeToken = await tokenFor(lookalike);
    const owner = await tokenFor(uniqueProject('co'));
    const shared = await createImage(owner, { name: `${x}-s`, visibility: 'shared' });
    expect((await call(`/v2/images/${shared.id}/members`, { method: 'POST', token: owner, json: { member: x } })).status).toBe(200);
    expect((await call(`/v2/images/${shared.id}/members/${x}`, { method: 'PUT', token: xToken, json: { status: 'accepted' } })).status).toBe(200);
    const own = await createImage(lookalikeToken, { name: `${x}-s`, visibility: 'private' });
    await shareCopiesFollowed([shared.id]);
    // Public images of other tests share the runtime: the queries are narrowed to what these two projects can hold.
    for (const query of [`name=${x}-s`, `name=${x}-s&sort=name:asc`, `name=${x}-s&sort=created_at:asc`]) {
      expect(await ids(xToken, query), `${x}: ${query}`).toEqual([shared.id]);
      expect(await ids(lookalikeToken, query), `${lookalike}: ${query}`).toEqual([own.id]);
    }
    for (const query of ['visibility=shared', 'visibility=shared&sort=size:desc', 'visibility=shared&sort=status:asc&os_hidden=false', 'visibility=shared&member_status=all&sort=updated_at:asc']) {
      expect(await ids(xToken, query), `${x}: ${query}`).toEqual([shared.id]);
      expect(await ids(lookalikeToken, query), `${lookalike}: ${query}`).toEqual([]);
    }
    expect(await ids(lookalikeToken, 'visibility=private&sort=size:desc')).toEqual([own.id]);
    expect(await ids(xToken, 'visibility=private')).toEqual([]);
  });

  it('a failed copy after an image write is finished by the stream retrying the record', async () => {
    const run = uniqueProject('rt');
    const { owner, member, id } = await sharedAndAccepted(`${run}-before`);
    await shareCopiesFollowed([id]);
    // The worker's UpdateItem of the membership fails twice (the process dies or DynamoDB
    // throttles between the image write and its copies): the mapping retries the record.
    const rule = { command: 'UpdateItem', key: id };
    injectFault({ ...rule, times: 2, error: 'ProvisionedThroughputExceededException' });
    expect((await patch(owner, id, [{ op: 'replace', path: '/name', value: `${run}-after` }])).status).toBe(200);
    await faultReached(rule);
    await shareCopiesFollowed([id]);
    expect(await ids(member, `name=${run}-after`)).toEqual([id]);
    expect(await ids(member, `name=${run}-before`)).toEqual([]);
  });

  it('hiding, uploading and unsharing a shared image move it in the member lists', async () => {
    const run = uniqueProject('hd');
    const { owner, member, id } = await sharedAndAccepted(`${run}-h`);
    expect((await patch(owner, id, [{ op: 'replace', path: '/os_hidden', value: true }])).status).toBe(200);
    await shareCopiesFollowed([id]);
    expect(await ids(member, `name=${run}-h`)).toEqual([]);
    expect(await ids(member, `name=${run}-h&os_hidden=true`)).toEqual([id]);
    expect(await ids(member, `os_hidden=true&sort=size:asc&visibility=shared`)).toEqual([id]);
    expect((await patch(owner, id, [{ op: 'replace', path: '/visibility', value: 'private' }])).status).toBe(200);
    await shareCopiesFollowed([id]);
    expect(await ids(member, `name=${run}-h&os_hidden=true`)).toEqual([]);
    // Shared again: the membership is back in the lists (Glance keeps members across visibility changes).
    expect((await patch(owner, id, [{ op: 'replace', path: '/visibility', value: 'shared' }, { op: 'replace', path: '/os_hidden', value: false }])).status).toBe(200);
    await shareCopiesFollowed([id]);
    expect(await ids(member, `name=${run}-h&sort=updated_at:desc`)).toEqual([id]);
  });
});

describe("tag= on the images shared with the caller, from the memberships' share-tag items", () => {
  const tagPut = async (token: string, id: string, tag: string, method: 'PUT' | 'DELETE') => expect((await call(`/v2/images/${id}/tags/${encodeURIComponent(tag)}`, { method, token })).status).toBe(204);

  it('follows member add, accept, reject and remove, under every member_status', async () => {
    const run = uniqueProject('tm');
    const owner = await tokenFor(uniqueProject('to'));
    const memberProject = uniqueProject('tmm');
    const member = await tokenFor(memberProject);
    const image = await createImage(owner, { name: `${run}`, visibility: 'shared', tags: [`${run}-a`, `${run}-b`] });
    const id = image.id as string;
    expect((await call(`/v2/images/${id}/members`, { method: 'POST', token: owner, json: { member: memberProject } })).status).toBe(200);
    expect(await ids(member, `tag=${run}-a&member_status=pending`)).toEqual([id]);
    expect(await ids(member, `tag=${run}-a&tag=${run}-b&member_status=all`)).toEqual([id]);
    expect(await ids(member, `tag=${run}-a`)).toEqual([]);
    expect((await call(`/v2/images/${id}/members/${memberProject}`, { method: 'PUT', token: member, json: { status: 'accepted' } })).status).toBe(200);
    expect(await ids(member, `tag=${run}-a`)).toEqual([id]);
    expect(await ids(member, `tag=${run}-b&sort=created_at:asc`)).toEqual([id]);
    expect(await ids(member, `tag=${run}-a&member_status=pending`)).toEqual([]);
    expect((await call(`/v2/images/${id}/members/${memberProject}`, { method: 'PUT', token: member, json: { status: 'rejected' } })).status).toBe(200);
    expect(await ids(member, `tag=${run}-a`)).toEqual([]);
    expect(await ids(member, `tag=${run}-a&member_status=rejected`)).toEqual([id]);
    expect((await call(`/v2/images/${id}/members/${memberProject}`, { method: 'DELETE', token: owner })).status).toBe(204);
    expect(await ids(member, `tag=${run}-a&member_status=all`)).toEqual([]);
    // Added again (the tombstone reused), accepted: back under the tag.
    expect((await call(`/v2/images/${id}/members`, { method: 'POST', token: owner, json: { member: memberProject } })).status).toBe(200);
    expect((await call(`/v2/images/${id}/members/${memberProject}`, { method: 'PUT', token: member, json: { status: 'accepted' } })).status).toBe(200);
    expect(await ids(member, `tag=${run}-b`)).toEqual([id]);
    // The owner's own tag list is not disturbed by its members' entries.
    expect(await ids(owner, `tag=${run}-a`)).toEqual([id]);
  });

  it("follows the image's tags added, removed and replaced past 40 and back, once the copies follow", async () => {
    const run = uniqueProject('tt');
    const { owner, member, id } = await sharedAndAccepted(`${run}`);
    await tagPut(owner, id, `${run}-x`, 'PUT');
    await shareCopiesFollowed([id]);
    expect(await ids(member, `tag=${run}-x`)).toEqual([id]);
    await tagPut(owner, id, `${run}-y`, 'PUT');
    await tagPut(owner, id, `${run}-x`, 'DELETE');
    await shareCopiesFollowed([id]);
    expect(await ids(member, `tag=${run}-x`)).toEqual([]);
    expect(await ids(member, `tag=${run}-y`)).toEqual([id]);
    const many = Array.from({ length: 45 }, (_, k) => `${run}-m${k}`);
    expect((await patch(owner, id, [{ op: 'replace', path: '/tags', value: many }])).status).toBe(200);
    await shareCopiesFollowed([id]);
    expect(await ids(member, `tag=${run}-m44`)).toEqual([id]);
    expect(await ids(member, `tag=${run}-m0&tag=${run}-m7`)).toEqual([id]);
    expect(await ids(member, `tag=${run}-y`)).toEqual([]);
    expect((await patch(owner, id, [{ op: 'replace', path: '/tags', value: [`${run}-z`] }])).status).toBe(200);
    await shareCopiesFollowed([id]);
    expect(await ids(member, `tag=${run}-m44`)).toEqual([]);
    expect(await ids(member, `tag=${run}-z`)).toEqual([id]);
  });

  it('follows hide and unhide, delete and restore', async () => {
    const run = uniqueProject('th');
    const { owner, member, id } = await sharedAndAccepted(`${run}`);
    const admin = await tokenFor(uniqueProject('ta'), ['admin']);
    // With data, so that a delete keeps it restorable (pending_delete).
    const put = await call(`/v2/images/${id}/file`, { method: 'PUT', token: owner, body: randomBytes(1024), headers: { 'Content-Type': 'application/octet-stream' } });
    expect(put.status).toBe(204);
    await until('the upload to settle', async () => ((await call(`/v2/images/${id}`, { token: owner })).body.status === 'active' ? true : undefined));
    await tagPut(owner, id, `${run}-t`, 'PUT');
    expect((await patch(owner, id, [{ op: 'replace', path: '/os_hidden', value: true }])).status).toBe(200);
    await shareCopiesFollowed([id]);
    expect(await ids(member, `tag=${run}-t`)).toEqual([]);
    expect(await ids(member, `tag=${run}-t&os_hidden=true`)).toEqual([id]);
    expect((await patch(owner, id, [{ op: 'replace', path: '/os_hidden', value: false }])).status).toBe(200);
    await shareCopiesFollowed([id]);
    expect(await ids(member, `tag=${run}-t&os_hidden=true`)).toEqual([]);
    expect(await ids(member, `tag=${run}-t`)).toEqual([id]);
    expect((await call(`/v2/images/${id}`, { method: 'DELETE', token: owner })).status).toBe(204);
    await shareCopiesFollowed([id]);
    expect(await ids(member, `tag=${run}-t`)).toEqual([]);
    expect((await call(`/v2/images/${id}/actions/restore`, { method: 'POST', token: admin })).status).toBe(204);
    await shareCopiesFollowed([id]);
    expect(await ids(member, `tag=${run}-t`)).toEqual([id]);
  });

  it("a failed write of the share-tag items is finished by the stream retrying the record", async () => {
    const run = uniqueProject('tr');
    const { owner, member, id } = await sharedAndAccepted(`${run}`);
    await shareCopiesFollowed([id]);
    // The membership's update and its share-tag items are one transaction: it fails twice.
    const rule = { command: 'UpdateItem', key: id };
    injectFault({ ...rule, times: 2, error: 'ProvisionedThroughputExceededException' });
    await tagPut(owner, id, `${run}-late`, 'PUT');
    await faultReached(rule);
    await shareCopiesFollowed([id]);
    expect(await ids(member, `tag=${run}-late`)).toEqual([id]);
  });
});
