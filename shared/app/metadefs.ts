import { randomUUID } from 'node:crypto';
import type { Caller } from '../domain/caller.js';
import { badRequest, conflict, GlanceError, notFound } from '../domain/errors.js';
import { checkTagName, parseAssociationBody, parseNamespaceBody, parseObjectBody, parsePropertyBody, parseTagsBody } from '../domain/metadef-bodies.js';
import { CATALOGUE_VERSION, SEED_NAMESPACES, SEED_RESOURCE_TYPES } from '../domain/metadef-catalogue.js';
import {
  associationView,
  canRead,
  namespaceNotFound,
  namespaceTarget,
  namespaceView,
  now,
  objectView,
  pageNamespaces,
  parseNamespaceListQuery,
  propertyView,
  requireRule,
  tagView,
  type MetadefNamespace,
  type MetadefObject,
  type PropertyDefinition,
} from '../domain/metadefs.js';
import type { PolicyEngine } from '../domain/policy.js';
import { MetadefWriteRefused, type ChildKind, type MetadefRepository, type NewChild, type StoredChild } from '../ports/metadef-repository.js';

type View = Record<string, unknown>;

/** Glance's messages for a name taken within a namespace, by kind. */
const DUPLICATE: Record<ChildKind, (name: string, ns: string) => string> = {
  OBJECT: (name, ns) => `A metadata definition object with name=${name} already exists in namespace=${ns}.`,
  PROPERTY: (name, ns) => `A metadata definition property with name=${name} already exists in namespace=${ns}.`,
  TAG: (name, ns) => `A metadata tag with name=${name} already exists in namespace=${ns}. (Please note that metadata tag names are case insensitive).`,
};
const MISSING: Record<ChildKind, (name: string) => string> = {
  OBJECT: (name) => `Could not find metadata object ${name}`,
  PROPERTY: (name) => `Could not find property ${name}`,
  TAG: (name) => `Could not find metadata tag ${name}`,
};

/** A lost race with another writer of the same namespace: Glance's 409 for a concurrent change. */
const changedMeanwhile = (name: string) => conflict(`Metadata definition namespace=${name} was changed by another request; read it again and retry.`);

/**
 * The metadefs API's use cases: read, decide in the domain (policy, validation), write once
 * conditionally. Every operation first finds the namespace as the caller may see it (404
 * otherwise, as Glance), then checks the operation's own rule (403).
 *
 * One function per operation over this context, not one class: each function bundles only the
 * use case it serves (esbuild drops the rest), so a read does not carry the seed catalogue or the
 * body validators, nor ajv, which only the operations taking property definitions need.
 */
export interface MetadefContext {
  readonly repo: MetadefRepository;
  readonly policy: PolicyEngine;
}

// --- seeding -------------------------------------------------------------------------------

/**
 * Writes the team's catalogue where nothing of that name exists, then the version's marker:
 * idempotent, never overwrites an operator's edits, and a namespace the operator deleted after
 * seeding does not come back. Also finishes purges a crash left.
 */
export async function seed(ctx: MetadefContext): Promise<{ namespaces: number; resourceTypes: number }> {
  await ctx.repo.finishPurges();
  const catalogue = await ctx.repo.catalogue();
  if (catalogue.seeded.includes(CATALOGUE_VERSION)) return { namespaces: 0, resourceTypes: 0 };
  const at = now();
  const knownTypes = new Set(catalogue.resourceTypes.map((t) => t.name));
  let resourceTypes = 0;
  for (const name of SEED_RESOURCE_TYPES) {
    if (knownTypes.has(name)) continue;
    await ctx.repo.ensureResourceType({ name, created_at: at, updated_at: at });
    resourceTypes++;
  }
  const present = new Set(catalogue.namespaces.map((n) => n.namespace));
  let namespaces = 0;
  for (const seed of SEED_NAMESPACES) {
    if (present.has(seed.namespace)) continue;
    const namespace: MetadefNamespace = {
      namespace: seed.namespace,
      display_name: seed.display_name,
      description: seed.description,
      visibility: 'public',
      protected: true,
      // What glance-manage db_load_metadefs gives the namespaces it loads.
      owner: 'admin',
      created_at: at,
      updated_at: at,
      uuid: randomUUID(),
      version: 1,
      resource_type_associations: seed.resource_type_associations.map((a) => ({ ...a, created_at: at, updated_at: at })),
    };
    const children: NewChild[] = Object.entries(seed.properties).map(([name, data]) => ({ kind: 'PROPERTY', child: { name, data, created_at: at, updated_at: at } }));
    try {
      await ctx.repo.createNamespace(namespace, children, []);
      namespaces++;
    } catch (error) {
      if (!(error instanceof MetadefWriteRefused && error.reason === 'exists')) throw error;
    }
  }
  await ctx.repo.markSeeded(CATALOGUE_VERSION, at);
  return { namespaces, resourceTypes };
}

