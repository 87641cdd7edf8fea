import { randomUUID } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { call, createImage, patch, PATCH_TYPE, tokenFor, uniqueProject } from './client.js';
import { seedActive } from './seed.js';

const GLANCE_KEYS = [
  'checksum', 'container_format', 'created_at', 'disk_format', 'file', 'id', 'min_disk', 'min_ram', 'name',
  'os_hash_algo', 'os_hash_value', 'os_hidden', 'owner', 'protected', 'schema', 'self', 'size', 'status', 'tags',
  'updated_at', 'virtual_size', 'visibility',
];

/** Images owned by the token's project (public images of other tests are visible too, so filter). */
async function countOwn(token: string, project: string): Promise<number> {
  const res = await call(`/v2/images?limit=1000&owner=${project}`, { token });
  return res.body.images.length;
}

describe('create', () => {
  it('creates a queued image with Glance defaults, a Location and exactly Glance keys', async () => {
    const project = uniqueProject();
    const token = await tokenFor(project);
    const res = await call('/v2/images', { method: 'POST', token, json: { name: 'cirros', disk_format: 'qcow2', container_format: 'bare' } });
    expect(res.status).toBe(201);
    const image = res.body;
    expect(Object.keys(image).sort()).toEqual(GLANCE_KEYS);
    expect(image).toMatchObject({
      name: 'cirros', status: 'queued', visibility: 'shared', owner: project, protected: false, os_hidden: false,
      min_disk: 0, min_ram: 0, size: null, virtual_size: null, checksum: null, tags: [],
      self: `/v2/images/${image.id}`, file: `/v2/images/${image.id}/file`, schema: '/v2/schemas/image',
    });
    expect(image.created_at).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$/);
    expect(res.headers.get('location')).toMatch(new RegExp(`^http://127\\.0\\.0\\.1:\\d+/v2/images/${image.id}$`));
    const shown = await call(`/v2/images/${image.id}`, { token });
    expect(shown.status).toBe(200);
    expect(shown.body).toEqual(image);
  });

  it('accepts {} and a client-chosen id; a reused id is 409 and a non-UUID id is 400', async () => {
    const token = await tokenFor(uniqueProject());
    expect((await call('/v2/images', { method: 'POST', token, json: {} })).body.name).toBeNull();
    const id = randomUUID();
    expect((await call('/v2/images', { method: 'POST', token, json: { id } })).status).toBe(201);
    const again = await call('/v2/images', { method: 'POST', token, json: { id } });
    expect(again.status).toBe(409);
    expect(again.body.code).toBe('409 Conflict');
    expect((await call('/v2/images', { method: 'POST', token, json: { id: 'not-a-uuid' } })).status).toBe(400);
  });

  it('keeps free-form string properties and refuses non-string ones', async () => {
    const token = await tokenFor(uniqueProject());
    const image = await createImage(token, { name: 'x', os_distro: 'ubuntu', hw_disk_bus: 'virtio', __proto__x: 'y' });
    expect(image.os_distro).toBe('ubuntu');
    expect(image.hw_disk_bus).toBe('virtio');
    const res = await call('/v2/images', { method: 'POST', token, json: { foo: 5 } });
    expect(res.status).toBe(400);
    expect(res.body.message).toContain("Provided object does not match schema 'image'");
  });

  it('answers bad input with Glance status codes and writes nothing', async () => {
    const project = uniqueProject();
    const token = await tokenFor(project);
    const cases: Array<[unknown, number]> = [
      [{ disk_format: 'floppy' }, 400],
      [{ container_format: 'zip' }, 400],
      [{ visibility: 'everyone' }, 400],
      [{ name: 'n'.repeat(256) }, 400],
      [{ protected: 'yes' }, 400],
      [{ min_ram: -1 }, 400],
      [{ min_disk: 'big' }, 400],
      [{ tags: 'notalist' }, 400],
      [{ status: 'active' }, 403],
      [{ size: 5 }, 403],
      [{ checksum: 'abc' }, 403],
      [{ locations: [] }, 403],
      [{ os_glance_import_task: 'x' }, 403],
      [{ visibility: 'public' }, 403],
      [{ owner: 'someone-else' }, 403],
      [[], 400],
    ];
    for (const [body, status] of cases) {
      const res = await call('/v2/images', { method: 'POST', token, json: body });
      expect(res.status, JSON.stringify(body)).toBe(status);
      expect(res.body.code, JSON.stringify(body)).toMatch(new RegExp(`^${status} `));
    }
    expect((await call('/v2/images', { method: 'POST', token, body: '{"name": ', headers: { 'Content-Type': 'application/json' } })).body.message)
      .toBe('Malformed JSON in request body.');
    expect((await call('/v2/images', { method: 'POST', token, body: '' })).body.message).toBe('Body expected in request.');
    const huge = await call('/v2/images', { method: 'POST', token, body: `{"name": "${'x'.repeat(10 * 1024 * 1024)}"}`, headers: { 'Content-Type': 'application/json' } });
    expect(huge.status).toBe(413);
    expect(huge.body.error.message).toContain('/uploads');
    expect(await countOwn(token, project)).toBe(0);
  });

  it('drops os_hash_* silently as Glance does, and lets an admin create public images', async () => {
    const token = await tokenFor(uniqueProject(), ['admin']);
    const res = await call('/v2/images', { method: 'POST', token, json: { os_hash_algo: 'md5', os_hash_value: 'x', visibility: 'public' } });
    expect(res.status).toBe(201);
    expect(res.body).toMatchObject({ os_hash_algo: null, os_hash_value: null, visibility: 'public' });
  });
});

