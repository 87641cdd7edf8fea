import { beforeAll, describe, expect, it } from 'vitest';
import { call, createImage, tokenFor, uniqueProject } from '../api/client.js';
import { ok, parseDict, parseTable, stockClients, UUID } from './cli.js';

/**
 * The stock OpenStack clients from Debian against the local runtime, checked on what a user
 * sees: glanceclient's tables and openstackclient's `-f json`. Moving image data with them is
 * in data.test.ts; running them is in cli.ts.
 */
const { glance, openstack, openstackJson } = stockClients();

describe('glance (python3-glanceclient)', () => {
  let token: string;
  let project: string;
  let id: string;
  let otherId: string;

  beforeAll(async () => {
    project = uniqueProject('glance');
    token = await tokenFor(project);
    otherId = (await createImage(token, { name: 'compat-other', disk_format: 'raw', container_format: 'bare' })).id;
  });

  it('image-create shows the new queued image with its formats and custom property', async () => {
    const shown = parseDict(
      ok(
        await glance(token, 'image-create', '--name', 'compat-cirros', '--disk-format', 'qcow2', '--container-format', 'bare',
          '--visibility', 'private', '--min-ram', '64', '--property', 'os_distro=cirros'),
      ).stdout,
    );
    expect(shown).toMatchObject({
      name: 'compat-cirros',
      disk_format: 'qcow2',
      container_format: 'bare',
      visibility: 'private',
      min_ram: '64',
      os_distro: 'cirros',
      status: 'queued',
      owner: project,
      protected: 'False',
    });
    expect(shown.id).toMatch(UUID);
    id = shown.id as string;
    const stored = await call(`/v2/images/${id}`, { token });
    expect(stored.body).toMatchObject({ name: 'compat-cirros', os_distro: 'cirros', min_ram: 64, visibility: 'private' });
  });

  it('image-list lists the project images and filters by property', async () => {
    const [all, filtered] = await Promise.all([
      glance(token, 'image-list'),
      glance(token, 'image-list', '--property-filter', 'os_distro=cirros'),
    ]);
    // Other suites' public images are visible too: look at this suite's own.
    const own = parseTable(ok(all).stdout).filter((row) => row.Name?.startsWith('compat-'));
    expect(own.map((row) => [row.ID, row.Name]).sort()).toEqual(
      [[id, 'compat-cirros'], [otherId, 'compat-other']].sort(),
    );
    expect(parseTable(ok(filtered).stdout)).toEqual([{ ID: id, Name: 'compat-cirros' }]);
  });

  it('image-show shows every field of the image', async () => {
    const shown = parseDict(ok(await glance(token, 'image-show', id)).stdout);
    expect(shown).toMatchObject({ id, name: 'compat-cirros', disk_format: 'qcow2', container_format: 'bare', os_distro: 'cirros', tags: '[]' });
    for (const key of ['checksum', 'created_at', 'updated_at', 'size', 'os_hidden', 'os_hash_algo', 'min_disk', 'virtual_size']) {
      expect(shown, key).toHaveProperty(key);
    }
    expect(shown.created_at).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$/);
  });

  it('image-update renames, adds and removes properties', async () => {
    const shown = parseDict(
      ok(await glance(token, 'image-update', '--name', 'compat-cirros-2', '--property', 'hw_disk_bus=virtio', '--remove-property', 'os_distro', id)).stdout,
    );
    expect(shown).toMatchObject({ id, name: 'compat-cirros-2', hw_disk_bus: 'virtio' });
    expect(shown).not.toHaveProperty('os_distro');
    const stored = (await call(`/v2/images/${id}`, { token })).body;
    expect(stored).toMatchObject({ name: 'compat-cirros-2', hw_disk_bus: 'virtio' });
    expect(stored).not.toHaveProperty('os_distro');
  });

  it('image-tag-update and image-tag-delete add and remove tags', async () => {
    ok(await glance(token, 'image-tag-update', id, 'linux'));
    const tagged = parseTable(ok(await glance(token, 'image-tag-update', id, 'x86')).stdout);
    expect(tagged).toEqual([{ ID: id, Tags: "['linux', 'x86']" }]);
    const deleted = ok(await glance(token, 'image-tag-delete', id, 'x86'));
    expect(deleted.stdout.trim()).toBe('');
    expect(parseTable(ok(await glance(token, 'image-list', '--tag', 'linux')).stdout)).toEqual([{ ID: id, Name: 'compat-cirros-2' }]);
    expect((await call(`/v2/images/${id}`, { token })).body.tags).toEqual(['linux']);
  });

  it('image-delete removes the image', async () => {
    const deleted = ok(await glance(token, 'image-delete', id));
    expect(deleted.stdout.trim()).toBe('');
    expect((await call(`/v2/images/${id}`, { token })).status).toBe(404);
    const left = await call(`/v2/images?owner=${project}`, { token });
    expect(left.body.images.map((image: { id: string }) => image.id)).toEqual([otherId]);
  });

  // glanceclient reads a JSON error only as a dict of dicts ({"<kind>": {"message": …}}) and
  // sends `Accept: */*`: Skyglass answers it with the OpenStack envelope (shared/http/response.ts).
  it('image-show of a deleted image fails with Glance\'s not-found message', async () => {
    const result = await glance(token, 'image-show', id);
    expect(result.code).not.toBe(0);
    expect(result.stderr).toContain(`No image found with ID ${id}`);
  });

  // The gateway's 401 is keystonemiddleware's {"error": {"code": 401, …}}, as a Keystone-backed
  // Glance answers, so glanceclient reports bad credentials rather than falling back to API v1.
  it('a bad token is refused as invalid credentials', async () => {
    const result = await glance('not-a-token', 'image-list');
    expect(result.code).toBe(1);
    expect(result.stderr).toContain('Invalid OpenStack Identity credentials.');
  });
});