// --- namespaces ----------------------------------------------------------------------------

/** The namespace `caller` may read, or Glance's 404. */
async function visible(ctx: MetadefContext, caller: Caller, name: string): Promise<MetadefNamespace> {
  const namespace = await ctx.repo.namespace(name);
  if (!namespace || !canRead(ctx.policy, caller, namespace)) throw namespaceNotFound(name);
  return namespace;
}

export async function listNamespaces(ctx: MetadefContext, caller: Caller, query: Record<string, string | undefined>): Promise<View> {
  requireRule(ctx.policy, 'get_metadef_namespaces', caller, { project_id: caller.projectId });
  const q = parseNamespaceListQuery(query);
  let catalogue = await ctx.repo.catalogue();
  // Seeding on the first list that finds no marker (deployments seed at deploy time too).
  if (!catalogue.seeded.includes(CATALOGUE_VERSION)) {
    await seed(ctx);
    catalogue = await ctx.repo.catalogue();
  }
  const { page, next } = pageNamespaces(catalogue.namespaces, caller, ctx.policy, q);
  const view: View = { namespaces: page.map((ns) => namespaceView(ns)), schema: '/v2/schemas/metadefs/namespaces', first: '/v2/metadefs/namespaces' };
  if (next !== undefined) view.next = `/v2/metadefs/namespaces?marker=${encodeURIComponent(next)}&limit=${q.limit}`;
  return view;
}

export async function createNamespace(ctx: MetadefContext, caller: Caller, body: unknown): Promise<View> {
  const input = await parseNamespaceBody(body, caller, ctx.policy.isAdmin(caller));
  requireRule(ctx.policy, 'add_metadef_namespace', caller, namespaceTarget(input));
  const at = now();
  const namespace: MetadefNamespace = {
    namespace: input.namespace,
    ...(input.display_name !== undefined && { display_name: input.display_name }),
    ...(input.description !== undefined && { description: input.description }),
    visibility: input.visibility,
    protected: input.protected,
    owner: input.owner,
    created_at: at,
    updated_at: at,
    uuid: randomUUID(),
    version: 1,
    resource_type_associations: input.resource_type_associations.map((a) => ({ ...a, created_at: at, updated_at: at })),
  };
  const stamp = <T extends Record<string, unknown>>(name: string, data: T): StoredChild => ({ name, data, created_at: at, updated_at: at });
  const children: NewChild[] = [
    ...Object.entries(input.properties).map(([name, data]) => ({ kind: 'PROPERTY' as const, child: stamp(name, data) })),
    ...input.objects.map((o) => ({ kind: 'OBJECT' as const, child: stamp(o.name, { ...(o.description !== undefined && { description: o.description }), required: o.required ?? [], properties: o.properties ?? {} }) })),
    ...input.tags.map((name) => ({ kind: 'TAG' as const, child: stamp(name, {}) })),
  ];
  try {
    await ctx.repo.createNamespace(namespace, children, [...new Set(namespace.resource_type_associations.map((a) => a.name))]);
  } catch (error) {
    throw refusal(error, () => conflict(`The metadata definition namespace=${namespace.namespace} already exists.`), namespace.namespace);
  }
  // Glance answers a create with what the body held (the associations without timestamps).
  const view = namespaceView({ ...namespace, resource_type_associations: [] }, {
    properties: input.properties,
    objects: [],
    tags: [],
  });
  const ordered: View = {};
  for (const [key, value] of Object.entries(view)) {
    if (key === 'self') {
      if (input.resource_type_associations.length > 0) ordered.resource_type_associations = input.resource_type_associations;
      if (Object.keys(input.properties).length > 0) ordered.properties = input.properties;
      if (input.objects.length > 0) ordered.objects = input.objects;
      if (input.tags.length > 0) ordered.tags = input.tags.map((name) => ({ name }));
    }
    if (key !== 'properties') ordered[key] = value;
  }
  return ordered;
}

