import type { ErrorObject } from 'ajv';
import { badRequest } from './errors.js';
import { IMAGE_STATUSES } from './status.js';
import validateImage from './generated/image-validator.js';
import { STATUS_ENUM_ORDER } from './image-schema.js';

/**
 * Validation of image views against the image schema, with Glance's (jsonschema's) wording.
 * The validator is compiled from imageSchema() at build time (infra/codegen): no Lambda compiles
 * a schema or bundles ajv's compiler at cold start.
 */
// The status enum must stay in step with the domain's status list.
if (STATUS_ENUM_ORDER.length !== IMAGE_STATUSES.length || !IMAGE_STATUSES.every((s) => STATUS_ENUM_ORDER.includes(s))) {
  throw new Error('image schema status enum is out of step with IMAGE_STATUSES');
}

const MAX_SHOWN_CHARS = 255;
/** Nesting and items a repr shows before it elides the rest with `...`: messages stay small for any input. */
const MAX_REPR_DEPTH = 8;
const MAX_REPR_ITEMS = 32;

/**
 * A Python-style repr, as jsonschema prints values in Glance's messages
 * ('bogus', None, True, [None, 'ami']). Long strings, long lists and deep nesting are cut
 * (`...`) so an error body stays small whatever the client sent.
 */
export function pyRepr(value: unknown): string {
  return reprAt(value, 0);
}

function reprAt(value: unknown, depth: number): string {
  if (value === null || value === undefined) return 'None';
  if (value === true) return 'True';
  if (value === false) return 'False';
  if (typeof value === 'number') return String(value);
  if (typeof value === 'string') {
    const shown = value.length > MAX_SHOWN_CHARS ? `${value.slice(0, MAX_SHOWN_CHARS)}...` : value;
    return `'${shown.replace(/\\/g, '\\\\').replace(/'/g, "\\'")}'`;
  }
  if (typeof value === 'object') {
    const [open, close] = Array.isArray(value) ? ['[', ']'] : ['{', '}'];
    if (depth >= MAX_REPR_DEPTH) return `${open}...${close}`;
    const items = Array.isArray(value)
      ? value.slice(0, MAX_REPR_ITEMS + 1).map((item) => reprAt(item, depth + 1))
      : Object.entries(value as Record<string, unknown>)
          .slice(0, MAX_REPR_ITEMS + 1)
          .map(([k, v]) => `${pyRepr(k)}: ${reprAt(v, depth + 1)}`);
    if (items.length > MAX_REPR_ITEMS) items.splice(MAX_REPR_ITEMS, 1, '...');
    return `${open}${items.join(', ')}${close}`;
  }
  return String(value);
}

/** The value a JSON pointer (an ajv error's instancePath) names in `body`. */
export function valueAt(body: unknown, pointer: string): unknown {
  let value = body;
  for (const token of pointer.split('/').slice(1)) {
    if (typeof value !== 'object' || value === null) return undefined;
    value = (value as Record<string, unknown>)[token.replace(/~1/g, '/').replace(/~0/g, '~')];
  }
  return value;
}

/**
 * The first error of a validator built at build time (infra/codegen), in jsonschema's words. The
 * validators are built without ajv's `verbose` (smaller modules), so the offending value, which
 * the message quotes, is read from the validated body here.
 */
export function firstSchemaError(validate: { errors?: ErrorObject[] | null }, body: unknown): string | undefined {
  const first = validate.errors?.[0];
  return first ? describeSchemaError({ ...first, data: valueAt(body, first.instancePath) }) : undefined;
}

/** One ajv error in jsonschema's words (also the metadefs' validation messages). */
export function describeSchemaError(error: ErrorObject): string {
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
  throw schemaMismatch(firstSchemaError(validateImage, view) ?? 'invalid object');
}