describe('show and visibility', () => {
  it('hides a private or shared image of another project (404) but not from an admin', async () => {
    const owner = await tokenFor(uniqueProject());
    const other = await tokenFor(uniqueProject());
    const admin = await tokenFor(uniqueProject(), ['admin']);
    for (const visibility of ['private', 'shared']) {
      const image = await createImage(owner, { visibility });
      const res = await call(`/v2/images/${image.id}`, { token: other });
      expect(res.status).toBe(404);
      expect(res.body.message).toBe(`No image found with ID ${image.id}`);
      expect((await call(`/v2/images/${image.id}`, { token: admin })).status).toBe(200);
    }
    const community = await createImage(owner, { visibility: 'community' });
    expect((await call(`/v2/images/${community.id}`, { token: other })).status).toBe(200);
  });

  it('answers 404 for unknown and malformed ids', async () => {
    const token = await tokenFor('p');
    expect((await call(`/v2/images/${randomUUID()}`, { token })).status).toBe(404);
    expect((await call('/v2/images/not-an-id', { token })).status).toBe(404);
  });
});

describe('JSON-patch update', () => {
  it('replaces, adds and removes attributes and properties', async () => {
    const token = await tokenFor(uniqueProject());
    const image = await createImage(token, { name: 'before', os_distro: 'debian' });
    const res = await patch(token, image.id, [
      { op: 'replace', path: '/name', value: 'after' },
      { op: 'add', path: '/hw_firmware_type', value: 'uefi' },
      { op: 'remove', path: '/os_distro' },
      { op: 'replace', path: '/min_ram', value: 512 },
      { op: 'replace', path: '/tags', value: ['a', 'b'] },
    ]);
    expect(res.status).toBe(200);
    expect(res.body).toMatchObject({ name: 'after', hw_firmware_type: 'uefi', min_ram: 512 });
    expect(res.body.tags.sort()).toEqual(['a', 'b']);
    expect(res.body).not.toHaveProperty('os_distro');
    const shown = await call(`/v2/images/${image.id}`, { token });
    expect(shown.body).toEqual(res.body);
  });

  it('refuses wrong media types (415 + Accept-Patch), read-only and missing attributes', async () => {
    const token = await tokenFor(uniqueProject());
    const image = await createImage(token, { name: 'x' });
    const wrong = await call(`/v2/images/${image.id}`, { method: 'PATCH', token, json: [{ op: 'replace', path: '/name', value: 'y' }] });
    expect(wrong.status).toBe(415);
    expect(wrong.headers.get('accept-patch')).toContain('application/openstack-images-v2.1-json-patch');
    expect((await patch(token, image.id, [{ op: 'replace', path: '/status', value: 'active' }])).status).toBe(403);
    expect((await patch(token, image.id, [{ op: 'replace', path: '/id', value: randomUUID() }])).status).toBe(403);
    const missing = await patch(token, image.id, [{ op: 'replace', path: '/nope', value: 'x' }]);
    expect(missing.status).toBe(409);
    expect(missing.body.message).toContain('nope');
    expect((await patch(token, image.id, [{ op: 'move', from: '/name', path: '/x' }])).status).toBe(400);
    expect((await patch(token, image.id, [{ op: 'replace', path: '/a/b', value: 'x' }])).status).toBe(400);
    expect((await patch(token, image.id, [{ op: 'replace', path: '/owner', value: 'other' }])).status).toBe(403);
    expect((await patch(token, image.id, [{ op: 'replace', path: '/visibility', value: 'public' }])).status).toBe(403);
    const malformed = await call(`/v2/images/${image.id}`, { method: 'PATCH', token, body: '[{', headers: { 'Content-Type': PATCH_TYPE } });
    expect(malformed.status).toBe(400);
    // Nothing of the refused patches was written.
    const shown = await call(`/v2/images/${image.id}`, { token });
    expect(shown.body).toMatchObject({ name: 'x', status: 'queued', visibility: 'shared', owner: image.owner });
    expect(shown.body.updated_at).toBe(image.updated_at);
  });

  it("forbids changing another project's visible image (403) and hides invisible ones (404)", async () => {
    const owner = await tokenFor(uniqueProject());
    const other = await tokenFor(uniqueProject());
    const community = await createImage(owner, { visibility: 'community' });
    const priv = await createImage(owner, { visibility: 'private' });
    const res = await patch(other, community.id, [{ op: 'replace', path: '/name', value: 'mine' }]);
    expect(res.status).toBe(403);
    // Secure RBAC (enforce_new_defaults): the refusing rule names itself; "You do not own this image" is the legacy check.
    expect(res.body.message).toBe('You are not authorized to complete modify_image action.');
    expect((await patch(other, priv.id, [{ op: 'replace', path: '/name', value: 'mine' }])).status).toBe(404);
  });

  it('treats __proto__ as a plain property name', async () => {
    const token = await tokenFor(uniqueProject());
    const image = await createImage(token, {});
    const res = await patch(token, image.id, [{ op: 'add', path: '/__proto__', value: 'polluted' }]);
    expect(res.status).toBe(200);
    const shown = await call(`/v2/images/${image.id}`, { token });
    expect(JSON.parse(shown.text).__proto__).toBe('polluted');
  });
});

