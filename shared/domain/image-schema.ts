import { Ajv, type ErrorObject, type ValidateFunction } from 'ajv';
import { badRequest } from './errors.js';
import { CONTAINER_FORMATS, DISK_FORMATS } from './image.js';
import { IMAGE_STATUSES } from './status.js';

/**
 * The image JSON Schema, modelled on what Glance 25 serves at GET /v2/schemas/image
 * (base properties from glance/api/v2/images.py plus /etc/glance/schema-image.json).
 * Deliberate differences: no `stores` (glanceclient caches the schema and a `stores`
 * property then breaks every later command with "conflicting option string"), and no
 * `locations` (reserved here: Skyglass never exposes storage locations).
 */

/** Glance's id pattern: a UUID with dashes (a dashless UUID is refused). */
const UUID_SCHEMA_PATTERN =
  '^([0-9a-fA-F]){8}-([0-9a-fA-F]){4}-([0-9a-fA-F]){4}-([0-9a-fA-F]){4}-([0-9a-fA-F]){12}$';

/** Glance lists statuses in this order in its schema enum. */
const STATUS_ENUM_ORDER = ['queued', 'saving', 'active', 'killed', 'deleted', 'uploading', 'importing', 'pending_delete', 'deactivated'];

const PROPERTY_KEYS_DOC = 'https://docs.openstack.org/python-glanceclient/latest/cli/property-keys.html';

function baseProperties(): Record<string, Record<string, unknown>> {
  return {
    id: { type: 'string', description: 'An identifier for the image', pattern: UUID_SCHEMA_PATTERN },
    name: { type: ['null', 'string'], description: 'Descriptive name for the image', maxLength: 255 },
    status: { type: 'string', readOnly: true, description: 'Status of the image', enum: [...STATUS_ENUM_ORDER] },
    visibility: {
      type: 'string',
      description: 'Scope of image accessibility',
      enum: ['community', 'public', 'private', 'shared'],
    },
    protected: { type: 'boolean', description: 'If true, image will not be deletable.' },
    os_hidden: { type: 'boolean', description: 'If true, image will not appear in default image list response.' },
    checksum: { type: ['null', 'string'], readOnly: true, description: 'md5 hash of image contents.', maxLength: 32 },
    os_hash_algo: {
      type: ['null', 'string'],
      readOnly: true,
      description: 'Algorithm to calculate the os_hash_value',
      maxLength: 64,
    },
    os_hash_value: {
      type: ['null', 'string'],
      readOnly: true,
      description: 'Hexdigest of the image contents using the algorithm specified by the os_hash_algo',
      maxLength: 128,
    },
    owner: { type: ['null', 'string'], description: 'Owner of the image', maxLength: 255 },
    size: { type: ['null', 'integer'], readOnly: true, description: 'Size of image file in bytes' },
    virtual_size: { type: ['null', 'integer'], readOnly: true, description: 'Virtual size of image in bytes' },
    container_format: {
      type: ['null', 'string'],
      description: 'Format of the container',
      enum: [null, ...CONTAINER_FORMATS],
    },
    disk_format: { type: ['null', 'string'], description: 'Format of the disk', enum: [null, ...DISK_FORMATS] },
    created_at: { type: 'string', readOnly: true, description: 'Date and time of image registration' },
    updated_at: { type: 'string', readOnly: true, description: 'Date and time of the last image modification' },
    tags: {
      type: 'array',
      description: 'List of strings related to the image',
      items: { type: 'string', maxLength: 255 },
    },
    direct_url: {
      type: 'string',
      readOnly: true,
      description: 'URL to access the image file kept in external store',
    },
    min_ram: { type: 'integer', description: 'Amount of ram (in MB) required to boot image.' },
    min_disk: { type: 'integer', description: 'Amount of disk space (in GB) required to boot image.' },
    self: { type: 'string', readOnly: true, description: 'An image self url' },
    file: { type: 'string', readOnly: true, description: 'An image file url' },
    schema: { type: 'string', readOnly: true, description: 'An image schema url' },
  };
}

/** Glance's /etc/glance/schema-image.json: well-known custom properties, `is_base: false`. */
function nonBaseProperties(): Record<string, Record<string, unknown>> {
  return {
    kernel_id: {
      type: ['null', 'string'],
      pattern: UUID_SCHEMA_PATTERN,
      description: 'ID of image stored in Glance that should be used as the kernel when booting an AMI-style image.',
      is_base: false,
    },
    ramdisk_id: {
      type: ['null', 'string'],
      pattern: UUID_SCHEMA_PATTERN,
      description: 'ID of image stored in Glance that should be used as the ramdisk when booting an AMI-style image.',
      is_base: false,
    },
    instance_uuid: {
      type: 'string',
      description:
        'Metadata which can be used to record which instance this image is associated with. ' +
        '(Informational only, does not create an instance snapshot.)',
      is_base: false,
    },
    architecture: {
      description: `Operating system architecture as specified in ${PROPERTY_KEYS_DOC}`,
      type: 'string',
      is_base: false,
    },
    os_distro: {
      description: `Common name of operating system distribution as specified in ${PROPERTY_KEYS_DOC}`,
      type: 'string',
      is_base: false,
    },
    os_version: {
      description: 'Operating system version as specified by the distributor.',
      type: 'string',
      is_base: false,
    },
    description: { description: 'A human-readable string describing this image.', type: 'string', is_base: false },
    cinder_encryption_key_id: {
      description:
        'Identifier in the OpenStack Key Management Service for the encryption key for the Block Storage Service ' +
        'to use when mounting a volume created from this image',
      type: 'string',
      is_base: false,
    },
    cinder_encryption_key_deletion_policy: {
      description:
        "States the condition under which the Image Service will delete the object associated with the " +
        "'cinder_encryption_key_id' image property.  If this property is missing, the Image Service will take no action",
      type: 'string',
      enum: ['on_image_deletion', 'do_not_delete'],
      is_base: false,
    },
  };
}

