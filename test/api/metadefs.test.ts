/**
 * The metadata definitions catalogue through HTTP, answers compared with Glance 25.1.0's
 * (observed with /work/shared/glance/start-glance.sh). The catalogue is one per cloud, so every
 * test works in namespaces of its own name.
 */
import { randomUUID } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { call, tokenFor, uniqueProject } from './client.js';

const admin = () => tokenFor(uniqueProject('mdadm'), ['admin']);
const nsName = (prefix = 'Test') => `${prefix}::${randomUUID().slice(0, 8)}`;
const ns = (name: string) => `/v2/metadefs/namespaces/${encodeURIComponent(name)}`;
const TIMESTAMP = /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$/;

async function createNamespace(token: string, body: Record<string, unknown>) {
  const res = await call('/v2/metadefs/namespaces', { method: 'POST', token, json: body });
  if (res.status !== 201) throw new Error(`namespace create failed: ${res.status} ${res.text}`);
  return res.body as Record<string, any>;
}

describe('metadefs: namespaces', () => {
  it('creates, shows, lists, replaces and deletes a namespace as Glance answers', async () => {
    const token = await admin();
    const name = nsName();
    const created = await call('/v2/metadefs/namespaces', { method: 'POST', token, json: { namespace: name, display_name: 'Shown', description: 'd', visibility: 'public' } });
    expect(created.status).toBe(201);
    expect(created.body).toEqual({
      namespace: name, display_name: 'Shown', description: 'd', visibility: 'public', protected: false, owner: expect.any(String),
      created_at: expect.stringMatching(TIMESTAMP), updated_at: expect.stringMatching(TIMESTAMP),
      self: ns(name), schema: '/v2/schemas/metadefs/namespace',
    });
    const shown = await call(ns(name), { token });
    expect(shown.status).toBe(200);
    expect(shown.body).toEqual(created.body);

    const listed = await call('/v2/metadefs/namespaces?limit=1000', { token });
    expect(listed.status).toBe(200);
    expect(listed.body).toMatchObject({ schema: '/v2/schemas/metadefs/namespaces', first: '/v2/metadefs/namespaces' });
    expect((listed.body.namespaces as { namespace: string }[]).map((n) => n.namespace)).toContain(name);

    // PUT replaces: what the body leaves out goes back to its default (Glance: private, no description).
    const renamed = nsName();
    const replaced = await call(ns(name), { method: 'PUT', token, json: { namespace: renamed, display_name: 'Again' } });
    expect(replaced.status).toBe(200);
    expect(replaced.body).toMatchObject({ namespace: renamed, display_name: 'Again', visibility: 'private', self: ns(renamed) });
    expect(replaced.body.description).toBeUndefined();
    expect((await call(ns(name), { token })).status).toBe(404);

    expect((await call(ns(renamed), { method: 'DELETE', token })).status).toBe(204);
    const gone = await call(ns(renamed), { token });
    expect(gone.status).toBe(404);
    expect(gone.body.message).toBe(`Metadata definition namespace=${renamed} was not found.`);
  });

  it('answers 409 for a taken name, 404 for an unknown one, 403 for deleting a protected one', async () => {
    const token = await admin();
    const name = nsName();
    await createNamespace(token, { namespace: name, protected: true, visibility: 'public' });
    const duplicate = await call('/v2/metadefs/namespaces', { method: 'POST', token, json: { namespace: name } });
    expect(duplicate.status).toBe(409);
    expect(duplicate.body.message).toBe(`The metadata definition namespace=${name} already exists.`);

    const unknown = await call(ns(nsName('Nope')), { token });
    expect(unknown.status).toBe(404);

    const refused = await call(ns(name), { method: 'DELETE', token });
    expect(refused.status).toBe(403);
    expect(refused.body.message).toBe(`Metadata definition namespace ${name} is protected and cannot be deleted.`);
    expect((await call(`${ns(name)}/objects`, { method: 'DELETE', token })).status).toBe(403);
    expect((await call(ns(name), { token })).status).toBe(200);

    // Unprotected, it can go.
    expect((await call(ns(name), { method: 'PUT', token, json: { namespace: name, protected: false } })).status).toBe(200);
    expect((await call(ns(name), { method: 'DELETE', token })).status).toBe(204);
  });

  it('private namespaces are seen by their owner only; only an admin writes (secure-RBAC defaults)', async () => {
    const owner = uniqueProject('mdown');
    const adminToken = await tokenFor(owner, ['admin']);
    const memberOfOwner = await tokenFor(owner, ['member', 'reader']);
    const stranger = await tokenFor(uniqueProject('mdother'), ['member', 'reader']);
    const privateName = nsName('Private');
    const publicName = nsName('Public');
    const made = await createNamespace(adminToken, { namespace: privateName });
    expect(made).toMatchObject({ visibility: 'private', owner });
    await createNamespace(adminToken, { namespace: publicName, visibility: 'public' });

    expect((await call(ns(privateName), { token: memberOfOwner })).status).toBe(200);
    expect((await call(ns(privateName), { token: stranger })).status).toBe(404);
    expect((await call(ns(publicName), { token: stranger })).status).toBe(200);
    const names = async (token: string) => ((await call('/v2/metadefs/namespaces?limit=1000', { token })).body.namespaces as { namespace: string }[]).map((n) => n.namespace);
    expect(await names(stranger)).toContain(publicName);
    expect(await names(stranger)).not.toContain(privateName);
    expect(await names(memberOfOwner)).toContain(privateName);

    const create = await call('/v2/metadefs/namespaces', { method: 'POST', token: memberOfOwner, json: { namespace: nsName() } });
    expect(create.status).toBe(403);
    expect(create.body.message).toBe('You are not authorized to complete add_metadef_namespace action.');
    expect((await call(ns(publicName), { method: 'DELETE', token: stranger })).status).toBe(403);
    // A namespace the caller cannot see is 404 for a write too, so its existence does not leak.
    expect((await call(ns(privateName), { method: 'DELETE', token: stranger })).status).toBe(404);
    expect((await call(`${ns(publicName)}/tags/t`, { method: 'POST', token: stranger })).status).toBe(403);
  });

  it('20 concurrent creates of one name: one 201 and 19 × 409', async () => {
    const token = await admin();
    const name = nsName('Race');
    const answers = await Promise.all(Array.from({ length: 20 }, () => call('/v2/metadefs/namespaces', { method: 'POST', token, json: { namespace: name } })));
    const statuses = answers.map((a) => a.status).sort();
    expect(statuses).toEqual([201, ...Array(19).fill(409)]);
    const listed = ((await call('/v2/metadefs/namespaces?limit=1000', { token })).body.namespaces as { namespace: string }[]).filter((n) => n.namespace === name);
    expect(listed).toHaveLength(1);
  });

  it('a create carrying properties, objects and tags shows them all; a bad property type is 400 and writes nothing', async () => {
    const token = await admin();
    const name = nsName();
    const created = await createNamespace(token, {
      namespace: name,
      properties: { a: { type: 'string', title: 'A' } },
      objects: [{ name: 'o' }],
      tags: [{ name: 't' }],
    });
    expect(created).toMatchObject({ properties: { a: { type: 'string', title: 'A' } }, objects: [{ name: 'o' }], tags: [{ name: 't' }] });
    const shown = (await call(ns(name), { token })).body;
    expect(shown.properties).toEqual({ a: { name: 'a', type: 'string', title: 'A' } });
    expect(shown.objects).toEqual([expect.objectContaining({ name: 'o', required: [], properties: {}, self: `${ns(name)}/objects/o` })]);
    expect(shown.tags).toEqual([{ name: 't' }]);

    const bad = nsName();
    const refused = await call('/v2/metadefs/namespaces', { method: 'POST', token, json: { namespace: bad, properties: { a: { type: 'strin', title: 'A' } } } });
    expect(refused.status).toBe(400);
    expect(refused.body.message).toMatch(/^Provided object does not match schema 'namespace': /);
    expect((await call(ns(bad), { token })).status).toBe(404);
  });
});

