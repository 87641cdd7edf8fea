import { randomUUID } from 'node:crypto';
import { beforeAll, describe, expect, it } from 'vitest';
import { tokenFor } from '../api/client.js';
import { ok, parseDict, parseTable, stockClients, UUID } from './cli.js';

/**
 * Sharing an image with the stock clients, checked only through what the clients show, so the
 * same scenarios run against the real Glance: start it (/work/shared/glance/start-glance.sh, with
 * secure RBAC on as docs/glance-tenancy-probe.sh does), put token-proxy.py in front of it, and run
 *   GLANCE_ANCHOR_URL=http://127.0.0.1:9293 npx vitest run --project compat test/compat/members.test.ts
 * The proxy takes a project id as the token (roles member,reader).
 *
 * Project ids look like Keystone's (32 hex digits): `openstack image add project` looks a project
 * up in Keystone unless its argument is UUID-like (openstackclient/image/v2/image.py,
 * AddProjectToImage.take_action), and there is no Keystone here.
 */
const anchor = process.env.GLANCE_ANCHOR_URL;
const { glance, openstack, openstackJson } = stockClients(anchor ? { url: () => anchor, forgetSchemas: true } : {});
const keystoneLikeProject = () => randomUUID().replace(/-/g, '');
/**
 * How glanceclient reports a refusal: "HTTP 403 Forbidden: <message>" from Glance's HTML error
 * page, "HTTP <message>" from Skyglass's JSON one (README: errors are JSON always).
 */
const refusal = (message: string): RegExp => new RegExp(`HTTP (\\d{3} [A-Za-z ]+: )?${message.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}`);
const tokenOf = (project: string): Promise<string> => (anchor ? Promise.resolve(project) : tokenFor(project));

describe('glance member-* (python3-glanceclient)', () => {
  const owner = keystoneLikeProject();
  const member = keystoneLikeProject();
  let ownerToken: string;
  let memberToken: string;
  let id: string;

  const listedBy = async (token: string, ...filters: string[]) => parseTable(ok(await glance(token, 'image-list', ...filters)).stdout).map((row) => row.ID);

  beforeAll(async () => {
    [ownerToken, memberToken] = await Promise.all([tokenOf(owner), tokenOf(member)]);
    const shown = parseDict(ok(await glance(ownerToken, 'image-create', '--name', 'compat-shared', '--disk-format', 'raw', '--container-format', 'bare', '--visibility', 'shared')).stdout);
    expect(shown.id).toMatch(UUID);
    id = shown.id as string;
  });

  it('member-create adds the project as a pending member', async () => {
    const rows = parseTable(ok(await glance(ownerToken, 'member-create', id, member)).stdout);
    expect(rows).toEqual([{ 'Image ID': id, 'Member ID': member, Status: 'pending' }]);
  });

  it('member-list --image-id shows the member to the owner and to the member itself', async () => {
    const expected = [{ 'Image ID': id, 'Member ID': member, Status: 'pending' }];
    expect(parseTable(ok(await glance(ownerToken, 'member-list', '--image-id', id)).stdout)).toEqual(expected);
    expect(parseTable(ok(await glance(memberToken, 'member-list', '--image-id', id)).stdout)).toEqual(expected);
  });

  it('a pending share is listed only when asked for by member status', async () => {
    expect(await listedBy(memberToken)).not.toContain(id);
    expect(await listedBy(memberToken, '--visibility', 'shared', '--member-status', 'pending')).toEqual([id]);
  });

  it('member-update by the member accepts it: the image is then in its default list', async () => {
    const rows = parseTable(ok(await glance(memberToken, 'member-update', id, member, 'accepted')).stdout);
    expect(rows).toEqual([{ 'Image ID': id, 'Member ID': member, Status: 'accepted' }]);
    expect(await listedBy(memberToken)).toContain(id);
    expect(parseDict(ok(await glance(memberToken, 'image-show', id)).stdout)).toMatchObject({ id, name: 'compat-shared', owner });
  });

  it('only the member changes its status and only the owner removes it', async () => {
    const byOwner = await glance(ownerToken, 'member-update', id, member, 'rejected');
    expect(byOwner.code).toBe(1);
    expect(byOwner.stderr).toMatch(refusal('You are not authorized to complete modify_member action.'));
    const byMember = await glance(memberToken, 'member-delete', id, member);
    expect(byMember.code).toBe(1);
    expect(byMember.stderr).toMatch(refusal('You are not authorized to complete delete_member action.'));
    expect(parseTable(ok(await glance(ownerToken, 'member-list', '--image-id', id)).stdout)).toEqual([{ 'Image ID': id, 'Member ID': member, Status: 'accepted' }]);
  });

  it('member-delete by the owner ends the share: the member no longer sees the image', async () => {
    expect(ok(await glance(ownerToken, 'member-delete', id, member)).stdout.trim()).toBe('');
    expect(parseTable(ok(await glance(ownerToken, 'member-list', '--image-id', id)).stdout)).toEqual([]);
    const shown = await glance(memberToken, 'image-show', id);
    expect(shown.code).toBe(1);
    expect(shown.stderr).toContain(`No image found with ID ${id}`);
    const again = await glance(ownerToken, 'member-delete', id, member);
    expect(again.code).toBe(1);
    expect(again.stderr).toMatch(refusal(`${member} not found in the member list of the image ${id}.`));
  });
});

