import type { Caller } from './caller.js';
import { enforceOnImage, imageTarget, type ImageForCaller } from './image-access.js';
import type { PolicyEngine } from './policy.js';
import {
  assertWritableAttribute,
  checkMetadataSize,
  checkNonNegativeInt,
  checkPropertyCount,
  checkPropertyKey,
  checkPropertyValue,
  isSettableAttribute,
  normalizeTags,
  NULLABLE_PROPERTIES,
  plainRecord,
  propertiesRecord,
  visibilityRule,
} from './create-image.js';
import { badRequest, conflict, forbidden, GlanceError } from './errors.js';
import { toView, type Image, type Visibility } from './image.js';
import { parseJsonBody } from './json-body.js';
import { validateImageView } from './validate-image.js';

/**
 * Glance's JSON-patch for PATCH /v2/images/{id} (glance/api/v2/images.py RequestDeserializer.update
 * and ImagesController.update): two media types, one-segment pointers, add/remove/replace only.
 */

export const PATCH_MEDIA_TYPES = [
  'application/openstack-images-v2.0-json-patch',
  'application/openstack-images-v2.1-json-patch',
] as const;

const ACCEPT_PATCH = PATCH_MEDIA_TYPES.join(', ');
const SUPPORTED_OPS = ['add', 'remove', 'replace'] as const;
export type PatchOpName = (typeof SUPPORTED_OPS)[number];

/** One parsed change. */
export interface PatchOp {
  op: PatchOpName;
  /** The attribute named by the pointer, decoded (`/a~1b` → `a/b`). */
  path: string;
  /** Present for add and replace. */
  value?: unknown;
  /**
   * The 2.0 media type (JSON-schema draft 4 semantics): `add` of an attribute that already
   * exists is a 409 "Property x already present." instead of a replace.
   */
  strictAdd?: boolean;
}

const own = (object: object, key: string) => Object.prototype.hasOwnProperty.call(object, key);

function isPlainObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

const MAX_SHOWN_CHARS = 255;

/** A value as a message shows it: JSON for non-strings, cut to MAX_SHOWN_CHARS. */
function show(value: unknown): string {
  const text = typeof value === 'string' ? value : (JSON.stringify(value) ?? String(value));
  return text.length > MAX_SHOWN_CHARS ? `${text.slice(0, MAX_SHOWN_CHARS)}...` : text;
}

/**
 * Parses and statically checks a PATCH request. Everything that does not depend on the image
 * (pointer syntax, read-only/reserved names, value shapes) fails here, as in Glance, before any
 * change is applied.
 * @throws GlanceError 415 (with Accept-Patch), 400, 403
 */
export function parsePatch(contentType: string | undefined, body: Uint8Array | string | undefined): PatchOp[] {
  const mediaType = (contentType ?? '').split(';')[0]!.trim();
  const version = mediaType.toLowerCase();
  if (!(PATCH_MEDIA_TYPES as readonly string[]).includes(version)) {
    throw new GlanceError(415, `The request media type ${mediaType} is not supported by this server.`, {
      'Accept-Patch': ACCEPT_PATCH,
    });
  }
  const draft4 = version === PATCH_MEDIA_TYPES[0];

  const parsed = parseJsonBody(body);
  if (!Array.isArray(parsed)) throw badRequest('Request body must be a JSON array of operation objects.');

  return parsed.map((raw: unknown) => {
    if (!isPlainObject(raw)) throw badRequest('Operations must be JSON objects.');
    const { op, pointer } = draft4 ? operationDraft4(raw) : operationDraft10(raw);
    const path = decodePointer(pointer);
    const change: PatchOp = { op, path };
    if (op !== 'remove') {
      if (!own(raw, 'value')) throw badRequest(`Operation "${op}" requires a member named "value".`);
      change.value = raw.value;
    }
    if (draft4) change.strictAdd = true;
    checkOp(change);
    return change;
  });
}

/** v2.1: `{"op": "replace", "path": "/name", "value": ...}`. */
function operationDraft10(raw: Record<string, unknown>): { op: PatchOpName; pointer: unknown } {
  const available = SUPPORTED_OPS.join(', ');
  if (!own(raw, 'op')) {
    throw badRequest(`Unable to find \`op\` in JSON Schema change. It must be one of the following: ${available}.`);
  }
  const op = raw.op;
  if (typeof op !== 'string' || !(SUPPORTED_OPS as readonly string[]).includes(op)) {
    // move, copy and test are valid RFC 6902 but Glance does not support them.
    throw badRequest(`Invalid operation: \`${show(op)}\`. It must be one of the following: ${available}.`);
  }
  if (!own(raw, 'path')) throw badRequest("Unable to find 'path' in JSON Schema change");
  return { op: op as PatchOpName, pointer: raw.path };
}

/** v2.0: `{"replace": "/name", "value": ...}`. */
function operationDraft4(raw: Record<string, unknown>): { op: PatchOpName; pointer: unknown } {
  const present = SUPPORTED_OPS.filter((name) => own(raw, name));
  if (present.length > 1) {
    throw badRequest('Operation objects must contain only one member named "add", "remove", or "replace".');
  }
  const op = present[0];
  if (op === undefined) {
    throw badRequest('Operation objects must contain exactly one member named "add", "remove", or "replace".');
  }
  return { op, pointer: raw[op] };
}

/**
 * A strict RFC 6901 pointer of exactly one segment (`~1` → `/`, `~0` → `~`), with Glance's
 * messages for the malformed ones. A whole attribute only: `/tags/-` is refused, as in Glance.
 */
