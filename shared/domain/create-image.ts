import type { Caller } from './caller.js';
import type { PolicyEngine } from './policy.js';
import { badRequest, forbidden, GlanceError } from './errors.js';
import {
  glanceTimestamp,
  MAX_METADATA_BYTES,
  MAX_PROPERTIES,
  MAX_PROPERTY_VALUE,
  MAX_TAGS,
  READ_ONLY_ATTRIBUTES,
  RESERVED_ATTRIBUTES,
  RESERVED_PREFIXES,
  NO_DATA,
  toView,
  type Image,
  type Visibility,
} from './image.js';
import { pyRepr, schemaMismatch, validateImageView } from './validate-image.js';

/**
 * Rules shared by POST /v2/images and PATCH /v2/images/{id}. Each rule is written once,
 * here, with Glance's status code and message.
 */

/** Base attributes a client may set (on create, and by patch except `id`). */
export const SETTABLE_ATTRIBUTES = [
  'name', 'visibility', 'protected', 'os_hidden', 'owner', 'min_disk', 'min_ram', 'disk_format',
  'container_format', 'tags',
] as const;
export type SettableAttribute = (typeof SETTABLE_ATTRIBUTES)[number];

export function isSettableAttribute(key: string): key is SettableAttribute {
  return (SETTABLE_ATTRIBUTES as readonly string[]).includes(key);
}

/**
 * Custom properties Glance's schema declares as nullable (`kernel_id`, `ramdisk_id`). Glance
 * stores a null for them; Skyglass keeps string properties only, so a null leaves the property unset.
 */
export const NULLABLE_PROPERTIES: readonly string[] = ['kernel_id', 'ramdisk_id'];

/** Largest min_ram/min_disk Glance's database takes (a signed 32-bit column). */
export const MAX_INT_ATTRIBUTE = 2_147_483_647;
export const MAX_PROPERTY_KEY = 255;

export const readOnly = (key: string) => forbidden(`Attribute '${key}' is read-only.`);
export const reserved = (key: string) => forbidden(`Attribute '${key}' is reserved.`);

export function isReadOnly(key: string): boolean {
  return (READ_ONLY_ATTRIBUTES as readonly string[]).includes(key);
}

export function isReserved(key: string): boolean {
  return (RESERVED_ATTRIBUTES as readonly string[]).includes(key) || RESERVED_PREFIXES.some((prefix) => key.startsWith(prefix));
}

/** 403 "Attribute 'x' is reserved." for locations, location, deleted_at, deleted and any os_glance* key. */
export function assertNotReserved(key: string): void {
  if (isReserved(key)) throw reserved(key);
}

/**
 * What PATCH may name: read-only attributes (READ_ONLY_ATTRIBUTES and `id`) → 403
 * "Attribute 'x' is read-only."; reserved ones → 403 "Attribute 'x' is reserved.".
 */
export function assertWritableAttribute(key: string): void {
  if (key === 'id' || isReadOnly(key)) throw readOnly(key);
  assertNotReserved(key);
}

/** A custom property's name: reserved → 403; longer than 255 characters → 400 (Glance LP #1737952). */
export function checkPropertyKey(key: string): void {
  assertNotReserved(key);
  if (key.length > MAX_PROPERTY_KEY) {
    throw badRequest('Custom property should not be greater than 255 characters.');
  }
}

/** A custom property's value: a string of at most MAX_PROPERTY_VALUE characters. */
export function checkPropertyValue(value: unknown): string {
  if (typeof value !== 'string') throw schemaMismatch(`${pyRepr(value)} is not of type 'string'`);
  if (value.length > MAX_PROPERTY_VALUE) throw schemaMismatch(`${pyRepr(value)} is too long`);
  return value;
}