/**
 * `openstack image set --accept` and `openstack image remove project` cannot run without a
 * Keystone, so they are not here (glance member-update / member-delete above cover the same calls):
 * - `image remove project` always resolves the project through the identity API
 *   (RemoveProjectImage.take_action → identity/common.py find_project → osc_lib find_resource:
 *   GET <identity>/projects/<id>, then ?name=<id>); it falls back to the raw id only when that
 *   answers 403. With `--os-auth-type admin_token` the identity client uses the one --os-endpoint,
 *   the image service, which answers 404: "No project with a name or ID of '<id>' exists.".
 * - `image set --accept` without --project takes the caller's project from
 *   `client_manager.auth_ref.project_id`; admin_token has no auth_ref ("'NoneType' object has no
 *   attribute 'project_id'"), and with --project it goes through find_project as above.
 */
describe('openstack image add project / image member list (python3-openstackclient)', () => {
  const owner = keystoneLikeProject();
  const member = keystoneLikeProject();
  let ownerToken: string;
  let memberToken: string;
  let id: string;

  beforeAll(async () => {
    [ownerToken, memberToken] = await Promise.all([tokenOf(owner), tokenOf(member)]);
    const image = await openstackJson(ownerToken, 'image', 'create', '--disk-format', 'raw', '--container-format', 'bare', '--shared', 'compat-osc-shared');
    expect(image).toMatchObject({ name: 'compat-osc-shared', visibility: 'shared', owner });
    id = image.id;
  });

  it('image add project shares the image with a project id: a pending member', async () => {
    const added = await openstackJson(ownerToken, 'image', 'add', 'project', id, member);
    expect(added).toMatchObject({ image_id: id, member_id: member, status: 'pending', schema: '/v2/schemas/member' });
    expect(added.created_at).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$/);
  });

  it('image member list shows the member to the owner and to the member', async () => {
    const expected = [{ 'Image ID': id, 'Member ID': member, Status: 'pending' }];
    expect(await openstackJson(ownerToken, 'image', 'member', 'list', id)).toEqual(expected);
    expect(await openstackJson(memberToken, 'image', 'member', 'list', id)).toEqual(expected);
  });

  it('the member finds the pending image with image list --shared --member-status pending', async () => {
    const pending = await openstackJson(memberToken, 'image', 'list', '--shared', '--member-status', 'pending');
    expect(pending).toEqual([{ ID: id, Name: 'compat-osc-shared', Status: 'queued' }]);
    const listed = await openstackJson(memberToken, 'image', 'list');
    expect(listed.map((row: { ID: string }) => row.ID)).not.toContain(id);
  });

  it('adding the same project again fails with a conflict', async () => {
    const again = await openstack(ownerToken, 'image', 'add', 'project', id, member);
    expect(again.code).toBe(1);
    expect(again.stderr).toContain('409');
  });
});
