import type { Caller } from './caller.js';
import { badRequest, forbidden, GlanceError, notFound } from './errors.js';
import { glanceTimestamp } from './image.js';
import type { PolicyEngine, PolicyTarget } from './policy.js';

/**
 * Glance's metadata definitions catalogue: namespaces of property definitions, objects and tags,
 * and the resource types they apply to. Pure: the rules, validation and views; storage is the
 * MetadefRepository's (docs/table-design.md, "Metadata definitions").
 */

export type NamespaceVisibility = 'public' | 'private';

/** A JSON Schema fragment describing one metadata key (its name is the map key). */
export type PropertyDefinition = Record<string, unknown>;

export interface ResourceTypeAssociation {
  name: string;
  prefix?: string;
  properties_target?: string;
  created_at: string;
  updated_at: string;
}

export interface MetadefObject {
  name: string;
  description?: string;
  required: string[];
  properties: Record<string, PropertyDefinition>;
  created_at: string;
  updated_at: string;
}

export interface MetadefTag {
  name: string;
  created_at: string;
  updated_at: string;
}

export interface MetadefNamespace {
  namespace: string;
  display_name?: string;
  description?: string;
  visibility: NamespaceVisibility;
  protected: boolean;
  owner: string | null;
  created_at: string;
  updated_at: string;
  /** The namespace's own id: its children's partition, so a rename moves nothing but the namespace. */
  uuid: string;
  version: number;
  resource_type_associations: ResourceTypeAssociation[];
}

/** What a namespace holds beside itself, read in one Query of its partition. */
export interface NamespaceContents {
  properties: Record<string, PropertyDefinition>;
  objects: MetadefObject[];
  tags: MetadefTag[];
}

export interface ResourceType {
  name: string;
  created_at: string;
  updated_at: string;
}

// --- policy ----------------------------------------------------------------------------------

/** What Glance's MetadefAPIPolicy checks a namespace's rules against: its owner and visibility. */
export function namespaceTarget(namespace: Pick<MetadefNamespace, 'owner' | 'visibility'>): PolicyTarget {
  return { project_id: namespace.owner, owner: namespace.owner, visibility: namespace.visibility };
}

/**
 * Glance hides a namespace the caller may not read behind the same 404 as a missing one
 * (metadef_namespaces.py: NotFound for a forbidden get), so existence does not leak.
 */
export function namespaceNotFound(name: string): GlanceError {
  return notFound(`Metadata definition namespace=${name} was not found.`);
}

/** Whether `caller` may read `namespace` (get_metadef_namespace, which every child read also requires). */
export function canRead(policy: PolicyEngine, caller: Caller, namespace: MetadefNamespace): boolean {
  return policy.allows('get_metadef_namespace', caller, namespaceTarget(namespace));
}

/** Glance's 403 for a rule that refuses: "You are not authorized to complete <rule> action." */
export function requireRule(policy: PolicyEngine, rule: string, caller: Caller, target: PolicyTarget): void {
  if (!policy.allows(rule, caller, target)) throw forbidden(`You are not authorized to complete ${rule} action.`);
}

// --- views -----------------------------------------------------------------------------------

export const now = () => glanceTimestamp(new Date());

const namespacePath = (name: string) => `/v2/metadefs/namespaces/${encodeURIComponent(name)}`;

export function associationView(a: ResourceTypeAssociation): Record<string, unknown> {
  return {
    name: a.name,
    ...(a.prefix !== undefined && { prefix: a.prefix }),
    ...(a.properties_target !== undefined && { properties_target: a.properties_target }),
    created_at: a.created_at,
    updated_at: a.updated_at,
  };
}

export function objectView(namespace: string, o: MetadefObject): Record<string, unknown> {
  return {
    name: o.name,
    ...(o.description !== undefined && { description: o.description }),
    required: o.required,
    properties: o.properties,
    created_at: o.created_at,
    updated_at: o.updated_at,
    self: `${namespacePath(namespace)}/objects/${encodeURIComponent(o.name)}`,
    schema: '/v2/schemas/metadefs/object',
  };
}

export function propertyView(name: string, definition: PropertyDefinition): Record<string, unknown> {
  return { name, ...definition };
}

export function tagView(t: MetadefTag): Record<string, unknown> {
  return { name: t.name, created_at: t.created_at, updated_at: t.updated_at };
}

