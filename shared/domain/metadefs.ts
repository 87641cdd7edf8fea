import { Ajv, type ValidateFunction } from 'ajv';
import type { Caller } from './caller.js';
import { badRequest, forbidden, GlanceError, notFound } from './errors.js';
import { glanceTimestamp } from './image.js';
import { namespaceSchema, objectSchema, propertySchema, resourceTypeAssociationSchema, tagSchema } from './metadef-schemas.js';
import type { PolicyEngine, PolicyTarget } from './policy.js';
import { describeSchemaError } from './validate-image.js';

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

// --- validation ------------------------------------------------------------------------------

let shared: Ajv | undefined;
const compiled = new Map<string, ValidateFunction>();

function ajvInstance(): Ajv {
  // Glance's schemas use keywords of their own (`name`, `readonly`, `operators`) and an enum
  // with null beside type string: strict mode would refuse them, not the bodies. The two formats
  // they use: `regex` (a pattern must compile) and `date-time` (only on read-only fields).
  shared ??= new Ajv({
    strict: false,
    allErrors: false,
    // describeSchemaError quotes the offending value, as jsonschema does.
    verbose: true,
    formats: {
      regex: (text: string) => {
        try {
          new RegExp(text);
          return true;
        } catch {
          return false;
        }
      },
      'date-time': true,
    },
  });
  return shared;
}

function validator(name: string, schema: () => Record<string, unknown>): ValidateFunction {
  let validate = compiled.get(name);
  if (!validate) {
    validate = ajvInstance().compile(schema());
    compiled.set(name, validate);
  }
  return validate;
}

/** Glance's InvalidObject for a metadef body: "Provided object does not match schema '<name>': <reason>". */
function checkAgainst(name: string, schema: () => Record<string, unknown>, body: unknown): void {
  const validate = validator(name, schema);
  if (validate(body)) return;
  const first = validate.errors?.[0];
  throw badRequest(`Provided object does not match schema '${name}': ${first ? describeSchemaError(first) : 'invalid object'}`);
}

function asObject(body: unknown, name: string): Record<string, unknown> {
  if (typeof body !== 'object' || body === null || Array.isArray(body)) {
    throw badRequest(`Provided object does not match schema '${name}': ${JSON.stringify(body)} is not of type 'object'`);
  }
  return body as Record<string, unknown>;
}

/** Each property definition must itself be a JSON Schema ajv can compile, and its default must satisfy it. */
function checkPropertyDefinitions(properties: Record<string, PropertyDefinition> | undefined): void {
  for (const [name, definition] of Object.entries(properties ?? {})) checkPropertyDefinition(name, definition);
}

export function checkPropertyDefinition(name: string, definition: PropertyDefinition): void {
  if (name.length === 0 || name.length > 80) throw badRequest(`Property name must be 1 to 80 characters, not ${JSON.stringify(name)}`);
  const { title: _t, operators: _o, readonly: _r, name: _n, ...schema } = definition;
  if (schema.type === null) delete schema.type;
  let validate: ValidateFunction;
  try {
    validate = ajvInstance().compile(schema);
  } catch (error) {
    throw badRequest(`Property ${name} is not a valid JSON Schema: ${(error as Error).message}`);
  }
  if ('default' in schema && !validate(schema.default)) {
    const first = validate.errors?.[0];
    throw badRequest(`Default value of property ${name} does not match its definition: ${first ? describeSchemaError(first) : 'invalid'}`);
  }
}

const NAME_LIMIT = 80;

/** A namespace as created: its own fields (MetadefNamespace's, without the ones the service sets) and its contents. */
export interface NamespaceInput extends Pick<MetadefNamespace, 'namespace' | 'display_name' | 'description' | 'visibility' | 'protected' | 'owner'> {
  resource_type_associations: Array<{ name: string; prefix?: string; properties_target?: string }>;
  properties: Record<string, PropertyDefinition>;
  objects: Array<{ name: string; description?: string; required?: string[]; properties?: Record<string, PropertyDefinition> }>;
  tags: string[];
}

/**
 * A create (POST) or replace (PUT) body of a namespace, validated against the namespace schema.
 * PUT replaces: a field left out goes back to its default, as Glance (display_name and
 * description disappear, visibility becomes private).
 */
