import { describe, expect, it, vi } from 'vitest';
import { makeCaller } from '../../shared/domain/caller.js';
import {
  assertWritableAttribute,
  buildNewImage,
  checkNonNegativeInt,
  checkPropertyKey,
  normalizeTags,
} from '../../shared/domain/create-image.js';
import { GlanceError } from '../../shared/domain/errors.js';
import { defaultPolicy } from '../../shared/domain/policy.js';
import { MAX_PROPERTIES, MAX_PROPERTY_VALUE, MAX_TAGS, toView } from '../../shared/domain/image.js';

const member = makeCaller('p1', 'u1', ['member', 'reader']);
const admin = makeCaller('p1', 'u1', ['admin']);
const NOW = new Date('2024-01-02T03:04:05.678Z');
const NEW_ID = '6c8da808-6ae1-47d5-9f3c-292fcd6a9213';
const CLIENT_ID = '0b0c2f6e-6f0a-4d57-9a43-2a1f8b1c9d10';
const SCHEMA = "Provided object does not match schema 'image': ";

const create = (body: unknown, caller = member) => buildNewImage(body, caller, defaultPolicy, NOW, () => NEW_ID);
/** Bodies are parsed JSON in production; parsing keeps `__proto__` an own key. */
const fromJson = (json: string) => create(JSON.parse(json));

function failure(fn: () => unknown): GlanceError {
  try {
    fn();
  } catch (error) {
    expect(error).toBeInstanceOf(GlanceError);
    return error as GlanceError;
  }
  throw new Error('expected a GlanceError');
}
function expectError(fn: () => unknown, status: number, message: string | RegExp) {
  const error = failure(fn);
  expect(error.status).toBe(status);
  if (typeof message === 'string') expect(error.message).toBe(message);
  else expect(error.message).toMatch(message);
}

describe('buildNewImage: defaults', () => {
  it('builds Glance\'s fresh image from {}', () => {
    const newId = vi.fn(() => NEW_ID);
    const image = buildNewImage({}, member, defaultPolicy, NOW, newId);
    expect(newId).toHaveBeenCalledTimes(1);
    expect(image).toEqual({
      id: NEW_ID, name: null, status: 'queued', visibility: 'shared', protected: false, os_hidden: false,
      owner: 'p1', checksum: null, os_hash_algo: null, os_hash_value: null, size: null, virtual_size: null,
      min_disk: 0, min_ram: 0, disk_format: null, container_format: null, tags: [],
      created_at: '2024-01-02T03:04:05Z', updated_at: '2024-01-02T03:04:05Z', properties: {},
      location: null, upload: null, failure: null, version: 1,
    });
    expect(Object.keys(toView(image)).sort()).toEqual(
      ('checksum container_format created_at disk_format file id min_disk min_ram name os_hash_algo os_hash_value ' +
        'os_hidden owner protected schema self size status tags updated_at virtual_size visibility').split(' '),
    );
  });

  it('takes the settable attributes from the body', () => {
    const image = create({
      name: 'cirros', visibility: 'private', protected: true, os_hidden: true, min_ram: 512, min_disk: 1,
      disk_format: 'qcow2', container_format: 'bare', tags: ['a', 'b'],
    });
    expect(image).toMatchObject({
      name: 'cirros', visibility: 'private', protected: true, os_hidden: true, min_ram: 512, min_disk: 1,
      disk_format: 'qcow2', container_format: 'bare', tags: ['a', 'b'], status: 'queued', properties: {},
    });
  });

  it('gives a caller without a project an image owned by null', () => {
    expect(create({}, makeCaller(null, 'u1', ['member'])).owner).toBeNull();
  });

  it('does not modify the body', () => {
    const body = { name: 'n', tags: ['a', 'a'], foo: 'bar', os_hash_algo: 'md5' };
    const copy = structuredClone(body);
    const image = create(body);
    expect(body).toEqual(copy);
    expect(image.tags).not.toBe(body.tags);
  });
});