/** Names of the schema's `is_base: false` properties (custom properties with a declared shape). */
export const NON_BASE_SCHEMA_PROPERTIES: readonly string[] = Object.keys(nonBaseProperties());

/** The JSON Schema served at GET /v2/schemas/image (a fresh object on every call). */
export function imageSchema(): Record<string, unknown> {
  return {
    name: 'image',
    properties: { ...baseProperties(), ...nonBaseProperties() },
    additionalProperties: { type: 'string' },
    links: [
      { rel: 'self', href: '{self}' },
      { rel: 'enclosure', href: '{file}' },
      { rel: 'describedby', href: '{schema}' },
    ],
  };
}

/** The JSON Schema served at GET /v2/schemas/images (a fresh object on every call). */
export function imagesSchema(): Record<string, unknown> {
  return {
    name: 'images',
    properties: {
      images: { type: 'array', items: imageSchema() },
      first: { type: 'string' },
      next: { type: 'string' },
      schema: { type: 'string' },
    },
    links: [
      { rel: 'first', href: '{first}' },
      { rel: 'next', href: '{next}' },
      { rel: 'describedby', href: '{schema}' },
    ],
  };
}

// Compiled once per process (cold start). `name`, `links` and `is_base` are Glance's
// annotations, not JSON Schema keywords: declared so ajv's strict mode accepts them.
const ajv = new Ajv({ allErrors: false, verbose: true, allowUnionTypes: true, strict: true });
ajv.addVocabulary(['name', 'links', 'is_base']);
// Glance's served schema has no top-level "type"; validation adds it (and strict mode wants it).
const validateImage: ValidateFunction = ajv.compile({ ...imageSchema(), type: 'object' });

// The status enum must stay in step with the domain's status list.
if (STATUS_ENUM_ORDER.length !== IMAGE_STATUSES.length || !IMAGE_STATUSES.every((s) => STATUS_ENUM_ORDER.includes(s))) {
  throw new Error('image schema status enum is out of step with IMAGE_STATUSES');
}

const MAX_SHOWN_CHARS = 255;

/**
 * A Python-style repr, as jsonschema prints values in Glance's messages
 * ('bogus', None, True, [None, 'ami']). Long strings are cut so an error body stays small.
 */
export function pyRepr(value: unknown): string {
  if (value === null || value === undefined) return 'None';
  if (value === true) return 'True';
  if (value === false) return 'False';
  if (typeof value === 'number') return String(value);
  if (typeof value === 'string') {
    const shown = value.length > MAX_SHOWN_CHARS ? `${value.slice(0, MAX_SHOWN_CHARS)}...` : value;
    return `'${shown.replace(/\\/g, '\\\\').replace(/'/g, "\\'")}'`;
  }
  if (Array.isArray(value)) return `[${value.map(pyRepr).join(', ')}]`;
  if (typeof value === 'object') {
    return `{${Object.entries(value as Record<string, unknown>)
      .map(([k, v]) => `${pyRepr(k)}: ${pyRepr(v)}`)
      .join(', ')}}`;
  }
  return String(value);
}

/** One ajv error in jsonschema's words. */
function describe(error: ErrorObject): string {
  const data = error.data;
  const params = error.params as Record<string, unknown>;
  switch (error.keyword) {
    case 'enum':
      return `${pyRepr(data)} is not one of ${pyRepr(params.allowedValues)}`;
    case 'type': {
      const types = String(params.type)
        .split(',')
        .map((t) => `'${t}'`)
        .join(', ');
      return `${pyRepr(data)} is not of type ${types}`;
    }
    case 'maxLength':
      return `${pyRepr(data)} is too long`;
    case 'minLength':
      return `${pyRepr(data)} is too short`;
    case 'pattern':
      return `${pyRepr(data)} does not match ${pyRepr(params.pattern)}`;
    default:
      return `${error.instancePath || 'value'} ${error.message ?? 'is invalid'}`;
  }
}

/** The message of Glance's InvalidObject: "Provided object does not match schema 'image': <reason>". */
export function schemaMismatch(reason: string) {
  return badRequest(`Provided object does not match schema 'image': ${reason}`);
}

/**
 * Validates a whole image view (or a create body) against {@link imageSchema}.
 * @throws GlanceError 400 "Provided object does not match schema 'image': <reason>"
 */
export function validateImageView(view: Record<string, unknown>): void {
  if (validateImage(view)) return;
  const first = validateImage.errors?.[0];
  throw schemaMismatch(first ? describe(first) : 'invalid object');
}