describe('openstack image (python3-openstackclient)', () => {
  let token: string;
  let project: string;
  let id: string;

  beforeAll(async () => {
    project = uniqueProject('osc');
    token = await tokenFor(project);
  });

  it('image create shows the new image with formats, property and tag', async () => {
    const image = await openstackJson(token, 'image', 'create', '--disk-format', 'raw', '--container-format', 'bare', '--private',
      '--property', 'os_distro=debian', '--tag', 'base', 'compat-debian');
    expect(image).toMatchObject({
      name: 'compat-debian',
      disk_format: 'raw',
      container_format: 'bare',
      visibility: 'private',
      status: 'queued',
      owner: project,
      tags: ['base'],
      properties: { os_distro: 'debian' },
    });
    expect(image.id).toMatch(UUID);
    id = image.id;
    const stored = (await call(`/v2/images/${id}`, { token })).body;
    expect(stored).toMatchObject({ name: 'compat-debian', os_distro: 'debian', tags: ['base'], visibility: 'private' });
  });

  it('image list sees it, also filtered by tag and property', async () => {
    await createImage(token, { name: 'compat-plain', disk_format: 'raw', container_format: 'bare' });
    const [all, filtered] = await Promise.all([
      openstackJson(token, 'image', 'list'),
      openstackJson(token, 'image', 'list', '--tag', 'base', '--property', 'os_distro=debian'),
    ]);
    // Other suites' public images are visible too: look at this suite's own.
    const own = all.filter((row: { Name: string | null }) => row.Name?.startsWith('compat-'));
    expect(own.map((row: { Name: string }) => row.Name).sort()).toEqual(['compat-debian', 'compat-plain']);
    expect(all).toContainEqual({ ID: id, Name: 'compat-debian', Status: 'queued' });
    expect(filtered).toEqual([{ ID: id, Name: 'compat-debian', Status: 'queued' }]);
  });

  it('image show finds the image by id and by name', async () => {
    // By name, the SDK first GETs /v2/images/<name> (404) and then lists with ?name=.
    const [byId, byName] = await Promise.all([
      openstackJson(token, 'image', 'show', id),
      openstackJson(token, 'image', 'show', 'compat-debian'),
    ]);
    expect(byId).toMatchObject({ id, name: 'compat-debian', disk_format: 'raw', properties: { os_distro: 'debian' } });
    expect(byName.id).toBe(id);
  });

  it('image set changes the name, adds a property and a tag; image unset removes them', async () => {
    ok(await openstack(token, 'image', 'set', '--name', 'compat-debian-2', '--property', 'hw_disk_bus=virtio', '--tag', 'extra', id));
    const afterSet = (await call(`/v2/images/${id}`, { token })).body;
    expect(afterSet).toMatchObject({ name: 'compat-debian-2', os_distro: 'debian', hw_disk_bus: 'virtio' });
    expect([...afterSet.tags].sort()).toEqual(['base', 'extra']);

    ok(await openstack(token, 'image', 'unset', '--tag', 'base', '--property', 'os_distro', id));
    const shown = await openstackJson(token, 'image', 'show', id);
    expect(shown).toMatchObject({ name: 'compat-debian-2', tags: ['extra'], properties: { hw_disk_bus: 'virtio' } });
    expect(shown.properties).not.toHaveProperty('os_distro');
  });

  it('image delete removes it; show and a second delete then fail with not-found messages', async () => {
    const deleted = ok(await openstack(token, 'image', 'delete', id));
    expect(deleted.stdout.trim()).toBe('');
    expect((await call(`/v2/images/${id}`, { token })).status).toBe(404);
    const [show, again] = await Promise.all([openstack(token, 'image', 'show', id), openstack(token, 'image', 'delete', id)]);
    expect(show.code).toBe(1);
    expect(show.stderr).toContain(`No Image found for ${id}`);
    expect(again.code).toBe(1);
    expect(again.stderr).toContain(`Failed to delete image with name or ID '${id}'`);
  });

  it('refuses a bad token with a 401', async () => {
    const result = await openstack('not-a-token', 'image', 'list');
    expect(result.code).toBe(1);
    expect(result.stderr).toContain('HttpException: 401');
  });
});