describe('buildNewImage: body shape', () => {
  it('refuses an array with a schema error (Glance 500s)', () => {
    expectError(() => create([]), 400, `${SCHEMA}[] is not of type 'object'`);
    expectError(() => create([{ name: 'x' }]), 400, /^Provided object does not match schema 'image': /);
  });

  it('refuses scalars as Glance does', () => {
    for (const body of ['x', 5, null, true, undefined]) {
      expectError(() => create(body), 400, 'Unexpected body type. Expected list/dict.');
    }
  });
});

describe('buildNewImage: read-only and reserved attributes', () => {
  for (const key of ['status', 'checksum', 'size', 'virtual_size', 'created_at', 'updated_at', 'self', 'file', 'schema', 'direct_url', 'stores']) {
    it(`403 for read-only ${key}`, () => {
      expectError(() => create({ [key]: null }), 403, `Attribute '${key}' is read-only.`);
      expectError(() => create({ [key]: 'x' }), 403, `Attribute '${key}' is read-only.`);
    });
  }

  it('silently drops os_hash_algo and os_hash_value', () => {
    const image = create({ os_hash_algo: 'sha512', os_hash_value: 'abc', name: 'n' });
    expect(image.os_hash_algo).toBeNull();
    expect(image.os_hash_value).toBeNull();
    expect(image.properties).toEqual({});
    expect(image.name).toBe('n');
  });

  for (const key of ['locations', 'location', 'deleted', 'deleted_at', 'os_glance_importing_to_stores', 'os_glance', 'os_glancex']) {
    it(`403 for reserved ${key}`, () => {
      expectError(() => create({ [key]: 'x' }), 403, `Attribute '${key}' is reserved.`);
    });
  }

  it('checks read-only before reserved, and both before the schema', () => {
    expectError(() => create({ locations: [], status: 'active' }), 403, "Attribute 'status' is read-only.");
    expectError(() => create({ status: 5 }), 403, "Attribute 'status' is read-only.");
    expectError(() => create({ locations: [{ url: 'x' }] }), 403, "Attribute 'locations' is reserved.");
    expectError(() => create({ name: 5, deleted_at: 'x' }), 403, "Attribute 'deleted_at' is reserved.");
  });
});

describe('buildNewImage: id', () => {
  it('keeps a client-chosen UUID and does not draw a new one', () => {
    const newId = vi.fn(() => NEW_ID);
    expect(buildNewImage({ id: CLIENT_ID }, member, defaultPolicy, NOW, newId).id).toBe(CLIENT_ID);
    expect(newId).not.toHaveBeenCalled();
  });

  it('stores a client-chosen UUID in lower case, so another case of it is the same id', () => {
    expect(buildNewImage({ id: CLIENT_ID.toUpperCase() }, member, defaultPolicy, NOW, () => NEW_ID).id).toBe(CLIENT_ID.toLowerCase());
  });

  it('400 for anything that is not a dashed UUID', () => {
    expectError(() => create({ id: 'abc' }), 400, new RegExp(`^${SCHEMA}'abc' does not match '\\^`));
    expectError(() => create({ id: CLIENT_ID.replace(/-/g, '') }), 400, /does not match/);
    expectError(() => create({ id: 5 }), 400, `${SCHEMA}5 is not of type 'string'`);
    expectError(() => create({ id: null }), 400, `${SCHEMA}None is not of type 'string'`);
  });
});

describe('buildNewImage: owner', () => {
  it('lets a member name its own project', () => {
    expect(create({ owner: 'p1' }).owner).toBe('p1');
  });

  it('403 when a member names another owner (or none)', () => {
    expectError(() => create({ owner: 'p2' }), 403, "You are not permitted to create images owned by 'p2'.");
    expectError(() => create({ owner: null }), 403, "You are not permitted to create images owned by 'None'.");
  });

  it('lets an admin set any owner, even null', () => {
    expect(create({ owner: 'p2' }, admin).owner).toBe('p2');
    expect(create({ owner: null }, admin).owner).toBeNull();
    expect(create({}, admin).owner).toBe('p1');
  });

  it('400 for a non-string owner', () => {
    expectError(() => create({ owner: 5 }, admin), 400, `${SCHEMA}5 is not of type 'null', 'string'`);
    expectError(() => create({ owner: 'o'.repeat(256) }, admin), 400, /is too long$/);
  });
});

