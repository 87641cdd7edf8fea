import { sampleImage } from '../support/sample-image.js';
import { describe, expect, it } from 'vitest';
import { GlanceError } from '../../shared/domain/errors.js';
import { CONTAINER_FORMATS, DISK_FORMATS, toView, type Image } from '../../shared/domain/image.js';
import { imageSchema, imagesSchema } from '../../shared/domain/image-schema.js';
import { pyRepr, validateImageView } from '../../shared/domain/validate-image.js';
import { IMAGE_STATUSES } from '../../shared/domain/status.js';

type Props = Record<string, Record<string, unknown>>;
const props = (schema: Record<string, unknown>) => schema.properties as Props;

const BASE = [
  'id', 'name', 'status', 'visibility', 'protected', 'os_hidden', 'checksum', 'os_hash_algo', 'os_hash_value',
  'owner', 'size', 'virtual_size', 'container_format', 'disk_format', 'created_at', 'updated_at', 'tags',
  'direct_url', 'min_ram', 'min_disk', 'self', 'file', 'schema', 'locations',
];
const NON_BASE = [
  'kernel_id', 'ramdisk_id', 'instance_uuid', 'architecture', 'os_distro', 'os_version', 'description',
  'cinder_encryption_key_id', 'cinder_encryption_key_deletion_policy',
];
const READ_ONLY = [
  'status', 'checksum', 'os_hash_algo', 'os_hash_value', 'size', 'virtual_size', 'created_at', 'updated_at',
  'direct_url', 'self', 'file', 'schema',
];
const ID = '0b0c2f6e-6f0a-4d57-9a43-2a1f8b1c9d10';

const image = (overrides: Partial<Image> = {}) => sampleImage({ id: ID, ...overrides });

function schemaError(fn: () => void): GlanceError {
  try {
    fn();
  } catch (error) {
    expect(error).toBeInstanceOf(GlanceError);
    expect((error as GlanceError).status).toBe(400);
    expect((error as GlanceError).message.startsWith("Provided object does not match schema 'image': ")).toBe(true);
    return error as GlanceError;
  }
  throw new Error('expected a schema error');
}
const reason = (fn: () => void) => schemaError(fn).message.replace("Provided object does not match schema 'image': ", '');

describe('imageSchema()', () => {
  const schema = imageSchema();

  it('is named image, has every base and Glance non-base property, and nothing else', () => {
    expect(schema.name).toBe('image');
    expect(Object.keys(props(schema)).sort()).toEqual([...BASE, ...NON_BASE].sort());
  });

  it('has no stores property (it breaks glanceclient), and locations as Glance describes it (no image ever shows one)', () => {
    expect(props(schema)).not.toHaveProperty('stores');
    const locations = props(schema).locations as Record<string, any>;
    expect(locations.type).toBe('array');
    expect(locations.items.required).toEqual(['url', 'metadata']);
    expect(locations.items.properties.url).toEqual({ type: 'string', maxLength: 255 });
    expect(locations.items.properties.validation_data).toMatchObject({ type: 'object', writeOnly: true, additionalProperties: false, required: ['os_hash_algo', 'os_hash_value'] });
  });

  it('marks exactly the server-set attributes readOnly', () => {
    for (const [key, value] of Object.entries(props(schema))) {
      expect(value.readOnly === true, key).toBe(READ_ONLY.includes(key));
    }
  });

  it("uses Glance's types, enums and lengths", () => {
    const p = props(schema);
    expect(p.name).toMatchObject({ type: ['null', 'string'], maxLength: 255 });
    expect(p.owner).toMatchObject({ type: ['null', 'string'], maxLength: 255 });
    expect(p.tags).toMatchObject({ type: 'array', items: { type: 'string', maxLength: 255 } });
    expect(p.checksum).toMatchObject({ type: ['null', 'string'], maxLength: 32 });
    expect(p.os_hash_algo).toMatchObject({ type: ['null', 'string'], maxLength: 64 });
    expect(p.os_hash_value).toMatchObject({ type: ['null', 'string'], maxLength: 128 });
    expect(p.size).toMatchObject({ type: ['null', 'integer'] });
    expect(p.virtual_size).toMatchObject({ type: ['null', 'integer'] });
    expect(p.min_ram).toMatchObject({ type: 'integer' });
    expect(p.min_disk).toMatchObject({ type: 'integer' });
    expect(p.protected).toMatchObject({ type: 'boolean' });
    expect(p.os_hidden).toMatchObject({ type: 'boolean' });
    expect(p.visibility!.enum).toEqual(['community', 'public', 'private', 'shared']);
    expect([...(p.status!.enum as string[])].sort()).toEqual([...IMAGE_STATUSES].sort());
    expect(p.disk_format).toMatchObject({ type: ['null', 'string'], enum: [null, ...DISK_FORMATS] });
    expect(p.container_format).toMatchObject({ type: ['null', 'string'], enum: [null, ...CONTAINER_FORMATS] });
    expect(p.id!.pattern).toBe(
      '^([0-9a-fA-F]){8}-([0-9a-fA-F]){4}-([0-9a-fA-F]){4}-([0-9a-fA-F]){4}-([0-9a-fA-F]){12}$',
    );
  });

  it('marks the schema-image.json properties is_base: false, and only those', () => {
    for (const [key, value] of Object.entries(props(schema))) {
      if (NON_BASE.includes(key)) expect(value.is_base, key).toBe(false);
      else expect(value, key).not.toHaveProperty('is_base');
    }
    expect(props(schema).kernel_id).toMatchObject({ type: ['null', 'string'], pattern: props(schema).id!.pattern });
    expect(props(schema).ramdisk_id).toMatchObject({ type: ['null', 'string'], pattern: props(schema).id!.pattern });
    expect(props(schema).cinder_encryption_key_deletion_policy!.enum).toEqual(['on_image_deletion', 'do_not_delete']);
  });

  it('takes any other property as a string, and links self/enclosure/describedby', () => {
    expect(schema.additionalProperties).toEqual({ type: 'string' });
    expect(schema.links).toEqual([
      { rel: 'self', href: '{self}' },
      { rel: 'enclosure', href: '{file}' },
      { rel: 'describedby', href: '{schema}' },
    ]);
  });

  it('is plain JSON and a fresh object on each call', () => {
    expect(JSON.parse(JSON.stringify(schema))).toEqual(schema);
    const mine = imageSchema();
    (props(mine).name as Record<string, unknown>).maxLength = 1;
    delete props(mine).visibility;
    expect(imageSchema()).toEqual(schema);
    // Validation does not follow a caller's copy either.
    expect(() => validateImageView({ name: 'longer than one' })).not.toThrow();
  });
});