describe('metadefs: objects, properties, tags', () => {
  it('objects: create, list, show, rename, duplicate 409, unknown 404, delete', async () => {
    const token = await admin();
    const name = nsName();
    await createNamespace(token, { namespace: name });
    const body = { name: 'o', description: 'x', required: ['a'], properties: { a: { type: 'string', title: 'A', enum: ['x', 'y'] } } };
    const created = await call(`${ns(name)}/objects`, { method: 'POST', token, json: body });
    expect(created.status).toBe(201);
    expect(created.body).toEqual({ ...body, created_at: expect.stringMatching(TIMESTAMP), updated_at: expect.stringMatching(TIMESTAMP), self: `${ns(name)}/objects/o`, schema: '/v2/schemas/metadefs/object' });
    expect((await call(`${ns(name)}/objects/o`, { token })).body).toEqual(created.body);
    const listed = await call(`${ns(name)}/objects`, { token });
    expect(listed.body).toEqual({ objects: [created.body], schema: 'v2/schemas/metadefs/objects' });

    const duplicate = await call(`${ns(name)}/objects`, { method: 'POST', token, json: { name: 'o' } });
    expect(duplicate.status).toBe(409);
    expect(duplicate.body.message).toBe(`A metadata definition object with name=o already exists in namespace=${name}.`);
    const unknown = await call(`${ns(name)}/objects/zz`, { token });
    expect(unknown.status).toBe(404);
    expect(unknown.body.message).toBe('Could not find metadata object zz');

    const renamed = await call(`${ns(name)}/objects/o`, { method: 'PUT', token, json: { name: 'p', properties: {} } });
    expect(renamed.status).toBe(200);
    expect(renamed.body).toMatchObject({ name: 'p', created_at: created.body.created_at, self: `${ns(name)}/objects/p` });
    expect((await call(`${ns(name)}/objects/o`, { token })).status).toBe(404);
    expect((await call(`${ns(name)}/objects/p`, { method: 'DELETE', token })).status).toBe(204);
    expect((await call(`${ns(name)}/objects/p`, { method: 'DELETE', token })).status).toBe(404);
    expect((await call(`${ns(name)}/objects`, { token })).body.objects).toEqual([]);
  });

  it('properties: create, list, show, update; a bad type or an unreadable schema is 400', async () => {
    const token = await admin();
    const name = nsName();
    await createNamespace(token, { namespace: name });
    const created = await call(`${ns(name)}/properties`, { method: 'POST', token, json: { name: 'p', title: 'P', type: 'integer', minimum: 1 } });
    expect(created.status).toBe(201);
    expect(created.body).toEqual({ name: 'p', title: 'P', type: 'integer', minimum: 1 });
    expect((await call(`${ns(name)}/properties/p`, { token })).body).toEqual(created.body);
    expect((await call(`${ns(name)}/properties`, { token })).body).toEqual({ properties: { p: created.body } });

    const duplicate = await call(`${ns(name)}/properties`, { method: 'POST', token, json: { name: 'p', title: 'P', type: 'integer' } });
    expect(duplicate.status).toBe(409);
    expect(duplicate.body.message).toBe(`A metadata definition property with name=p already exists in namespace=${name}.`);

    const badType = await call(`${ns(name)}/properties`, { method: 'POST', token, json: { name: 'q', title: 'Q', type: 'strin' } });
    expect(badType.status).toBe(400);
    expect(badType.body.message).toMatch(/^Provided object does not match schema 'property': 'strin' is not one of \['array', 'boolean', 'integer', 'number', 'object', 'string', None\]/);
    const badPattern = await call(`${ns(name)}/properties`, { method: 'POST', token, json: { name: 'q', title: 'Q', type: 'string', pattern: '([' } });
    expect(badPattern.status).toBe(400);
    expect((await call(`${ns(name)}/properties/q`, { token })).status).toBe(404);

    const updated = await call(`${ns(name)}/properties/p`, { method: 'PUT', token, json: { name: 'p', title: 'P', type: 'string', enum: ['a', 'b'] } });
    expect(updated.status).toBe(200);
    expect((await call(`${ns(name)}/properties/p`, { token })).body).toEqual({ name: 'p', title: 'P', type: 'string', enum: ['a', 'b'] });
    const unknown = await call(`${ns(name)}/properties/zz`, { token });
    expect(unknown.status).toBe(404);
    expect(unknown.body.message).toBe('Could not find property zz');
    expect((await call(`${ns(name)}/properties/p`, { method: 'DELETE', token })).status).toBe(204);
    expect((await call(`${ns(name)}/properties`, { token })).body).toEqual({ properties: {} });
  });

  it('tags: one at a time, a batch that replaces, a batch that appends (X-Openstack-Append), duplicates 409', async () => {
    const token = await admin();
    const name = nsName();
    await createNamespace(token, { namespace: name });
    const one = await call(`${ns(name)}/tags/first`, { method: 'POST', token });
    expect(one.status).toBe(201);
    expect(one.body).toEqual({ name: 'first', created_at: expect.stringMatching(TIMESTAMP), updated_at: expect.stringMatching(TIMESTAMP) });
    const tagNames = async () => ((await call(`${ns(name)}/tags`, { token })).body.tags as { name: string }[]).map((t) => t.name).sort();

    const replaced = await call(`${ns(name)}/tags`, { method: 'POST', token, json: { tags: [{ name: 'a' }, { name: 'b' }] } });
    expect(replaced.status).toBe(201);
    expect(replaced.body).toEqual({ tags: [{ name: 'a' }, { name: 'b' }] });
    expect(await tagNames()).toEqual(['a', 'b']);

    const appended = await call(`${ns(name)}/tags`, { method: 'POST', token, headers: { 'X-Openstack-Append': 'true' }, json: { tags: [{ name: 'c' }] } });
    expect(appended.status).toBe(201);
    expect(appended.body).toEqual({ tags: [{ name: 'c' }] });
    expect(await tagNames()).toEqual(['a', 'b', 'c']);

    const twice = await call(`${ns(name)}/tags`, { method: 'POST', token, json: { tags: [{ name: 'x' }, { name: 'x' }] } });
    expect(twice.status).toBe(409);
    expect(twice.body.message).toBe(`A metadata tag with name=x already exists in namespace=${name}. (Please note that metadata tag names are case insensitive).`);
    expect((await call(`${ns(name)}/tags/a`, { method: 'POST', token })).status).toBe(409);
    expect(await tagNames()).toEqual(['a', 'b', 'c']);

    const renamed = await call(`${ns(name)}/tags/a`, { method: 'PUT', token, json: { name: 'z' } });
    expect(renamed.status).toBe(200);
    expect(renamed.body.name).toBe('z');
    expect((await call(`${ns(name)}/tags/z`, { token })).status).toBe(200);
    const unknown = await call(`${ns(name)}/tags/a`, { token });
    expect(unknown.status).toBe(404);
    expect(unknown.body.message).toBe('Could not find metadata tag a');
    expect((await call(`${ns(name)}/tags/z`, { method: 'DELETE', token })).status).toBe(204);
    expect((await call(`${ns(name)}/tags`, { method: 'DELETE', token })).status).toBe(204);
    expect(await tagNames()).toEqual([]);
  });
});