describe('buildNewImage: visibility', () => {
  it('403 for public by a non-admin', () => {
    expectError(() => create({ visibility: 'public' }), 403, 'You are not authorized to complete publicize_image action.');
  });

  it('allows public for an admin and community/private/shared for anyone', () => {
    expect(create({ visibility: 'public' }, admin).visibility).toBe('public');
    for (const v of ['community', 'private', 'shared']) expect(create({ visibility: v }).visibility).toBe(v);
  });

  it('400 for an unknown visibility', () => {
    expectError(
      () => create({ visibility: 'bogus' }),
      400,
      `${SCHEMA}'bogus' is not one of ['community', 'public', 'private', 'shared']`,
    );
  });

  it('checks the owner before the visibility', () => {
    expectError(() => create({ owner: 'p2', visibility: 'public' }), 403, /owned by 'p2'/);
  });
});

describe('buildNewImage: min_ram and min_disk', () => {
  for (const param of ['min_ram', 'min_disk']) {
    it(`${param}: negative, non-integer and out-of-range values are 400`, () => {
      expectError(() => create({ [param]: -1 }), 400, `Invalid value '-1' for parameter '${param}': Cannot be a negative value`);
      expectError(() => create({ [param]: 1.5 }), 400, `${SCHEMA}1.5 is not of type 'integer'`);
      expectError(() => create({ [param]: '1' }), 400, `${SCHEMA}'1' is not of type 'integer'`);
      expectError(() => create({ [param]: null }), 400, `${SCHEMA}None is not of type 'integer'`);
      expectError(() => create({ [param]: true }), 400, `${SCHEMA}True is not of type 'integer'`);
      expectError(() => create({ [param]: 2 ** 31 }), 400, `'${param}' value out of range, must not exceed 2147483647.`);
      expect(create({ [param]: 2147483647 })[param as 'min_ram']).toBe(2147483647);
      expect(create({ [param]: 0 })[param as 'min_ram']).toBe(0);
    });
  }

  it('checkNonNegativeInt folds -0 and returns the value', () => {
    expect(Object.is(checkNonNegativeInt('min_ram', -0), 0)).toBe(true);
    expect(checkNonNegativeInt('min_disk', 7)).toBe(7);
  });
});