export async function showNamespace(ctx: MetadefContext, caller: Caller, name: string): Promise<View> {
  const namespace = await visible(ctx, caller, name);
  return namespaceView(namespace, await ctx.repo.contents(namespace.uuid));
}

export async function updateNamespace(ctx: MetadefContext, caller: Caller, name: string, body: unknown): Promise<View> {
  const current = await visible(ctx, caller, name);
  requireRule(ctx.policy, 'modify_metadef_namespace', caller, namespaceTarget(current));
  const input = await parseNamespaceBody(body, caller, true);
  const next: MetadefNamespace = {
    namespace: input.namespace,
    ...(input.display_name !== undefined && { display_name: input.display_name }),
    ...(input.description !== undefined && { description: input.description }),
    visibility: input.visibility,
    protected: input.protected,
    // The owner changes only when the body names one.
    owner: (body as Record<string, unknown>).owner !== undefined ? input.owner : current.owner,
    created_at: current.created_at,
    updated_at: now(),
    uuid: current.uuid,
    version: current.version + 1,
    resource_type_associations: current.resource_type_associations,
  };
  try {
    await ctx.repo.replaceNamespace(current, next);
  } catch (error) {
    throw refusal(error, () => conflict(`The metadata definition namespace=${next.namespace} already exists.`), name);
  }
  // Glance's update answer leaves out the associations and contents.
  return namespaceView({ ...next, resource_type_associations: [] });
}

export async function deleteNamespace(ctx: MetadefContext, caller: Caller, name: string): Promise<void> {
  const namespace = await visible(ctx, caller, name);
  requireRule(ctx.policy, 'delete_metadef_namespace', caller, namespaceTarget(namespace));
  if (namespace.protected) throw new GlanceError(403, `Metadata definition namespace ${name} is protected and cannot be deleted.`);
  try {
    await ctx.repo.deleteNamespace(namespace);
  } catch (error) {
    throw refusal(error, () => changedMeanwhile(name), name);
  }
}

// --- resource types ------------------------------------------------------------------------

export async function listResourceTypes(ctx: MetadefContext, caller: Caller): Promise<View> {
  requireRule(ctx.policy, 'list_metadef_resource_types', caller, { project_id: caller.projectId });
  const { resourceTypes } = await ctx.repo.catalogue();
  resourceTypes.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  return { resource_types: resourceTypes.map((t) => ({ name: t.name, created_at: t.created_at, updated_at: t.updated_at })) };
}

export async function listAssociations(ctx: MetadefContext, caller: Caller, name: string): Promise<View> {
  const namespace = await visible(ctx, caller, name);
  requireRule(ctx.policy, 'get_metadef_resource_type', caller, namespaceTarget(namespace));
  return { resource_type_associations: namespace.resource_type_associations.map(associationView) };
}

export async function associate(ctx: MetadefContext, caller: Caller, name: string, body: unknown): Promise<View> {
  const namespace = await visible(ctx, caller, name);
  requireRule(ctx.policy, 'add_metadef_resource_type_association', caller, namespaceTarget(namespace));
  const input = parseAssociationBody(body);
  if (namespace.resource_type_associations.some((a) => a.name === input.name)) {
    throw conflict(`The metadata definition resource-type association of resource-type=${input.name} to namespace=${name} already exists.`);
  }
  const at = now();
  const association = { ...input, created_at: at, updated_at: at };
  const next = { ...namespace, version: namespace.version + 1, resource_type_associations: [...namespace.resource_type_associations, association] };
  try {
    await ctx.repo.replaceNamespace(namespace, next, input.name);
  } catch (error) {
    throw refusal(error, () => changedMeanwhile(name), name);
  }
  return associationView(association);
}

