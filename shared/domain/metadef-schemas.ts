/**
 * The ten JSON Schemas Glance serves under /v2/schemas/metadefs/{schema_name}, composed here
 * from the field descriptions of Glance's metadefs API (glance/api/v2/metadef_*.py describe the
 * same fields), and the request bodies are validated against these same documents, so what a
 * client reads is what the server enforces.
 */

type Schema = Record<string, unknown>;

/** JSON Schema types a metadef property may have (null: no type, as Glance allows). */
export const PROPERTY_TYPES = ['array', 'boolean', 'integer', 'number', 'object', 'string', null] as const;

const definitions = (minItemsOnStringArray = false): Schema => ({
  positiveInteger: { type: 'integer', minimum: 0 },
  positiveIntegerDefault0: { allOf: [{ $ref: '#/definitions/positiveInteger' }, { default: 0 }] },
  stringArray: { type: 'array', items: { type: 'string' }, ...(minItemsOnStringArray ? { minItems: 1 } : {}), uniqueItems: true },
});

/** One property definition's fields: a JSON Schema fragment with Glance's extras (title, operators, readonly). */
const propertyFields = (): Schema => ({
  name: { type: 'string', maxLength: 80 },
  title: { type: 'string' },
  description: { type: 'string' },
  operators: { type: 'array', items: { type: 'string' } },
  type: { type: 'string', enum: [...PROPERTY_TYPES] },
  required: { $ref: '#/definitions/stringArray' },
  minimum: { type: 'number' },
  maximum: { type: 'number' },
  maxLength: { $ref: '#/definitions/positiveInteger' },
  minLength: { $ref: '#/definitions/positiveIntegerDefault0' },
  pattern: { type: 'string', format: 'regex' },
  enum: { type: 'array' },
  readonly: { type: 'boolean' },
  default: {},
  items: { type: 'object', properties: { type: { type: 'string', enum: [...PROPERTY_TYPES] }, enum: { type: 'array' } } },
  maxItems: { $ref: '#/definitions/positiveInteger' },
  minItems: { $ref: '#/definitions/positiveIntegerDefault0' },
  uniqueItems: { type: 'boolean', default: false },
  additionalItems: { type: 'boolean' },
});

/** A map of property name → definition (a namespace's or an object's `properties`). */
const propertyMap = (): Schema => ({
  type: 'object',
  additionalProperties: { type: 'object', required: ['title', 'type'], properties: propertyFields() },
});

const timestamps = (what: string): Schema => ({
  created_at: { type: 'string', readOnly: true, description: `Date and time of ${what} creation`, format: 'date-time' },
  updated_at: { type: 'string', readOnly: true, description: `Date and time of the last ${what} modification`, format: 'date-time' },
});

const links = () => [
  { rel: 'first', href: '{first}' },
  { rel: 'next', href: '{next}' },
  { rel: 'describedby', href: '{schema}' },
];

const collection = (name: string, key: string, item: Schema, withDefinitions: boolean): Schema => ({
  name,
  properties: { [key]: item, first: { type: 'string' }, next: { type: 'string' }, schema: { type: 'string' } },
  links: links(),
  ...(withDefinitions ? { definitions: { ...definitions(), property: propertyMap() } } : {}),
});

function associationProperties(): Schema {
  return {
    name: {
      type: 'string',
      description: 'Resource type names should be aligned with Heat resource types whenever possible: https://docs.openstack.org/heat/latest/template_guide/openstack.html',
      maxLength: 80,
    },
    prefix: {
      type: 'string',
      description:
        'Specifies the prefix to use for the given resource type. Any properties in the namespace should be prefixed with this prefix when being applied to the specified resource type. Must include prefix separator (e.g. a colon :).',
      maxLength: 80,
    },
    properties_target: {
      type: 'string',
      description:
        'Some resource types allow more than one key / value pair per instance.  For example, Cinder allows user and image metadata on volumes. Only the image properties metadata is evaluated by Nova (scheduling or drivers). This property allows a namespace target to remove the ambiguity.',
      maxLength: 80,
    },
    created_at: { type: 'string', readOnly: true, description: 'Date and time of resource type association', format: 'date-time' },
    updated_at: { type: 'string', readOnly: true, description: 'Date and time of the last resource type association modification', format: 'date-time' },
  };
}