describe('tags', () => {
  it('adds idempotently, removes, and reports missing tags', async () => {
    const token = await tokenFor(uniqueProject());
    const image = await createImage(token, {});
    expect((await call(`/v2/images/${image.id}/tags/blue`, { method: 'PUT', token })).status).toBe(204);
    expect((await call(`/v2/images/${image.id}/tags/blue`, { method: 'PUT', token })).status).toBe(204);
    expect((await call(`/v2/images/${image.id}/tags/with%20space`, { method: 'PUT', token })).status).toBe(204);
    expect((await call(`/v2/images/${image.id}`, { token })).body.tags.sort()).toEqual(['blue', 'with space']);
    expect((await call(`/v2/images/${image.id}/tags/blue`, { method: 'DELETE', token })).status).toBe(204);
    const missingTag = await call(`/v2/images/${image.id}/tags/blue`, { method: 'DELETE', token });
    expect(missingTag.status).toBe(404);
    expect(missingTag.body.message).toBe('The resource could not be found.');
    expect((await call(`/v2/images/${image.id}/tags/${'t'.repeat(256)}`, { method: 'PUT', token })).status).toBe(400);
    // Glance's message for tag calls on an image that is not there.
    const gone = randomUUID();
    for (const method of ['PUT', 'DELETE']) {
      const res = await call(`/v2/images/${gone}/tags/blue`, { method, token });
      expect(res.status).toBe(404);
      expect(res.body.message).toBe(`Image ${gone} not found.`);
    }
    expect((await call(`/v2/images/${image.id}`, { token })).body.tags).toEqual(['with space']);
  });
});

describe('deactivate and reactivate', () => {
  it("are the owner's members' and admins' (not readers'), idempotent, and only between active and deactivated", async () => {
    const project = uniqueProject();
    const member = await tokenFor(project);
    const reader = await tokenFor(project, ['reader']);
    const admin = await tokenFor(project, ['admin']);
    const image = await createImage(member, { disk_format: 'raw', container_format: 'bare' });
    const queued = await call(`/v2/images/${image.id}/actions/deactivate`, { method: 'POST', token: admin });
    expect(queued.status).toBe(403);
    expect(queued.body.message).toBe("Not allowed to deactivate image in status 'queued'");
    await seedActive(image.id);
    expect((await call(`/v2/images/${image.id}/actions/deactivate`, { method: 'POST', token: reader })).status).toBe(403);
    for (let i = 0; i < 2; i++) {
      expect((await call(`/v2/images/${image.id}/actions/deactivate`, { method: 'POST', token: admin })).status).toBe(204);
      expect((await call(`/v2/images/${image.id}`, { token: member })).body.status).toBe('deactivated');
    }
    for (let i = 0; i < 2; i++) {
      expect((await call(`/v2/images/${image.id}/actions/reactivate`, { method: 'POST', token: admin })).status).toBe(204);
      expect((await call(`/v2/images/${image.id}`, { token: member })).body.status).toBe('active');
    }
    expect((await call(`/v2/images/${image.id}/actions/explode`, { method: 'POST', token: admin })).status).toBe(404);
  });
});