export async function dissociate(ctx: MetadefContext, caller: Caller, name: string, resourceType: string): Promise<void> {
  const namespace = await visible(ctx, caller, name);
  requireRule(ctx.policy, 'remove_metadef_resource_type_association', caller, namespaceTarget(namespace));
  const remaining = namespace.resource_type_associations.filter((a) => a.name !== resourceType);
  if (remaining.length === namespace.resource_type_associations.length) throw notFound(`Failed to find resource type ${resourceType} to delete`);
  try {
    await ctx.repo.replaceNamespace(namespace, { ...namespace, version: namespace.version + 1, resource_type_associations: remaining });
  } catch (error) {
    throw refusal(error, () => changedMeanwhile(name), name);
  }
}

// --- objects, properties, tags -------------------------------------------------------------

/** The namespace for a child operation: readable (404), then the operation's rule (403). */
async function forChild(ctx: MetadefContext, caller: Caller, name: string, rule: string): Promise<MetadefNamespace> {
  const namespace = await visible(ctx, caller, name);
  requireRule(ctx.policy, rule, caller, namespaceTarget(namespace));
  return namespace;
}

async function existingChild(ctx: MetadefContext, namespace: MetadefNamespace, kind: ChildKind, name: string): Promise<StoredChild> {
  const child = await ctx.repo.child(namespace.uuid, kind, name);
  if (!child) throw notFound(MISSING[kind](name));
  return child;
}

function refusal(error: unknown, exists: () => GlanceError, namespace: string): unknown {
  if (!(error instanceof MetadefWriteRefused)) return error;
  if (error.reason === 'exists') return exists();
  if (error.reason === 'too-large') return badRequest('A namespace can be created with at most 99 properties, objects and tags together; add the rest afterwards.');
  return changedMeanwhile(namespace);
}

async function createChild(ctx: MetadefContext, namespace: MetadefNamespace, kind: ChildKind, child: StoredChild): Promise<void> {
  try {
    await ctx.repo.putChild(namespace, kind, child, { create: true });
  } catch (error) {
    throw refusal(error, () => conflict(DUPLICATE[kind](child.name, namespace.namespace)), namespace.namespace);
  }
}

async function replaceChild(ctx: MetadefContext, namespace: MetadefNamespace, kind: ChildKind, old: StoredChild, child: StoredChild): Promise<void> {
  try {
    await ctx.repo.putChild(namespace, kind, child, { replacing: old });
  } catch (error) {
    throw refusal(error, () => conflict(DUPLICATE[kind](child.name, namespace.namespace)), namespace.namespace);
  }
}

/** DELETE of every object, property or tag of a namespace: refused on a protected one, as Glance does. */
async function removeChildren(ctx: MetadefContext, caller: Caller, ns: string, rule: string, kind: ChildKind): Promise<void> {
  const namespace = await forChild(ctx, caller, ns, rule);
  if (namespace.protected) throw new GlanceError(403, `Metadata definition namespace ${ns} is protected and cannot be deleted.`);
  await ctx.repo.deleteChildren(namespace, kind);
}

async function removeChild(ctx: MetadefContext, namespace: MetadefNamespace, kind: ChildKind, name: string): Promise<void> {
  try {
    await ctx.repo.deleteChild(namespace, kind, name);
  } catch (error) {
    if (error instanceof MetadefWriteRefused) throw notFound(MISSING[kind](name));
    throw error;
  }
}