describe('buildNewImage: other schema checks', () => {
  it('name: null or up to 255 characters', () => {
    expect(create({ name: null }).name).toBeNull();
    expect(create({ name: 'n'.repeat(255) }).name).toHaveLength(255);
    expectError(() => create({ name: 'x'.repeat(256) }), 400, `${SCHEMA}'${'x'.repeat(255)}...' is too long`);
    expectError(() => create({ name: 5 }), 400, `${SCHEMA}5 is not of type 'null', 'string'`);
  });

  it('protected and os_hidden must be booleans', () => {
    expectError(() => create({ protected: 'yes' }), 400, `${SCHEMA}'yes' is not of type 'boolean'`);
    expectError(() => create({ os_hidden: 1 }), 400, `${SCHEMA}1 is not of type 'boolean'`);
  });

  it('formats come from Glance\'s lists', () => {
    expectError(() => create({ disk_format: 'bogus' }), 400, /^Provided object .*'bogus' is not one of \[None, 'ami'/);
    expectError(() => create({ container_format: 'bogus' }), 400, /'bogus' is not one of \[None, 'ami', 'ari', 'aki', 'bare'/);
    expect(create({ disk_format: null, container_format: null }).disk_format).toBeNull();
  });
});

describe('buildNewImage: tags', () => {
  it('keeps set semantics', () => {
    expect(create({ tags: ['a', 'a', 'b', 'a'] }).tags).toEqual(['a', 'b']);
    expect(create({ tags: [] }).tags).toEqual([]);
  });

  it('400 for a non-array, non-string items and tags over 255 characters', () => {
    expectError(() => create({ tags: 'a' }), 400, `${SCHEMA}'a' is not of type 'array'`);
    expectError(() => create({ tags: [1] }), 400, `${SCHEMA}1 is not of type 'string'`);
    expectError(() => create({ tags: ['t'.repeat(256)] }), 400, /is too long$/);
    expect(create({ tags: ['t'.repeat(255)] }).tags[0]).toHaveLength(255);
  });

  it(`413 above ${MAX_TAGS} distinct tags`, () => {
    const tags = (n: number) => Array.from({ length: n }, (_, i) => `t${i}`);
    expect(create({ tags: tags(MAX_TAGS) }).tags).toHaveLength(MAX_TAGS);
    expect(create({ tags: [...tags(MAX_TAGS), 't0', 't1'] }).tags).toHaveLength(MAX_TAGS);
    expectError(
      () => create({ tags: tags(MAX_TAGS + 1) }),
      413,
      `The limit has been exceeded on the number of allowed image tags. Attempted: ${MAX_TAGS + 1}, Maximum: ${MAX_TAGS}`,
    );
  });

  it('normalizeTags returns a new array', () => {
    const input = ['x'];
    expect(normalizeTags(input)).not.toBe(input);
  });
});

describe('buildNewImage: custom properties', () => {
  it('keeps every other key as a string property', () => {
    const image = create({ foo: 'bar', os_distro: 'debian', description: '', '': 'empty key', ' a ': 'spaces' });
    expect(image.properties).toEqual({ foo: 'bar', os_distro: 'debian', description: '', '': 'empty key', ' a ': 'spaces' });
    expect(toView(image)).toMatchObject({ foo: 'bar', os_distro: 'debian' });
  });

  it('400 for non-string values', () => {
    expectError(() => create({ foo: 5 }), 400, `${SCHEMA}5 is not of type 'string'`);
    expectError(() => create({ foo: null }), 400, `${SCHEMA}None is not of type 'string'`);
    expectError(() => create({ foo: {} }), 400, `${SCHEMA}{} is not of type 'string'`);
    expectError(() => create({ foo: ['a'] }), 400, `${SCHEMA}['a'] is not of type 'string'`);
    expectError(() => create({ os_distro: 5 }), 400, `${SCHEMA}5 is not of type 'string'`);
  });

  it('checks the schema\'s well-known properties', () => {
    expectError(() => create({ kernel_id: 'abc' }), 400, /'abc' does not match/);
    expectError(() => create({ cinder_encryption_key_deletion_policy: 'x' }), 400, /is not one of \['on_image_deletion'/);
    expect(create({ kernel_id: CLIENT_ID, ramdisk_id: CLIENT_ID }).properties).toEqual({ kernel_id: CLIENT_ID, ramdisk_id: CLIENT_ID });
  });

  it('leaves a null kernel_id/ramdisk_id unset (string properties only)', () => {
    const image = create({ kernel_id: null, ramdisk_id: null });
    expect(image.properties).toEqual({});
  });

  it('400 for a key over 255 characters', () => {
    expectError(() => create({ ['k'.repeat(256)]: 'v' }), 400, 'Custom property should not be greater than 255 characters.');
    expect(Object.keys(create({ ['k'.repeat(255)]: 'v' }).properties)).toEqual(['k'.repeat(255)]);
    expect(() => checkPropertyKey('k'.repeat(256))).toThrow(GlanceError);
  });

  it(`400 for a value over ${MAX_PROPERTY_VALUE} characters`, () => {
    expect(create({ big: 'v'.repeat(MAX_PROPERTY_VALUE) }).properties.big).toHaveLength(MAX_PROPERTY_VALUE);
    expectError(() => create({ big: 'v'.repeat(MAX_PROPERTY_VALUE + 1) }), 400, /^Provided object does not match schema 'image': 'v+\.\.\.' is too long$/);
    expectError(() => create({ description: 'v'.repeat(MAX_PROPERTY_VALUE + 1) }), 400, /is too long$/);
  });

  it(`413 above ${MAX_PROPERTIES} properties`, () => {
    const props = (n: number) => Object.fromEntries(Array.from({ length: n }, (_, i) => [`p${i}`, 'v']));
    expect(Object.keys(create(props(MAX_PROPERTIES)).properties)).toHaveLength(MAX_PROPERTIES);
    expectError(
      () => create(props(MAX_PROPERTIES + 1)),
      413,
      `The limit has been exceeded on the number of allowed image properties. Attempted: ${MAX_PROPERTIES + 1}, Maximum: ${MAX_PROPERTIES}`,
    );
  });

  it('413 when the whole image would not fit in one item', () => {
    const body = Object.fromEntries(Array.from({ length: 6 }, (_, i) => [`p${i}`, 'v'.repeat(MAX_PROPERTY_VALUE)]));
    expectError(() => create(body), 413, /^Image metadata is too large: \d+ bytes, the maximum is 350000\.$/);
    // Multi-byte characters count as bytes.
    const wide = Object.fromEntries(Array.from({ length: 2 }, (_, i) => [`p${i}`, '€'.repeat(60_000)]));
    expectError(() => create(wide), 413, /too large/);
  });

  it('400 for a long key before 403 for the owner', () => {
    expectError(() => create({ owner: 'p2', ['k'.repeat(256)]: 'v' }), 400, /255 characters/);
  });
});

describe('buildNewImage: prototype pollution', () => {
  it('keeps __proto__, constructor and prototype as plain property names', () => {
    const image = fromJson('{"__proto__": "x", "constructor": "y", "prototype": "z", "hasOwnProperty": "w"}');
    expect(Object.getPrototypeOf(image.properties)).toBeNull();
    expect(Object.keys(image.properties).sort()).toEqual(['__proto__', 'constructor', 'hasOwnProperty', 'prototype']);
    expect(Object.getOwnPropertyDescriptor(image.properties, '__proto__')?.value).toBe('x');
    const view = toView(image);
    expect(Object.prototype.hasOwnProperty.call(view, '__proto__')).toBe(true);
    expect(Object.getPrototypeOf(view)).toBe(Object.prototype);
    expect(JSON.parse(JSON.stringify(view))).toMatchObject({ constructor: 'y', prototype: 'z' });
    expect(JSON.stringify(view)).toContain('"__proto__":"x"');
    expect(({} as Record<string, unknown>).polluted).toBeUndefined();
  });

  it('never reaches Object.prototype through an object value', () => {
    expectError(() => fromJson('{"__proto__": {"polluted": "yes"}}'), 400, `${SCHEMA}{'polluted': 'yes'} is not of type 'string'`);
    expectError(() => fromJson('{"constructor": {"prototype": {"polluted": "yes"}}}'), 400, /is not of type 'string'/);
    expect(({} as Record<string, unknown>).polluted).toBeUndefined();
    expect((Object.prototype as Record<string, unknown>).polluted).toBeUndefined();
  });

  it('does not mistake inherited names for attributes', () => {
    // `toString` is on Object.prototype: it must still be an ordinary new property.
    const image = fromJson('{"toString": "t", "valueOf": "v"}');
    expect(image.properties).toEqual({ toString: 't', valueOf: 'v' });
    expect(image.owner).toBe('p1');
  });
});

describe('assertWritableAttribute', () => {
  it('refuses id, read-only and reserved names', () => {
    expectError(() => assertWritableAttribute('id'), 403, "Attribute 'id' is read-only.");
    expectError(() => assertWritableAttribute('os_hash_value'), 403, "Attribute 'os_hash_value' is read-only.");
    expectError(() => assertWritableAttribute('os_glance_x'), 403, "Attribute 'os_glance_x' is reserved.");
    expect(() => assertWritableAttribute('name')).not.toThrow();
    expect(() => assertWritableAttribute('foo')).not.toThrow();
  });
});
