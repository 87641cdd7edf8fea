import { randomUUID } from 'node:crypto';
import type { Caller } from '../domain/caller.js';
import { badRequest, conflict, GlanceError, notFound } from '../domain/errors.js';
import { CATALOGUE_VERSION, SEED_NAMESPACES, SEED_RESOURCE_TYPES } from '../domain/metadef-catalogue.js';
import {
  associationView,
  canRead,
  checkTagName,
  namespaceNotFound,
  namespaceTarget,
  namespaceView,
  now,
  objectView,
  pageNamespaces,
  parseAssociationBody,
  parseNamespaceBody,
  parseNamespaceListQuery,
  parseObjectBody,
  parsePropertyBody,
  parseTagsBody,
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
 */
export class MetadefCatalogue {
  constructor(
    private readonly repo: MetadefRepository,
    private readonly policy: PolicyEngine,
  ) {}

  // --- seeding -------------------------------------------------------------------------------

  /**
   * Writes the team's catalogue where nothing of that name exists, then the version's marker:
   * idempotent, never overwrites an operator's edits, and a namespace the operator deleted after
   * seeding does not come back. Also finishes purges a crash left.
   */
  async seed(): Promise<{ namespaces: number; resourceTypes: number }> {
    await this.repo.finishPurges();
    const catalogue = await this.repo.catalogue();
    if (catalogue.seeded.includes(CATALOGUE_VERSION)) return { namespaces: 0, resourceTypes: 0 };
    const at = now();
    const knownTypes = new Set(catalogue.resourceTypes.map((t) => t.name));
    let resourceTypes = 0;
    for (const name of SEED_RESOURCE_TYPES) {
      if (knownTypes.has(name)) continue;
      await this.repo.ensureResourceType({ name, created_at: at, updated_at: at });
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
        await this.repo.createNamespace(namespace, children, []);
        namespaces++;
      } catch (error) {
        if (!(error instanceof MetadefWriteRefused && error.reason === 'exists')) throw error;
      }
    }
    await this.repo.markSeeded(CATALOGUE_VERSION, at);
    return { namespaces, resourceTypes };
  }

  // --- namespaces ----------------------------------------------------------------------------

  /** The namespace `caller` may read, or Glance's 404. */
  private async visible(caller: Caller, name: string): Promise<MetadefNamespace> {
    const namespace = await this.repo.namespace(name);
    if (!namespace || !canRead(this.policy, caller, namespace)) throw namespaceNotFound(name);
    return namespace;
  }

  async listNamespaces(caller: Caller, query: Record<string, string | undefined>): Promise<View> {
    requireRule(this.policy, 'get_metadef_namespaces', caller, { project_id: caller.projectId });
    const q = parseNamespaceListQuery(query);
    let catalogue = await this.repo.catalogue();
    // Seeding on the first list that finds no marker (deployments seed at deploy time too).
    if (!catalogue.seeded.includes(CATALOGUE_VERSION)) {
      await this.seed();
      catalogue = await this.repo.catalogue();
    }
    const { page, next } = pageNamespaces(catalogue.namespaces, caller, this.policy, q);
    const view: View = { namespaces: page.map((ns) => namespaceView(ns)), schema: '/v2/schemas/metadefs/namespaces', first: '/v2/metadefs/namespaces' };
    if (next !== undefined) view.next = `/v2/metadefs/namespaces?marker=${encodeURIComponent(next)}&limit=${q.limit}`;
    return view;
  }

  async createNamespace(caller: Caller, body: unknown): Promise<View> {
    const input = parseNamespaceBody(body, caller, this.policy.isAdmin(caller));
    requireRule(this.policy, 'add_metadef_namespace', caller, namespaceTarget(input));
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
      await this.repo.createNamespace(namespace, children, [...new Set(namespace.resource_type_associations.map((a) => a.name))]);
    } catch (error) {
      throw this.refusal(error, () => conflict(`The metadata definition namespace=${namespace.namespace} already exists.`), namespace.namespace);
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

  async showNamespace(caller: Caller, name: string): Promise<View> {
    const namespace = await this.visible(caller, name);
    return namespaceView(namespace, await this.repo.contents(namespace.uuid));
  }

  async updateNamespace(caller: Caller, name: string, body: unknown): Promise<View> {
    const current = await this.visible(caller, name);
    requireRule(this.policy, 'modify_metadef_namespace', caller, namespaceTarget(current));
    const input = parseNamespaceBody(body, caller, true);
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
      await this.repo.replaceNamespace(current, next);
    } catch (error) {
      throw this.refusal(error, () => conflict(`The metadata definition namespace=${next.namespace} already exists.`), name);
    }
    // Glance's update answer leaves out the associations and contents.
    return namespaceView({ ...next, resource_type_associations: [] });
  }

  async deleteNamespace(caller: Caller, name: string): Promise<void> {
    const namespace = await this.visible(caller, name);
    requireRule(this.policy, 'delete_metadef_namespace', caller, namespaceTarget(namespace));
    if (namespace.protected) throw new GlanceError(403, `Metadata definition namespace ${name} is protected and cannot be deleted.`);
    try {
      await this.repo.deleteNamespace(namespace);
    } catch (error) {
      throw this.refusal(error, () => changedMeanwhile(name), name);
    }
  }

  // --- resource types ------------------------------------------------------------------------

  async listResourceTypes(caller: Caller): Promise<View> {
    requireRule(this.policy, 'list_metadef_resource_types', caller, { project_id: caller.projectId });
    const { resourceTypes } = await this.repo.catalogue();
    resourceTypes.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
    return { resource_types: resourceTypes.map((t) => ({ name: t.name, created_at: t.created_at, updated_at: t.updated_at })) };
  }

  async listAssociations(caller: Caller, name: string): Promise<View> {
    const namespace = await this.visible(caller, name);
    requireRule(this.policy, 'get_metadef_resource_type', caller, namespaceTarget(namespace));
    return { resource_type_associations: namespace.resource_type_associations.map(associationView) };
  }

  async associate(caller: Caller, name: string, body: unknown): Promise<View> {
    const namespace = await this.visible(caller, name);
    requireRule(this.policy, 'add_metadef_resource_type_association', caller, namespaceTarget(namespace));
    const input = parseAssociationBody(body);
    if (namespace.resource_type_associations.some((a) => a.name === input.name)) {
      throw conflict(`The metadata definition resource-type association of resource-type=${input.name} to namespace=${name} already exists.`);
    }
    const at = now();
    const association = { ...input, created_at: at, updated_at: at };
    const next = { ...namespace, version: namespace.version + 1, resource_type_associations: [...namespace.resource_type_associations, association] };
    try {
      await this.repo.replaceNamespace(namespace, next, input.name);
    } catch (error) {
      throw this.refusal(error, () => changedMeanwhile(name), name);
    }
    return associationView(association);
  }

  async dissociate(caller: Caller, name: string, resourceType: string): Promise<void> {
    const namespace = await this.visible(caller, name);
    requireRule(this.policy, 'remove_metadef_resource_type_association', caller, namespaceTarget(namespace));
    const remaining = namespace.resource_type_associations.filter((a) => a.name !== resourceType);
    if (remaining.length === namespace.resource_type_associations.length) throw notFound(`Failed to find resource type ${resourceType} to delete`);
    try {
      await this.repo.replaceNamespace(namespace, { ...namespace, version: namespace.version + 1, resource_type_associations: remaining });
    } catch (error) {
      throw this.refusal(error, () => changedMeanwhile(name), name);
    }
  }

  // --- objects, properties, tags -------------------------------------------------------------

  /** The namespace for a child operation: readable (404), then the operation's rule (403). */
  private async forChild(caller: Caller, name: string, rule: string): Promise<MetadefNamespace> {
    const namespace = await this.visible(caller, name);
    requireRule(this.policy, rule, caller, namespaceTarget(namespace));
    return namespace;
  }

  private async existingChild(namespace: MetadefNamespace, kind: ChildKind, name: string): Promise<StoredChild> {
    const child = await this.repo.child(namespace.uuid, kind, name);
    if (!child) throw notFound(MISSING[kind](name));
    return child;
  }

  private refusal(error: unknown, exists: () => GlanceError, namespace: string): unknown {
    if (!(error instanceof MetadefWriteRefused)) return error;
    if (error.reason === 'exists') return exists();
    if (error.reason === 'too-large') return badRequest('A namespace can be created with at most 99 properties, objects and tags together; add the rest afterwards.');
    return changedMeanwhile(namespace);
  }

  private async createChild(namespace: MetadefNamespace, kind: ChildKind, child: StoredChild): Promise<void> {
    try {
      await this.repo.putChild(namespace, kind, child, { create: true });
    } catch (error) {
      throw this.refusal(error, () => conflict(DUPLICATE[kind](child.name, namespace.namespace)), namespace.namespace);
    }
  }

  private async replaceChild(namespace: MetadefNamespace, kind: ChildKind, old: StoredChild, child: StoredChild): Promise<void> {
    try {
      await this.repo.putChild(namespace, kind, child, { replacing: old });
    } catch (error) {
      throw this.refusal(error, () => conflict(DUPLICATE[kind](child.name, namespace.namespace)), namespace.namespace);
    }
  }

  private async removeChild(namespace: MetadefNamespace, kind: ChildKind, name: string): Promise<void> {
    try {
      await this.repo.deleteChild(namespace, kind, name);
    } catch (error) {
      if (error instanceof MetadefWriteRefused) throw notFound(MISSING[kind](name));
      throw error;
    }
  }

  async listObjects(caller: Caller, ns: string): Promise<View> {
    const namespace = await this.forChild(caller, ns, 'get_metadef_objects');
    const objects = (await this.repo.contents(namespace.uuid)).objects;
    // Glance's list names its schema without the leading slash.
    return { objects: objects.map((o) => objectView(namespace.namespace, o)), schema: 'v2/schemas/metadefs/objects' };
  }

  async createObject(caller: Caller, ns: string, body: unknown): Promise<View> {
    const namespace = await this.forChild(caller, ns, 'add_metadef_object');
    const input = parseObjectBody(body);
    const at = now();
    const { name, ...data } = input;
    await this.createChild(namespace, 'OBJECT', { name, data, created_at: at, updated_at: at });
    return objectView(namespace.namespace, { ...input, created_at: at, updated_at: at });
  }

  async showObject(caller: Caller, ns: string, name: string): Promise<View> {
    const namespace = await this.forChild(caller, ns, 'get_metadef_object');
    const child = await this.existingChild(namespace, 'OBJECT', name);
    return objectView(namespace.namespace, { ...(child.data as Omit<MetadefObject, 'name'>), required: (child.data.required as string[]) ?? [], properties: (child.data.properties as Record<string, PropertyDefinition>) ?? {}, name: child.name, created_at: child.created_at, updated_at: child.updated_at });
  }

  async updateObject(caller: Caller, ns: string, name: string, body: unknown): Promise<View> {
    const namespace = await this.forChild(caller, ns, 'modify_metadef_object');
    const old = await this.existingChild(namespace, 'OBJECT', name);
    const input = parseObjectBody(body);
    const at = now();
    const { name: newName, ...data } = input;
    await this.replaceChild(namespace, 'OBJECT', old, { name: newName, data, created_at: old.created_at, updated_at: at });
    return objectView(namespace.namespace, { ...input, created_at: old.created_at, updated_at: at });
  }

  async deleteObject(caller: Caller, ns: string, name: string): Promise<void> {
    const namespace = await this.forChild(caller, ns, 'delete_metadef_object');
    await this.removeChild(namespace, 'OBJECT', name);
  }

  async deleteObjects(caller: Caller, ns: string): Promise<void> {
    const namespace = await this.forChild(caller, ns, 'delete_metadef_object');
    if (namespace.protected) throw new GlanceError(403, `Metadata definition namespace ${ns} is protected and cannot be deleted.`);
    await this.repo.deleteChildren(namespace, 'OBJECT');
  }

  async listProperties(caller: Caller, ns: string): Promise<View> {
    const namespace = await this.forChild(caller, ns, 'get_metadef_properties');
    const children = await this.repo.children(namespace.uuid, 'PROPERTY');
    return { properties: Object.fromEntries(children.map((c) => [c.name, propertyView(c.name, c.data)])) };
  }

  async createProperty(caller: Caller, ns: string, body: unknown): Promise<View> {
    const namespace = await this.forChild(caller, ns, 'add_metadef_property');
    const { name, definition } = parsePropertyBody(body);
    const at = now();
    await this.createChild(namespace, 'PROPERTY', { name, data: definition, created_at: at, updated_at: at });
    return propertyView(name, definition);
  }

  async showProperty(caller: Caller, ns: string, name: string): Promise<View> {
    const namespace = await this.forChild(caller, ns, 'get_metadef_property');
    const child = await this.existingChild(namespace, 'PROPERTY', name);
    return propertyView(child.name, child.data);
  }

  async updateProperty(caller: Caller, ns: string, name: string, body: unknown): Promise<View> {
    const namespace = await this.forChild(caller, ns, 'modify_metadef_property');
    const old = await this.existingChild(namespace, 'PROPERTY', name);
    const { name: newName, definition } = parsePropertyBody(body);
    await this.replaceChild(namespace, 'PROPERTY', old, { name: newName, data: definition, created_at: old.created_at, updated_at: now() });
    return propertyView(newName, definition);
  }

  async deleteProperty(caller: Caller, ns: string, name: string): Promise<void> {
    const namespace = await this.forChild(caller, ns, 'remove_metadef_property');
    await this.removeChild(namespace, 'PROPERTY', name);
  }

  async deleteProperties(caller: Caller, ns: string): Promise<void> {
    const namespace = await this.forChild(caller, ns, 'remove_metadef_property');
    if (namespace.protected) throw new GlanceError(403, `Metadata definition namespace ${ns} is protected and cannot be deleted.`);
    await this.repo.deleteChildren(namespace, 'PROPERTY');
  }

  async listTags(caller: Caller, ns: string): Promise<View> {
    const namespace = await this.forChild(caller, ns, 'get_metadef_tags');
    return { tags: (await this.repo.children(namespace.uuid, 'TAG')).map((t) => tagView(t)) };
  }

  /**
   * POST …/tags: replaces every tag of the namespace with these, or with `X-Openstack-Append:
   * true` adds them (glance md-tag-create-multiple --append). Glance's tag names are case
   * insensitive: a name already there in another case, or twice in the body, is 409.
   */
  async createTags(caller: Caller, ns: string, body: unknown, append: boolean): Promise<View> {
    const namespace = await this.forChild(caller, ns, 'add_metadef_tags');
    const names = parseTagsBody(body);
    const seen = new Set<string>();
    for (const name of names) {
      if (seen.has(name.toLowerCase())) throw conflict(DUPLICATE.TAG(name, ns));
      seen.add(name.toLowerCase());
    }
    const existing = await this.repo.children(namespace.uuid, 'TAG');
    if (append) {
      const taken = existing.find((t) => seen.has(t.name.toLowerCase()));
      if (taken) throw conflict(DUPLICATE.TAG(taken.name, ns));
    }
    const at = now();
    try {
      await this.repo.putTags(namespace, names.map((name) => ({ name, data: {}, created_at: at, updated_at: at })), append, existing);
    } catch (error) {
      throw this.refusal(error, () => conflict(DUPLICATE.TAG(names.join(', '), ns)), ns);
    }
    return { tags: names.map((name) => ({ name })) };
  }

  async deleteTags(caller: Caller, ns: string): Promise<void> {
    const namespace = await this.forChild(caller, ns, 'delete_metadef_tags');
    if (namespace.protected) throw new GlanceError(403, `Metadata definition namespace ${ns} is protected and cannot be deleted.`);
    await this.repo.deleteChildren(namespace, 'TAG');
  }

  async createTag(caller: Caller, ns: string, tag: string): Promise<View> {
    const namespace = await this.forChild(caller, ns, 'add_metadef_tag');
    const name = checkTagName(tag);
    const existing = await this.repo.children(namespace.uuid, 'TAG');
    if (existing.some((t) => t.name.toLowerCase() === name.toLowerCase())) throw conflict(DUPLICATE.TAG(name, ns));
    const at = now();
    await this.createChild(namespace, 'TAG', { name, data: {}, created_at: at, updated_at: at });
    return tagView({ name, created_at: at, updated_at: at });
  }

  async showTag(caller: Caller, ns: string, tag: string): Promise<View> {
    const namespace = await this.forChild(caller, ns, 'get_metadef_tag');
    return tagView(await this.existingChild(namespace, 'TAG', tag));
  }

  async updateTag(caller: Caller, ns: string, tag: string, body: unknown): Promise<View> {
    const namespace = await this.forChild(caller, ns, 'modify_metadef_tag');
    const old = await this.existingChild(namespace, 'TAG', tag);
    const name = checkTagName(typeof body === 'object' && body !== null ? (body as { name?: unknown }).name : undefined);
    const at = now();
    await this.replaceChild(namespace, 'TAG', old, { name, data: {}, created_at: old.created_at, updated_at: at });
    return tagView({ name, created_at: old.created_at, updated_at: at });
  }

  async deleteTag(caller: Caller, ns: string, tag: string): Promise<void> {
    const namespace = await this.forChild(caller, ns, 'delete_metadef_tag');
    await this.removeChild(namespace, 'TAG', tag);
  }
}