export async function listObjects(ctx: MetadefContext, caller: Caller, ns: string): Promise<View> {
  const namespace = await forChild(ctx, caller, ns, 'get_metadef_objects');
  const objects = (await ctx.repo.contents(namespace.uuid)).objects;
  // Glance's list names its schema without the leading slash.
  return { objects: objects.map((o) => objectView(namespace.namespace, o)), schema: 'v2/schemas/metadefs/objects' };
}

export async function createObject(ctx: MetadefContext, caller: Caller, ns: string, body: unknown): Promise<View> {
  const namespace = await forChild(ctx, caller, ns, 'add_metadef_object');
  const input = await parseObjectBody(body);
  const at = now();
  const { name, ...data } = input;
  await createChild(ctx, namespace, 'OBJECT', { name, data, created_at: at, updated_at: at });
  return objectView(namespace.namespace, { ...input, created_at: at, updated_at: at });
}

export async function showObject(ctx: MetadefContext, caller: Caller, ns: string, name: string): Promise<View> {
  const namespace = await forChild(ctx, caller, ns, 'get_metadef_object');
  const child = await existingChild(ctx, namespace, 'OBJECT', name);
  return objectView(namespace.namespace, { ...(child.data as Omit<MetadefObject, 'name'>), required: (child.data.required as string[]) ?? [], properties: (child.data.properties as Record<string, PropertyDefinition>) ?? {}, name: child.name, created_at: child.created_at, updated_at: child.updated_at });
}

export async function updateObject(ctx: MetadefContext, caller: Caller, ns: string, name: string, body: unknown): Promise<View> {
  const namespace = await forChild(ctx, caller, ns, 'modify_metadef_object');
  const old = await existingChild(ctx, namespace, 'OBJECT', name);
  const input = await parseObjectBody(body);
  const at = now();
  const { name: newName, ...data } = input;
  await replaceChild(ctx, namespace, 'OBJECT', old, { name: newName, data, created_at: old.created_at, updated_at: at });
  return objectView(namespace.namespace, { ...input, created_at: old.created_at, updated_at: at });
}

export async function deleteObject(ctx: MetadefContext, caller: Caller, ns: string, name: string): Promise<void> {
  const namespace = await forChild(ctx, caller, ns, 'delete_metadef_object');
  await removeChild(ctx, namespace, 'OBJECT', name);
}

export async function deleteObjects(ctx: MetadefContext, caller: Caller, ns: string): Promise<void> {
  await removeChildren(ctx, caller, ns, 'delete_metadef_object', 'OBJECT');
}

export async function listProperties(ctx: MetadefContext, caller: Caller, ns: string): Promise<View> {
  const namespace = await forChild(ctx, caller, ns, 'get_metadef_properties');
  const children = await ctx.repo.children(namespace.uuid, 'PROPERTY');
  return { properties: Object.fromEntries(children.map((c) => [c.name, propertyView(c.name, c.data)])) };
}

export async function createProperty(ctx: MetadefContext, caller: Caller, ns: string, body: unknown): Promise<View> {
  const namespace = await forChild(ctx, caller, ns, 'add_metadef_property');
  const { name, definition } = await parsePropertyBody(body);
  const at = now();
  await createChild(ctx, namespace, 'PROPERTY', { name, data: definition, created_at: at, updated_at: at });
  return propertyView(name, definition);
}

export async function showProperty(ctx: MetadefContext, caller: Caller, ns: string, name: string): Promise<View> {
  const namespace = await forChild(ctx, caller, ns, 'get_metadef_property');
  const child = await existingChild(ctx, namespace, 'PROPERTY', name);
  return propertyView(child.name, child.data);
}

export async function updateProperty(ctx: MetadefContext, caller: Caller, ns: string, name: string, body: unknown): Promise<View> {
  const namespace = await forChild(ctx, caller, ns, 'modify_metadef_property');
  const old = await existingChild(ctx, namespace, 'PROPERTY', name);
  const { name: newName, definition } = await parsePropertyBody(body);
  await replaceChild(ctx, namespace, 'PROPERTY', old, { name: newName, data: definition, created_at: old.created_at, updated_at: now() });
  return propertyView(newName, definition);
}