export function decodePointer(pointer: unknown): string {
  if (typeof pointer !== 'string') {
    throw badRequest(`Invalid JSON pointer for this resource: '${show(pointer)}'`);
  }
  if (!pointer.startsWith('/')) throw badRequest(`Pointer \`${pointer}\` does not start with "/".`);
  if (/\/\s*?\//.test(pointer.slice(1))) throw badRequest(`Pointer \`${pointer}\` contains adjacent "/".`);
  if (pointer.length > 1 && pointer.endsWith('/')) throw badRequest(`Pointer \`${pointer}\` end with "/".`);
  if (/~[^01]/.test(pointer) || pointer.endsWith('~')) {
    throw badRequest(`Pointer \`${pointer}\` contains "~" not part of a recognized escape sequence.`);
  }
  const segments = pointer
    .slice(1)
    .split('/')
    .map((segment) => segment.replace(/~1/g, '/').replace(/~0/g, '~'));
  if (segments.length !== 1) throw badRequest(`Invalid JSON pointer for this resource: '/${segments.join('/')}'`);
  return segments[0]!;
}

/** The image-independent checks of one change: names (403) and the value's shape (400). */
function checkOp(change: PatchOp): void {
  assertWritableAttribute(change.path);
  if (change.op === 'remove') return;
  validateImageView(plainRecord([[change.path, change.value]]));
}

/** What the policy says about the changes to one image (Glance's ImageAPIPolicy for it). */
export interface PatchPolicy {
  /** Glance's context is_admin (context_is_admin): only an admin changes the owner. */
  isAdmin: boolean;
  /** Throws Glance's 403 (or 404 when the caller may not even get_image) unless `rule` allows. */
  enforce(rule: string): void;
  /** Throws 403 unless the visibility's rule allows (Glance's _enforce_image_visibility: never 404). */
  enforceVisibility(rule: string): void;
}

/** The PatchPolicy of `found` for `caller`: each rule enforced as ImageAPIPolicy._enforce does. */
export function patchPolicyFor(policy: PolicyEngine, caller: Caller, found: ImageForCaller, notFoundMessage: string): PatchPolicy {
  return {
    isAdmin: policy.isAdmin(caller),
    enforce: (rule) => void enforceOnImage(policy, rule, caller, found, notFoundMessage),
    enforceVisibility: (rule) => {
      if (!policy.allows(rule, caller, imageTarget(found))) throw forbidden(`You are not authorized to complete ${rule} action.`);
    },
  };
}

/**
 * Applies the changes in order to a copy of `image` (the input is never mutated) and validates
 * the result. Leaves `version` and `updated_at` alone: the use case bumps them on write. Each
 * change is authorized as Glance's update_property does: owner by admins only, then the
 * visibility's own rule (publicize_image, communitize_image), then modify_image; so a patch
 * with no changes asks no rule.
 * @throws GlanceError 400, 403, 404, 409, 413
 */
export function applyPatch(image: Image, ops: PatchOp[], policy: PatchPolicy): Image {
  const next: Image = { ...image, tags: [...image.tags] };
  // A Map keeps `__proto__`, `constructor`, ... as plain keys.
  const properties = new Map<string, string>(Object.entries(image.properties));
  const before = properties.size;

  for (const change of ops) {
    checkOp(change);
    const name = change.path;
    if (change.op === 'remove') {
      policy.enforce('modify_image');
      if (isSettableAttribute(name)) throw forbidden(`Property ${name} may not be removed.`);
      if (!properties.delete(name)) throw conflict(`Property ${name} does not exist.`);
      continue;
    }
    if (name === 'owner' && !policy.isAdmin) throw forbidden("Owner can't be updated by non admin.");
    const rule = name === 'visibility' ? visibilityRule(change.value) : undefined;
    if (rule) policy.enforceVisibility(rule);
    policy.enforce('modify_image');
    const exists = isSettableAttribute(name) || properties.has(name);
    if (change.op === 'add' && change.strictAdd && exists) throw conflict(`Property ${name} already present.`);
    if (change.op === 'replace' && !exists) throw conflict(`Property ${name} does not exist.`);
    if (isSettableAttribute(name)) {
      setAttribute(next, name, change.value);
    } else {
      checkPropertyKey(name);
      if (change.value === null && NULLABLE_PROPERTIES.includes(name)) properties.delete(name);
      else properties.set(name, checkPropertyValue(change.value));
    }
  }

  // Glance enforces image_property_quota only when a change adds properties.
  if (properties.size > before) checkPropertyCount(properties.size);
  next.properties = propertiesRecord(properties);
  checkMetadataSize(next);
  validateImageView(toView(next));
  return next;
}

function setAttribute(image: Image, name: string, value: unknown): void {
  switch (name) {
    case 'name':
      image.name = value as string | null;
      return;
    case 'visibility':
      image.visibility = value as Visibility;
      return;
    case 'protected':
    case 'os_hidden':
      if (typeof value !== 'boolean') throw badRequest(`Invalid value for '${name}': must be a boolean`);
      image[name] = value;
      return;
    case 'owner':
      image.owner = value as string | null;
      return;
    case 'min_disk':
    case 'min_ram':
      image[name] = checkNonNegativeInt(name, value);
      return;
    case 'disk_format':
    case 'container_format':
      // Glance's domain setter: formats change only before data exists (even to the same value).
      if (image.status !== 'queued' && image.status !== 'importing') {
        throw forbidden(`Attribute ${name} can be only replaced for a queued image.`);
      }
      image[name] = value as string | null;
      return;
    case 'tags':
      image.tags = normalizeTags(value);
      return;
    default:
      throw new Error(`unhandled attribute ${name}`);
  }
}