/** min_ram / min_disk: an integer, not negative, within Glance's column range. */
export function checkNonNegativeInt(param: string, value: unknown): number {
  if (typeof value !== 'number' || !Number.isInteger(value)) {
    throw schemaMismatch(`${pyRepr(value)} is not of type 'integer'`);
  }
  if (value < 0) throw badRequest(`Invalid value '${value}' for parameter '${param}': Cannot be a negative value`);
  if (value > MAX_INT_ATTRIBUTE) {
    throw badRequest(`'${param}' value out of range, must not exceed ${MAX_INT_ATTRIBUTE}.`);
  }
  return value === 0 ? 0 : value; // folds -0
}

/** Glance's image_tag_quota: 413 with Glance's wording. */
export function checkTagCount(count: number): void {
  if (count > MAX_TAGS) {
    throw new GlanceError(
      413,
      `The limit has been exceeded on the number of allowed image tags. Attempted: ${count}, Maximum: ${MAX_TAGS}`,
    );
  }
}

/** Glance's image_property_quota: 413 with Glance's wording. */
export function checkPropertyCount(count: number): void {
  if (count > MAX_PROPERTIES) {
    throw new GlanceError(
      413,
      `The limit has been exceeded on the number of allowed image properties. Attempted: ${count}, Maximum: ${MAX_PROPERTIES}`,
    );
  }
}

/** Tags: an array of strings of at most 255 characters, kept as a set (first occurrence wins the order). */
export function normalizeTags(value: unknown): string[] {
  if (!Array.isArray(value)) throw schemaMismatch(`${pyRepr(value)} is not of type 'array'`);
  const tags = new Set<string>();
  for (const tag of value) {
    if (typeof tag !== 'string') throw schemaMismatch(`${pyRepr(tag)} is not of type 'string'`);
    if (tag.length > 255) throw schemaMismatch(`${pyRepr(tag)} is too long`);
    tags.add(tag);
  }
  checkTagCount(tags.size);
  return [...tags];
}

/**
 * The rule a visibility needs besides modify_image/add_image (Glance's
 * _enforce_image_visibility): public needs publicize_image, community communitize_image.
 */
export function visibilityRule(visibility: unknown): 'publicize_image' | 'communitize_image' | undefined {
  if (visibility === 'public') return 'publicize_image';
  if (visibility === 'community') return 'communitize_image';
  return undefined;
}

/**
 * Glance's ImageAPIPolicy.add_image on the proposed image: add_image (its 403 names the owner
 * when the caller asked for another project's), then the visibility's own rule.
 */
function authorizeCreate(policy: PolicyEngine, caller: Caller, owner: string | null, visibility: unknown): void {
  // Glance's proposed target: project_id = owner, and visibility as asked (private if not).
  const target = { project_id: owner, owner, visibility: (visibility as string | undefined) ?? 'private' };
  if (!policy.allows('add_image', caller, target)) {
    if (owner !== caller.projectId) throw forbidden(`You are not permitted to create images owned by '${owner ?? 'None'}'.`);
    throw forbidden('You are not authorized to complete add_image action.');
  }
  const rule = visibilityRule(visibility);
  if (rule && !policy.allows(rule, caller, target)) throw forbidden(`You are not authorized to complete ${rule} action.`);
}

/** Keeps one item within DynamoDB's 400 KB limit, so an image is never half-written. */
export function checkMetadataSize(image: Image): void {
  const bytes = new TextEncoder().encode(JSON.stringify(image)).length;
  if (bytes > MAX_METADATA_BYTES) {
    throw new GlanceError(413, `Image metadata is too large: ${bytes} bytes, the maximum is ${MAX_METADATA_BYTES}.`);
  }
}

/**
 * A properties record that cannot reach Object.prototype: no prototype, so a key such as
 * `__proto__` or `constructor` is an ordinary own property.
 */
export function propertiesRecord(entries: Iterable<readonly [string, string]>): Record<string, string> {
  const record = Object.create(null) as Record<string, string>;
  for (const [key, value] of entries) {
    Object.defineProperty(record, key, { value, enumerable: true, writable: true, configurable: true });
  }
  return record;
}