export async function deleteProperty(ctx: MetadefContext, caller: Caller, ns: string, name: string): Promise<void> {
  const namespace = await forChild(ctx, caller, ns, 'remove_metadef_property');
  await removeChild(ctx, namespace, 'PROPERTY', name);
}

export async function deleteProperties(ctx: MetadefContext, caller: Caller, ns: string): Promise<void> {
  await removeChildren(ctx, caller, ns, 'remove_metadef_property', 'PROPERTY');
}

export async function listTags(ctx: MetadefContext, caller: Caller, ns: string): Promise<View> {
  const namespace = await forChild(ctx, caller, ns, 'get_metadef_tags');
  return { tags: (await ctx.repo.children(namespace.uuid, 'TAG')).map((t) => tagView(t)) };
}

/**
 * POST …/tags: replaces every tag of the namespace with these, or with `X-Openstack-Append:
 * true` adds them (glance md-tag-create-multiple --append). Glance's tag names are case
 * insensitive: a name already there in another case, or twice in the body, is 409.
 */
export async function createTags(ctx: MetadefContext, caller: Caller, ns: string, body: unknown, append: boolean): Promise<View> {
  const namespace = await forChild(ctx, caller, ns, 'add_metadef_tags');
  const names = parseTagsBody(body);
  const seen = new Set<string>();
  for (const name of names) {
    if (seen.has(name.toLowerCase())) throw conflict(DUPLICATE.TAG(name, ns));
    seen.add(name.toLowerCase());
  }
  const existing = await ctx.repo.children(namespace.uuid, 'TAG');
  if (append) {
    const taken = existing.find((t) => seen.has(t.name.toLowerCase()));
    if (taken) throw conflict(DUPLICATE.TAG(taken.name, ns));
  }
  const at = now();
  try {
    await ctx.repo.putTags(namespace, names.map((name) => ({ name, data: {}, created_at: at, updated_at: at })), append, existing);
  } catch (error) {
    throw refusal(error, () => conflict(DUPLICATE.TAG(names.join(', '), ns)), ns);
  }
  return { tags: names.map((name) => ({ name })) };
}

export async function deleteTags(ctx: MetadefContext, caller: Caller, ns: string): Promise<void> {
  await removeChildren(ctx, caller, ns, 'delete_metadef_tags', 'TAG');
}

export async function createTag(ctx: MetadefContext, caller: Caller, ns: string, tag: string): Promise<View> {
  const namespace = await forChild(ctx, caller, ns, 'add_metadef_tag');
  const name = checkTagName(tag);
  const existing = await ctx.repo.children(namespace.uuid, 'TAG');
  if (existing.some((t) => t.name.toLowerCase() === name.toLowerCase())) throw conflict(DUPLICATE.TAG(name, ns));
  const at = now();
  await createChild(ctx, namespace, 'TAG', { name, data: {}, created_at: at, updated_at: at });
  return tagView({ name, created_at: at, updated_at: at });
}

export async function showTag(ctx: MetadefContext, caller: Caller, ns: string, tag: string): Promise<View> {
  const namespace = await forChild(ctx, caller, ns, 'get_metadef_tag');
  return tagView(await existingChild(ctx, namespace, 'TAG', tag));
}

export async function updateTag(ctx: MetadefContext, caller: Caller, ns: string, tag: string, body: unknown): Promise<View> {
  const namespace = await forChild(ctx, caller, ns, 'modify_metadef_tag');
  const old = await existingChild(ctx, namespace, 'TAG', tag);
  const name = checkTagName(typeof body === 'object' && body !== null ? (body as { name?: unknown }).name : undefined);
  const at = now();
  await replaceChild(ctx, namespace, 'TAG', old, { name, data: {}, created_at: old.created_at, updated_at: at });
  return tagView({ name, created_at: old.created_at, updated_at: at });
}

export async function deleteTag(ctx: MetadefContext, caller: Caller, ns: string, tag: string): Promise<void> {
  const namespace = await forChild(ctx, caller, ns, 'delete_metadef_tag');
  await removeChild(ctx, namespace, 'TAG', tag);
}