export function parseNamespaceBody(body: unknown, caller: Caller, isAdmin: boolean): NamespaceInput {
  const raw = asObject(body, 'namespace');
  checkAgainst('namespace', namespaceSchema, raw);
  const name = raw.namespace as string;
  if (name.trim() === '') throw badRequest("Provided object does not match schema 'namespace': namespace must not be empty");
  checkPropertyDefinitions(raw.properties as Record<string, PropertyDefinition> | undefined);
  const objects = ((raw.objects as NamespaceInput['objects'] | undefined) ?? []).map((o) => {
    if (typeof o.name !== 'string' || o.name === '' || o.name.length > NAME_LIMIT) throw badRequest(`Provided object does not match schema 'object': 'name' is a required property`);
    checkPropertyDefinitions(o.properties);
    return o;
  });
  const tags = ((raw.tags as Array<{ name?: unknown }> | undefined) ?? []).map((t) => {
    if (typeof t.name !== 'string' || t.name === '' || t.name.length > NAME_LIMIT) throw badRequest(`Provided object does not match schema 'tag': 'name' is a required property`);
    return t.name;
  });
  const associations = ((raw.resource_type_associations as NamespaceInput['resource_type_associations'] | undefined) ?? []).map((a) => {
    checkAgainst('resource_type', resourceTypeAssociationSchema, a);
    return a;
  });
  // Only an admin may give a namespace to another project (Glance: "owner" is checked like images').
  const owner = raw.owner !== undefined ? (raw.owner as string) : caller.projectId;
  if (raw.owner !== undefined && raw.owner !== caller.projectId && !isAdmin) {
    throw forbidden('You are not permitted to create this namespace owned by another project.');
  }
  return {
    namespace: name,
    ...(raw.display_name !== undefined && { display_name: raw.display_name as string }),
    ...(raw.description !== undefined && { description: raw.description as string }),
    visibility: (raw.visibility as NamespaceVisibility | undefined) ?? 'private',
    protected: (raw.protected as boolean | undefined) ?? false,
    owner,
    resource_type_associations: associations,
    properties: (raw.properties as Record<string, PropertyDefinition> | undefined) ?? {},
    objects,
    tags: [...new Set(tags)],
  };
}

/** A POST body of /namespaces/{ns}/resource_types. */
export function parseAssociationBody(body: unknown): { name: string; prefix?: string; properties_target?: string } {
  const raw = asObject(body, 'resource_type_association');
  checkAgainst('resource_type_association', resourceTypeAssociationSchema, raw);
  return {
    name: raw.name as string,
    ...(raw.prefix !== undefined && { prefix: raw.prefix as string }),
    ...(raw.properties_target !== undefined && { properties_target: raw.properties_target as string }),
  };
}

/** A POST or PUT body of an object. */
export function parseObjectBody(body: unknown): { name: string; description?: string; required: string[]; properties: Record<string, PropertyDefinition> } {
  const raw = asObject(body, 'object');
  checkAgainst('object', objectSchema, raw);
  const properties = (raw.properties as Record<string, PropertyDefinition> | undefined) ?? {};
  checkPropertyDefinitions(properties);
  return {
    name: raw.name as string,
    ...(raw.description !== undefined && { description: raw.description as string }),
    required: (raw.required as string[] | undefined) ?? [],
    properties,
  };
}

/** A POST or PUT body of a property: its name and its definition (a JSON Schema fragment). */
export function parsePropertyBody(body: unknown): { name: string; definition: PropertyDefinition } {
  const raw = asObject(body, 'property');
  checkAgainst('property', propertySchema, raw);
  const { name, ...definition } = raw as { name: string } & PropertyDefinition;
  checkPropertyDefinition(name, definition);
  return { name, definition };
}

/** A tag name from a path or a body. */
export function checkTagName(name: unknown): string {
  const probe = { name };
  checkAgainst('tag', tagSchema, probe);
  if (name === '') throw badRequest("Provided object does not match schema 'tag': '' is too short");
  return name as string;
}

/** The tags of a POST /tags body (`{"tags": [{"name": …}]}`), in order. */
export function parseTagsBody(body: unknown): string[] {
  const raw = asObject(body, 'tags');
  if (!Array.isArray(raw.tags)) throw badRequest("Provided object does not match schema 'tags': 'tags' is a required property");
  // A name twice (in any case) is the use case's 409, in Glance's words.
  return (raw.tags as unknown[]).map((tag) => checkTagName(typeof tag === 'object' && tag !== null ? (tag as { name?: unknown }).name : undefined));
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