/** A namespace as Glance shows it; `contents` only in show (the list shows none of them). */
export function namespaceView(ns: MetadefNamespace, contents?: NamespaceContents): Record<string, unknown> {
  const view: Record<string, unknown> = {
    namespace: ns.namespace,
    ...(ns.display_name !== undefined && { display_name: ns.display_name }),
    ...(ns.description !== undefined && { description: ns.description }),
    visibility: ns.visibility,
    protected: ns.protected,
    owner: ns.owner,
    created_at: ns.created_at,
    updated_at: ns.updated_at,
  };
  if (ns.resource_type_associations.length > 0) view.resource_type_associations = ns.resource_type_associations.map(associationView);
  if (contents) {
    if (Object.keys(contents.properties).length > 0) view.properties = contents.properties;
    if (contents.objects.length > 0) view.objects = contents.objects.map((o) => objectView(ns.namespace, o));
    if (contents.tags.length > 0) view.tags = contents.tags.map((t) => ({ name: t.name }));
  }
  view.self = namespacePath(ns.namespace);
  view.schema = '/v2/schemas/metadefs/namespace';
  return view;
}

// --- listing ---------------------------------------------------------------------------------

export interface NamespaceListQuery {
  limit: number;
  marker?: string;
  visibility?: NamespaceVisibility;
  resourceTypes: string[];
  sortKey: 'created_at' | 'namespace' | 'updated_at';
  sortDir: 'asc' | 'desc';
}

const SORT_KEYS = ['created_at', 'namespace', 'updated_at', 'display_name'] as const;

/** Glance's namespace list parameters: limit, marker, visibility, resource_types (comma list), sort_key, sort_dir. */
export function parseNamespaceListQuery(query: Record<string, string | undefined>): NamespaceListQuery {
  const limitText = query.limit;
  let limit = 20;
  if (limitText !== undefined) {
    limit = Number(limitText);
    if (!Number.isInteger(limit) || limit < 0) throw badRequest('limit param must be positive');
  }
  const visibility = query.visibility;
  if (visibility !== undefined && visibility !== 'public' && visibility !== 'private') throw badRequest(`Invalid visibility value: ${visibility}`);
  const sortKey = query.sort_key ?? 'created_at';
  if (!(SORT_KEYS as readonly string[]).includes(sortKey)) throw badRequest(`Invalid sort key: ${sortKey}`);
  const sortDir = query.sort_dir ?? 'desc';
  if (sortDir !== 'asc' && sortDir !== 'desc') throw badRequest(`Invalid sort direction: ${sortDir}`);
  return {
    limit: Math.min(limit, 1000),
    ...(query.marker !== undefined && { marker: query.marker }),
    ...(visibility !== undefined && { visibility }),
    resourceTypes: (query.resource_types ?? '').split(',').map((s) => s.trim()).filter(Boolean),
    sortKey: sortKey === 'display_name' ? 'namespace' : (sortKey as NamespaceListQuery['sortKey']),
    sortDir,
  };
}

/**
 * One page of the namespaces `caller` may read, in Glance's order (created_at desc by default,
 * the name breaking ties), after `marker` (a namespace name) when given.
 * @throws GlanceError 404 for a marker that names no namespace the caller can see
 */
export function pageNamespaces(all: MetadefNamespace[], caller: Caller, policy: PolicyEngine, q: NamespaceListQuery): { page: MetadefNamespace[]; next?: string } {
  const visible = all
    .filter((ns) => canRead(policy, caller, ns))
    .filter((ns) => !q.visibility || ns.visibility === q.visibility)
    .filter((ns) => q.resourceTypes.length === 0 || ns.resource_type_associations.some((a) => q.resourceTypes.includes(a.name)));
  const dir = q.sortDir === 'asc' ? 1 : -1;
  visible.sort((a, b) => {
    const ka = String(a[q.sortKey]);
    const kb = String(b[q.sortKey]);
    if (ka !== kb) return ka < kb ? -dir : dir;
    return a.namespace < b.namespace ? -dir : a.namespace > b.namespace ? dir : 0;
  });
  let start = 0;
  if (q.marker !== undefined) {
    const at = visible.findIndex((ns) => ns.namespace === q.marker);
    if (at < 0) throw namespaceNotFound(q.marker);
    start = at + 1;
  }
  const page = visible.slice(start, start + q.limit);
  const more = start + q.limit < visible.length && page.length > 0;
  return { page, ...(more && { next: page[page.length - 1]!.namespace }) };
}
