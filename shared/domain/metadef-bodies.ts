import type { Ajv, ErrorObject, ValidateFunction } from 'ajv';
import type { Caller } from './caller.js';
import { badRequest, forbidden } from './errors.js';
import { validateNamespace, validateObject, validateProperty, validateResourceTypeAssociation, validateTag } from './generated/metadef-validators.js';
import type { MetadefNamespace, NamespaceVisibility, PropertyDefinition } from './metadefs.js';
import { describeSchemaError, firstSchemaError } from './validate-image.js';

/**
 * The metadefs API's request bodies: each checked against the schema Glance serves for it
 * (shared/domain/metadef-schemas.ts, compiled at build time by infra/codegen into
 * generated/metadef-validators.js), then turned into the use cases' inputs.
 */

type Validator = ((data: unknown) => boolean) & { errors?: ErrorObject[] | null };

/** Glance's InvalidObject for a metadef body: "Provided object does not match schema '<name>': <reason>". */
function checkAgainst(name: string, validate: Validator, body: unknown): void {
  if (validate(body)) return;
  throw badRequest(`Provided object does not match schema '${name}': ${firstSchemaError(validate, body) ?? 'invalid object'}`);
}

let shared: Promise<Ajv> | undefined;

/**
 * The one compiler left at run time, for what no build can know: the property definitions a
 * client sends, each itself a JSON Schema. Only the functions that take such bodies (namespaces,
 * objects and properties created or replaced) bundle it, and ajv's modules are loaded (a quarter
 * of such a function's cold import) on the first body that holds a definition: a namespace or
 * object written without properties never loads them.
 */
function ajvInstance(): Promise<Ajv> {
  // Property definitions may use keywords of Glance's own (`readonly`, `operators`) and an enum
  // with null beside type string: strict mode would refuse them.
  shared ??= import('ajv').then(({ Ajv }) => new Ajv({
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
  }));
  return shared;
}

function asObject(body: unknown, name: string): Record<string, unknown> {
  if (typeof body !== 'object' || body === null || Array.isArray(body)) {
    throw badRequest(`Provided object does not match schema '${name}': ${JSON.stringify(body)} is not of type 'object'`);
  }
  return body as Record<string, unknown>;
}

/** Each property definition must itself be a JSON Schema ajv can compile, and its default must satisfy it. */
/**
 * Loads the definitions' compiler now. For the functions every request of which carries a
 * definition (a property created or replaced): they load it at import, as the first request would.
 */
export async function loadDefinitionCompiler(): Promise<void> {
  await ajvInstance();
}

async function checkPropertyDefinitions(properties: Record<string, PropertyDefinition> | undefined): Promise<void> {
  for (const [name, definition] of Object.entries(properties ?? {})) await checkPropertyDefinition(name, definition);
}

export async function checkPropertyDefinition(name: string, definition: PropertyDefinition): Promise<void> {
  if (name.length === 0 || name.length > 80) throw badRequest(`Property name must be 1 to 80 characters, not ${JSON.stringify(name)}`);
  const { title: _t, operators: _o, readonly: _r, name: _n, ...schema } = definition;
  if (schema.type === null) delete schema.type;
  const ajv = await ajvInstance();
  let validate: ValidateFunction;
  try {
    validate = ajv.compile(schema);
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
export async function parseNamespaceBody(body: unknown, caller: Caller, isAdmin: boolean): Promise<NamespaceInput> {
  const raw = asObject(body, 'namespace');
  checkAgainst('namespace', validateNamespace, raw);
  const name = raw.namespace as string;
  if (name.trim() === '') throw badRequest("Provided object does not match schema 'namespace': namespace must not be empty");
  await checkPropertyDefinitions(raw.properties as Record<string, PropertyDefinition> | undefined);
  const objects = (raw.objects as NamespaceInput['objects'] | undefined) ?? [];
  for (const o of objects) {
    if (typeof o.name !== 'string' || o.name === '' || o.name.length > NAME_LIMIT) throw badRequest(`Provided object does not match schema 'object': 'name' is a required property`);
    await checkPropertyDefinitions(o.properties);
  }
  const tags = ((raw.tags as Array<{ name?: unknown }> | undefined) ?? []).map((t) => {
    if (typeof t.name !== 'string' || t.name === '' || t.name.length > NAME_LIMIT) throw badRequest(`Provided object does not match schema 'tag': 'name' is a required property`);
    return t.name;
  });
  const associations = ((raw.resource_type_associations as NamespaceInput['resource_type_associations'] | undefined) ?? []).map((a) => {
    checkAgainst('resource_type', validateResourceTypeAssociation, a);
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
  checkAgainst('resource_type_association', validateResourceTypeAssociation, raw);
  return {
    name: raw.name as string,
    ...(raw.prefix !== undefined && { prefix: raw.prefix as string }),
    ...(raw.properties_target !== undefined && { properties_target: raw.properties_target as string }),
  };
}

/** A POST or PUT body of an object. */
export async function parseObjectBody(body: unknown): Promise<{ name: string; description?: string; required: string[]; properties: Record<string, PropertyDefinition> }> {
  const raw = asObject(body, 'object');
  checkAgainst('object', validateObject, raw);
  const properties = (raw.properties as Record<string, PropertyDefinition> | undefined) ?? {};
  await checkPropertyDefinitions(properties);
  return {
    name: raw.name as string,
    ...(raw.description !== undefined && { description: raw.description as string }),
    required: (raw.required as string[] | undefined) ?? [],
    properties,
  };
}

/** A POST or PUT body of a property: its name and its definition (a JSON Schema fragment). */
export async function parsePropertyBody(body: unknown): Promise<{ name: string; definition: PropertyDefinition }> {
  const raw = asObject(body, 'property');
  checkAgainst('property', validateProperty, raw);
  const { name, ...definition } = raw as { name: string } & PropertyDefinition;
  await checkPropertyDefinition(name, definition);
  return { name, definition };
}

/** A tag name from a path or a body. */
export function checkTagName(name: unknown): string {
  const probe = { name };
  checkAgainst('tag', validateTag, probe);
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