describe('delete', () => {
  it('deletes (204), then the image is gone for everyone (404)', async () => {
    const project = uniqueProject();
    const token = await tokenFor(project);
    const admin = await tokenFor(uniqueProject(), ['admin']);
    const image = await createImage(token, {});
    expect((await call(`/v2/images/${image.id}`, { method: 'DELETE', token })).status).toBe(204);
    expect((await call(`/v2/images/${image.id}`, { token })).status).toBe(404);
    expect((await call(`/v2/images/${image.id}`, { token: admin })).status).toBe(404);
    const again = await call(`/v2/images/${image.id}`, { method: 'DELETE', token });
    expect(again.status).toBe(404);
    expect(again.body.message).toBe(`Failed to find image ${image.id} to delete`);
    expect(await countOwn(token, project)).toBe(0);
    // The id stays taken.
    expect((await call('/v2/images', { method: 'POST', token, json: { id: image.id } })).status).toBe(409);
  });

  it('refuses to delete a protected image, even for an admin, and changes nothing', async () => {
    const project = uniqueProject();
    const token = await tokenFor(project);
    const image = await createImage(token, { protected: true });
    for (const t of [token, await tokenFor(project, ['admin'])]) {
      const res = await call(`/v2/images/${image.id}`, { method: 'DELETE', token: t });
      expect(res.status).toBe(403);
      expect(res.body.message).toBe(`Image ${image.id} is protected and cannot be deleted.`);
    }
    expect((await call(`/v2/images/${image.id}`, { token })).body).toEqual(image);
  });

  it("forbids deleting another project's visible image", async () => {
    const owner = await tokenFor(uniqueProject());
    const image = await createImage(owner, { visibility: 'community' });
    expect((await call(`/v2/images/${image.id}`, { method: 'DELETE', token: await tokenFor(uniqueProject()) })).status).toBe(403);
  });
});

describe('races', () => {
  it('50 concurrent conflicting patches: exactly one wins, the rest get 409, the item stays whole', async () => {
    const token = await tokenFor(uniqueProject());
    const image = await createImage(token, { name: 'race', flavor: 'vanilla' });
    const results = await Promise.all(
      Array.from({ length: 50 }, (_, i) =>
        patch(token, image.id, [{ op: 'remove', path: '/flavor' }, { op: 'add', path: '/winner', value: String(i) }]),
      ),
    );
    const statuses = results.map((r) => r.status);
    expect(statuses.filter((s) => s === 200)).toHaveLength(1);
    expect(statuses.filter((s) => s === 409)).toHaveLength(49);
    for (const loser of results.filter((r) => r.status === 409)) expect(loser.body.code).toBe('409 Conflict');
    const winner = results.find((r) => r.status === 200)!;
    const shown = await call(`/v2/images/${image.id}`, { token });
    expect(shown.body).toEqual(winner.body);
    expect(shown.body).not.toHaveProperty('flavor');
    expect(shown.body.name).toBe('race');
  });

  it('50 concurrent creates of one id: exactly one 201', async () => {
    const token = await tokenFor(uniqueProject());
    const id = randomUUID();
    const results = await Promise.all(
      Array.from({ length: 50 }, (_, i) => call('/v2/images', { method: 'POST', token, json: { id, name: `n${i}` } })),
    );
    expect(results.filter((r) => r.status === 201)).toHaveLength(1);
    expect(results.filter((r) => r.status === 409)).toHaveLength(49);
    const shown = await call(`/v2/images/${id}`, { token });
    expect(shown.body.name).toBe(results.find((r) => r.status === 201)!.body.name);
  });

  it('50 concurrent status changes: deactivate vs delete end in one consistent state', async () => {
    const project = uniqueProject();
    const admin = await tokenFor(project, ['admin']);
    const image = await createImage(admin, { disk_format: 'raw', container_format: 'bare' });
    await seedActive(image.id);
    const results = await Promise.all(
      Array.from({ length: 50 }, (_, i) =>
        i % 2 === 0
          ? call(`/v2/images/${image.id}`, { method: 'DELETE', token: admin })
          : call(`/v2/images/${image.id}/actions/deactivate`, { method: 'POST', token: admin }),
      ),
    );
    const deletes = results.filter((_, i) => i % 2 === 0).map((r) => r.status);
    // Never two winning deletes, and the final item agrees with what the callers were told.
    expect(results.every((r) => [204, 404, 409].includes(r.status))).toBe(true);
    const final = await call(`/v2/images/${image.id}`, { token: admin });
    const deleteWins = deletes.filter((s) => s === 204).length;
    if (deleteWins === 1) {
      // One delete won; the other deletes lost the race (409) or came after it (404); the image is gone.
      expect(final.status).toBe(404);
    } else {
      // Every delete read the image before a deactivation changed it, and so lost (409):
      // the image is deactivated, whole, and nothing claims it was deleted.
      expect(deleteWins).toBe(0);
      expect(deletes.every((s) => s === 409)).toBe(true);
      expect(final.status).toBe(200);
      expect(final.body.status).toBe('deactivated');
    }
  });
});