/** An object for schema validation built from own entries only (never through a setter). */
export function plainRecord(entries: Iterable<readonly [string, unknown]>): Record<string, unknown> {
  const record = Object.create(null) as Record<string, unknown>;
  for (const [key, value] of entries) {
    Object.defineProperty(record, key, { value, enumerable: true, writable: true, configurable: true });
  }
  return record;
}

function isPlainObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/**
 * A new image from a POST /v2/images body, following Glance's order of checks: read-only
 * attributes (403), reserved ones (403), the image schema (400), property names (400),
 * owner and visibility policy (403), min_ram/min_disk (400), then the quotas (413).
 */
export function buildNewImage(body: unknown, caller: Caller, policy: PolicyEngine, now: Date, newId: () => string): Image {
  if (Array.isArray(body)) {
    // Glance answers 500 here (it pops from a list); a schema error is what it means.
    throw schemaMismatch(`${pyRepr(body)} is not of type 'object'`);
  }
  if (!isPlainObject(body)) throw badRequest('Unexpected body type. Expected list/dict.');
  // Own keys only, held in a Map: `__proto__` and friends stay plain names.
  const fields = new Map<string, unknown>(Object.entries(body));

  for (const key of READ_ONLY_ATTRIBUTES) {
    // Glance silently drops os_hash_algo / os_hash_value from a create body.
    if (key === 'os_hash_algo' || key === 'os_hash_value') continue;
    if (fields.has(key)) throw readOnly(key);
  }
  fields.delete('os_hash_algo');
  fields.delete('os_hash_value');
  for (const key of fields.keys()) assertNotReserved(key);

  validateImageView(plainRecord(fields));

  const properties = new Map<string, string>();
  for (const [key, value] of fields) {
    if (key === 'id' || isSettableAttribute(key)) continue;
    checkPropertyKey(key);
    if (value === null && NULLABLE_PROPERTIES.includes(key)) continue;
    properties.set(key, checkPropertyValue(value));
  }

  // An admin (by the policy's add_image) may create an image for any project, others for their own.
  const owner = fields.has('owner') ? (fields.get('owner') as string | null) : caller.projectId;
  authorizeCreate(policy, caller, owner, fields.get('visibility'));
  const visibility = (fields.get('visibility') as Visibility | undefined) ?? 'shared';

  const minDisk = fields.has('min_disk') ? checkNonNegativeInt('min_disk', fields.get('min_disk')) : 0;
  const minRam = fields.has('min_ram') ? checkNonNegativeInt('min_ram', fields.get('min_ram')) : 0;
  const tags = fields.has('tags') ? normalizeTags(fields.get('tags')) : [];
  checkPropertyCount(properties.size);

  // The schema let only a UUID through; stored in lower case so no other case can reuse it.
  const id = fields.has('id') ? (fields.get('id') as string).toLowerCase() : newId();
  const timestamp = glanceTimestamp(now);
  const image: Image = {
    id,
    name: (fields.get('name') as string | null | undefined) ?? null,
    status: 'queued',
    visibility,
    protected: (fields.get('protected') as boolean | undefined) ?? false,
    os_hidden: (fields.get('os_hidden') as boolean | undefined) ?? false,
    owner,
    checksum: null,
    os_hash_algo: null,
    os_hash_value: null,
    size: null,
    virtual_size: null,
    min_disk: minDisk,
    min_ram: minRam,
    disk_format: (fields.get('disk_format') as string | null | undefined) ?? null,
    container_format: (fields.get('container_format') as string | null | undefined) ?? null,
    tags,
    created_at: timestamp,
    updated_at: timestamp,
    properties: propertiesRecord(properties),
    ...NO_DATA,
    version: 1,
  };
  checkMetadataSize(image);
  validateImageView(toView(image));
  return image;
}