function namespaceProperties(): Schema {
  return {
    namespace: { type: 'string', description: 'The unique namespace text.', maxLength: 80 },
    display_name: { type: 'string', description: 'The user friendly name for the namespace. Used by UI if available.', maxLength: 80 },
    description: { type: 'string', description: 'Provides a user friendly description of the namespace.', maxLength: 500 },
    visibility: { type: 'string', description: 'Scope of namespace accessibility.', enum: ['public', 'private'] },
    protected: { type: 'boolean', description: 'If true, namespace will not be deletable.' },
    owner: { type: 'string', description: 'Owner of the namespace.', maxLength: 255 },
    ...timestamps('namespace'),
    schema: { readOnly: true, type: 'string' },
    self: { readOnly: true, type: 'string' },
    resource_type_associations: {
      type: 'array',
      items: { type: 'object', properties: { name: { type: 'string' }, prefix: { type: 'string' }, properties_target: { type: 'string' } } },
    },
    properties: { $ref: '#/definitions/property' },
    objects: {
      type: 'array',
      items: {
        type: 'object',
        properties: {
          name: { type: 'string' },
          description: { type: 'string' },
          required: { $ref: '#/definitions/stringArray' },
          properties: { $ref: '#/definitions/property' },
        },
      },
    },
    tags: { type: 'array', items: { type: 'object', properties: { name: { type: 'string' } } } },
  };
}

function objectProperties(): Schema {
  return {
    name: { type: 'string', maxLength: 80 },
    description: { type: 'string' },
    required: { $ref: '#/definitions/stringArray' },
    properties: { $ref: '#/definitions/property' },
    schema: { readOnly: true, type: 'string' },
    self: { readOnly: true, type: 'string' },
    ...timestamps('object'),
  };
}

const tagProperties = (): Schema => ({ name: { type: 'string', maxLength: 80 }, ...timestamps('tag') });

export function namespaceSchema(): Schema {
  return {
    name: 'namespace',
    properties: namespaceProperties(),
    additionalProperties: false,
    definitions: { ...definitions(), property: propertyMap() },
    required: ['namespace'],
  };
}

export function namespacesSchema(): Schema {
  return collection('namespaces', 'namespaces', { type: 'array', items: { name: 'namespace', properties: namespaceProperties(), additionalProperties: false, required: ['namespace'] } }, true);
}

export function resourceTypeAssociationSchema(): Schema {
  return { name: 'resource_type_association', properties: associationProperties(), additionalProperties: false, required: ['name'] };
}

export function resourceTypeAssociationsSchema(): Schema {
  return collection('resource_type_associations', 'resource_type_associations', { type: 'array', items: { name: 'resource_type_association', properties: associationProperties(), additionalProperties: false, required: ['name'] } }, false);
}

export function objectSchema(): Schema {
  return { name: 'object', properties: objectProperties(), additionalProperties: false, definitions: { ...definitions(), property: propertyMap() }, required: ['name'] };
}

export function objectsSchema(): Schema {
  return collection('objects', 'objects', { type: 'array', items: { name: 'object', properties: objectProperties(), additionalProperties: false, required: ['name'] } }, true);
}

export function propertySchema(): Schema {
  return { name: 'property', properties: propertyFields(), additionalProperties: false, definitions: definitions(true), required: ['type', 'title', 'name'] };
}

export function propertiesSchema(): Schema {
  return {
    ...collection('properties', 'properties', { type: 'object', additionalProperties: { name: 'property', properties: propertyFields(), additionalProperties: false, required: ['type', 'title'] } }, false),
    definitions: definitions(true),
  };
}

export function tagSchema(): Schema {
  return { name: 'tag', properties: tagProperties(), additionalProperties: false, required: ['name'] };
}

export function tagsSchema(): Schema {
  return collection('tags', 'tags', { type: 'array', items: { name: 'tag', properties: tagProperties(), additionalProperties: false, required: ['name'] } }, false);
}

/** By the name in /v2/schemas/metadefs/{schema_name}. */
export const METADEF_SCHEMAS: Readonly<Record<string, () => Schema>> = {
  namespace: namespaceSchema,
  namespaces: namespacesSchema,
  resource_type: resourceTypeAssociationSchema,
  resource_types: resourceTypeAssociationsSchema,
  object: objectSchema,
  objects: objectsSchema,
  property: propertySchema,
  properties: propertiesSchema,
  tag: tagSchema,
  tags: tagsSchema,
};