describe('metadefs: resource types and associations', () => {
  it('lists the resource types, associates one with a namespace (409 twice), filters the list by it, removes it', async () => {
    const token = await admin();
    const types = await call('/v2/metadefs/resource_types', { token });
    expect(types.status).toBe(200);
    expect((types.body.resource_types as { name: string }[]).map((t) => t.name)).toEqual(expect.arrayContaining(['OS::Glance::Image', 'OS::Cinder::Volume', 'OS::Nova::Flavor']));

    const name = nsName();
    await createNamespace(token, { namespace: name, visibility: 'public' });
    const type = `OS::Test::${randomUUID().slice(0, 8)}`;
    const associated = await call(`${ns(name)}/resource_types`, { method: 'POST', token, json: { name: type, prefix: 'x_' } });
    expect(associated.status).toBe(201);
    expect(associated.body).toEqual({ name: type, prefix: 'x_', created_at: expect.stringMatching(TIMESTAMP), updated_at: expect.stringMatching(TIMESTAMP) });
    const again = await call(`${ns(name)}/resource_types`, { method: 'POST', token, json: { name: type, prefix: 'x_' } });
    expect(again.status).toBe(409);
    expect(again.body.message).toBe(`The metadata definition resource-type association of resource-type=${type} to namespace=${name} already exists.`);

    expect((await call(`${ns(name)}/resource_types`, { token })).body).toEqual({ resource_type_associations: [associated.body] });
    expect((await call(ns(name), { token })).body.resource_type_associations).toEqual([associated.body]);
    // A new resource type joins the list; the namespace list filters by it.
    expect(((await call('/v2/metadefs/resource_types', { token })).body.resource_types as { name: string }[]).map((t) => t.name)).toContain(type);
    const filtered = await call(`/v2/metadefs/namespaces?resource_types=${encodeURIComponent(type)}`, { token });
    expect((filtered.body.namespaces as { namespace: string }[]).map((n) => n.namespace)).toEqual([name]);

    const missing = await call(`${ns(name)}/resource_types/Nope`, { method: 'DELETE', token });
    expect(missing.status).toBe(404);
    expect(missing.body.message).toBe('Failed to find resource type Nope to delete');
    expect((await call(`${ns(name)}/resource_types/${encodeURIComponent(type)}`, { method: 'DELETE', token })).status).toBe(204);
    expect((await call(`${ns(name)}/resource_types`, { token })).body).toEqual({ resource_type_associations: [] });
  });
});

describe('metadefs: schemas', () => {
  it('serves the ten metadefs schemas from one route, 404 for another name', async () => {
    const token = await admin();
    for (const name of ['namespace', 'namespaces', 'resource_type', 'resource_types', 'object', 'objects', 'property', 'properties', 'tag', 'tags']) {
      const res = await call(`/v2/schemas/metadefs/${name}`, { token });
      expect(res.status, name).toBe(200);
      expect(res.body.name, name).toEqual(expect.any(String));
      expect(res.body.properties, name).toEqual(expect.any(Object));
    }
    expect((await call('/v2/schemas/metadefs/namespace', { token })).body.name).toBe('namespace');
    expect((await call('/v2/schemas/metadefs/nope', { token })).status).toBe(404);
  });
});