describe('imagesSchema()', () => {
  it('lists images with first/next/schema links', () => {
    const schema = imagesSchema();
    expect(schema.name).toBe('images');
    expect(props(schema)).toEqual({
      images: { type: 'array', items: imageSchema() },
      first: { type: 'string' },
      next: { type: 'string' },
      schema: { type: 'string' },
    });
    expect(schema.links).toEqual([
      { rel: 'first', href: '{first}' },
      { rel: 'next', href: '{next}' },
      { rel: 'describedby', href: '{schema}' },
    ]);
    expect(JSON.parse(JSON.stringify(schema))).toEqual(schema);
  });
});

describe('validateImageView()', () => {
  it('accepts a full image view with custom properties', () => {
    const view = toView(image({ properties: { foo: 'bar', kernel_id: ID, os_distro: 'debian' }, tags: ['a'] }));
    expect(() => validateImageView(view)).not.toThrow();
    expect(() => validateImageView({})).not.toThrow();
    expect(() => validateImageView({ kernel_id: null, ramdisk_id: null })).not.toThrow();
  });

  it('names a bad enum value with the allowed ones, as jsonschema does', () => {
    expect(reason(() => validateImageView({ visibility: 'bogus' }))).toBe(
      "'bogus' is not one of ['community', 'public', 'private', 'shared']",
    );
    expect(reason(() => validateImageView({ container_format: 'zip' }))).toBe(
      "'zip' is not one of [None, 'ami', 'ari', 'aki', 'bare', 'ovf', 'ova', 'docker', 'compressed']",
    );
    expect(reason(() => validateImageView(toView(image({ status: 'bogus' as never }))))).toMatch(
      /^'bogus' is not one of \['queued', /,
    );
  });

  it('says a string is too long, cutting the echoed value', () => {
    const message = reason(() => validateImageView({ name: 'x'.repeat(256) }));
    expect(message).toBe(`'${'x'.repeat(255)}...' is too long`);
    expect(reason(() => validateImageView({ tags: ['ok', 'y'.repeat(300)] }))).toMatch(/^'y+\.\.\.' is too long$/);
    expect(() => validateImageView({ name: 'x'.repeat(255), owner: 'o'.repeat(255), tags: ['t'.repeat(255)] })).not.toThrow();
    expect(reason(() => validateImageView({ owner: 'o'.repeat(256) }))).toMatch(/is too long$/);
  });

  it('reports wrong types with Python-style values', () => {
    expect(reason(() => validateImageView({ foo: 5 }))).toBe("5 is not of type 'string'");
    expect(reason(() => validateImageView({ foo: null }))).toBe("None is not of type 'string'");
    expect(reason(() => validateImageView({ foo: { a: [true] } }))).toBe("{'a': [True]} is not of type 'string'");
    expect(reason(() => validateImageView({ name: 5 }))).toBe("5 is not of type 'null', 'string'");
    expect(reason(() => validateImageView({ protected: 'yes' }))).toBe("'yes' is not of type 'boolean'");
    expect(reason(() => validateImageView({ min_ram: 1.5 }))).toBe("1.5 is not of type 'integer'");
    expect(reason(() => validateImageView({ min_disk: null }))).toBe("None is not of type 'integer'");
    expect(reason(() => validateImageView({ size: 'big' }))).toBe("'big' is not of type 'null', 'integer'");
    expect(reason(() => validateImageView({ tags: 'a' }))).toBe("'a' is not of type 'array'");
    expect(reason(() => validateImageView({ tags: [1] }))).toBe("1 is not of type 'string'");
    expect(reason(() => validateImageView([] as never))).toBe("[] is not of type 'object'");
  });

  it('checks patterns of id, kernel_id and ramdisk_id', () => {
    const pattern = "'^([0-9a-fA-F]){8}-([0-9a-fA-F]){4}-([0-9a-fA-F]){4}-([0-9a-fA-F]){4}-([0-9a-fA-F]){12}$'";
    expect(reason(() => validateImageView({ id: 'abc' }))).toBe(`'abc' does not match ${pattern}`);
    expect(reason(() => validateImageView({ id: ID.replace(/-/g, '') }))).toMatch(/does not match/);
    expect(reason(() => validateImageView({ kernel_id: 'x' }))).toBe(`'x' does not match ${pattern}`);
    expect(reason(() => validateImageView({ ramdisk_id: 'x' }))).toMatch(/does not match/);
    expect(reason(() => validateImageView({ cinder_encryption_key_deletion_policy: 'x' }))).toBe(
      "'x' is not one of ['on_image_deletion', 'do_not_delete']",
    );
    expect(() => validateImageView({ id: ID.toUpperCase() })).not.toThrow();
  });

  it('treats __proto__ as an ordinary property name', () => {
    const view = JSON.parse('{"__proto__": 5}') as Record<string, unknown>;
    expect(reason(() => validateImageView(view))).toBe("5 is not of type 'string'");
    expect(() => validateImageView(JSON.parse('{"__proto__": "x", "constructor": "y"}'))).not.toThrow();
    expect(({} as Record<string, unknown>).polluted).toBeUndefined();
  });
});

describe('pyRepr()', () => {
  it('prints values the way Python does', () => {
    expect(pyRepr(null)).toBe('None');
    expect(pyRepr(true)).toBe('True');
    expect(pyRepr(false)).toBe('False');
    expect(pyRepr(12)).toBe('12');
    expect(pyRepr("it's")).toBe("'it\\'s'");
    expect(pyRepr([null, 'a', 1])).toBe("[None, 'a', 1]");
    expect(pyRepr({ a: 'b' })).toBe("{'a': 'b'}");
  });

  it('stays small and finite for any value: deep nesting and long lists are elided', () => {
    let deep: unknown = 'x';
    for (let i = 0; i < 100_000; i++) deep = [deep];
    expect(pyRepr(deep)).toBe('[[[[[[[[[...]]]]]]]]]');
    const wide = Array.from({ length: 1_000_000 }, (_, i) => i);
    expect(pyRepr(wide)).toMatch(/^\[0, 1, 2, .*, 31, \.\.\.\]$/);
    expect(pyRepr(Object.fromEntries(wide.slice(0, 100).map((i) => [`k${i}`, i])))).toMatch(/'k31': 31, \.\.\.\}$/);
  });
});

describe('generated validator', () => {
  it('is up to date with imageSchema() (regenerate with npm run codegen)', async () => {
    const { readFileSync } = await import('node:fs');
    const { imageValidatorSource } = await import('../../infra/codegen/image-validator.js');
    expect(readFileSync('shared/domain/generated/image-validator.js', 'utf8')).toBe(imageValidatorSource());
  });
});
