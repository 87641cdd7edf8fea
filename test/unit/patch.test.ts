import { describe, expect, it } from 'vitest';
import { makeCaller, type Caller } from '../../shared/domain/caller.js';
import { buildNewImage } from '../../shared/domain/create-image.js';
import { GlanceError } from '../../shared/domain/errors.js';
import { MAX_PROPERTIES, MAX_PROPERTY_VALUE, MAX_TAGS, toView, type Image } from '../../shared/domain/image.js';
import { applyPatch, decodePointer, parsePatch, PATCH_MEDIA_TYPES, patchPolicyFor, type PatchOp } from '../../shared/domain/patch.js';
import { defaultPolicy } from '../../shared/domain/policy.js';
import type { ImageStatus } from '../../shared/domain/status.js';

const V20 = 'application/openstack-images-v2.0-json-patch';
const V21 = 'application/openstack-images-v2.1-json-patch';
const ACCEPT_PATCH = `${V20}, ${V21}`;
const SCHEMA = "Provided object does not match schema 'image': ";
const member = makeCaller('p1', 'u1', ['member']);
const admin = makeCaller('p1', 'u1', ['admin']);
const ID = '0b0c2f6e-6f0a-4d57-9a43-2a1f8b1c9d10';

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
  return error;
}

const parse21 = (ops: unknown) => parsePatch(V21, JSON.stringify(ops));
const parse20 = (ops: unknown) => parsePatch(V20, JSON.stringify(ops));

function baseImage(overrides: Partial<Image> = {}, body: Record<string, unknown> = {}): Image {
  const image = buildNewImage(
    { name: 'cirros', foo: 'bar', disk_format: 'raw', container_format: 'bare', tags: ['t'], ...body },
    member,
    defaultPolicy,
    new Date('2024-01-02T03:04:05Z'),
    () => ID,
  );
  return { ...image, ...overrides };
}
/** The policy's answers for `caller` on `image`, as the use case builds them. */
const policyOf = (caller: Caller, image: Image) => patchPolicyFor(defaultPolicy, caller, { image, membership: undefined }, `No image found with ID ${image.id}`);
/** Parse (2.1) then apply, as the use case does. */
const patch = (image: Image, ops: unknown, caller = member) => applyPatch(image, parse21(ops), policyOf(caller, image));

describe('PATCH_MEDIA_TYPES', () => {
  it('lists the two Glance media types', () => {
    expect([...PATCH_MEDIA_TYPES]).toEqual([V20, V21]);
  });
});

describe('parsePatch: media type and body', () => {
  it('accepts both media types, with parameters', () => {
    expect(parsePatch(V21, '[]')).toEqual([]);
    expect(parsePatch(V20, '[]')).toEqual([]);
    expect(parsePatch(`${V21}; charset=utf-8`, '[]')).toEqual([]);
    expect(parsePatch(` ${V20} ;charset=UTF-8`, '[]')).toEqual([]);
  });

  it('415 with Accept-Patch for any other media type', () => {
    for (const type of ['application/json', 'application/json-patch+json', 'text/plain', '', undefined]) {
      const error = expectError(() => parsePatch(type, '[]'), 415, /^The request media type .* is not supported by this server\.$/);
      expect(error.headers).toEqual({ 'Accept-Patch': ACCEPT_PATCH });
    }
    expectError(() => parsePatch('application/json; charset=utf-8', '[]'), 415,
      'The request media type application/json is not supported by this server.');
  });

  it('checks the media type before the body', () => {
    expectError(() => parsePatch('application/json', undefined), 415, /not supported/);
  });

  it('400 for an empty, malformed or non-array body', () => {
    expectError(() => parsePatch(V21, undefined), 400, 'Body expected in request.');
    expectError(() => parsePatch(V21, ''), 400, 'Body expected in request.');
    expectError(() => parsePatch(V21, '[x'), 400, 'Malformed JSON in request body.');
    expectError(() => parsePatch(V21, '{"op": "add"'), 400, 'Malformed JSON in request body.');
    expectError(() => parsePatch(V21, Buffer.from([0x5b, 0xff, 0x5d])), 400, 'Malformed JSON in request body.');
    expectError(() => parsePatch(V21, `[${'['.repeat(5000)}${']'.repeat(5000)}]`), 400, /^Malformed JSON in request body: nested deeper/);
    for (const body of ['{}', '{"op":"add","path":"/a","value":"b"}', '"x"', '5', 'null']) {
      expectError(() => parsePatch(V21, body), 400, 'Request body must be a JSON array of operation objects.');
    }
  });

  it('400 unless every operation is an object', () => {
    for (const body of ['[1]', '[null]', '[[]]', '["add"]', '[{"op":"add","path":"/a","value":"b"}, 2]']) {
      expectError(() => parsePatch(V21, body), 400, 'Operations must be JSON objects.');
    }
  });
});

describe('parsePatch: v2.1 operations', () => {
  it('parses add, replace and remove', () => {
    expect(parse21([
      { op: 'add', path: '/foo', value: 'x' },
      { op: 'replace', path: '/name', value: null },
      { op: 'remove', path: '/foo' },
    ])).toEqual([
      { op: 'add', path: 'foo', value: 'x' },
      { op: 'replace', path: 'name', value: null },
      { op: 'remove', path: 'foo' },
    ]);
  });

  it('ignores a value on remove', () => {
    expect(parse21([{ op: 'remove', path: '/foo', value: 1 }])).toEqual([{ op: 'remove', path: 'foo' }]);
  });

  it('400 for a missing, unsupported or unknown op', () => {
    expectError(() => parse21([{ path: '/name', value: 'x' }]), 400,
      'Unable to find `op` in JSON Schema change. It must be one of the following: add, remove, replace.');
    expectError(() => parse21([{ add: '/name', value: 'x' }]), 400, /^Unable to find `op`/);
    for (const op of ['move', 'copy', 'test', 'bogus', 'ADD']) {
      expectError(() => parse21([{ op, path: '/name', from: '/x', value: 'x' }]), 400,
        `Invalid operation: \`${op}\`. It must be one of the following: add, remove, replace.`);
    }
    expectError(() => parse21([{ op: 5, path: '/name', value: 'x' }]), 400, /^Invalid operation: `5`\./);
    expectError(() => parse21([{ op: null, path: '/name', value: 'x' }]), 400, /^Invalid operation: `null`\./);
  });

  it('400 for a missing path or value', () => {
    expectError(() => parse21([{ op: 'add', value: 'x' }]), 400, "Unable to find 'path' in JSON Schema change");
    expectError(() => parse21([{ op: 'add', path: '/name' }]), 400, 'Operation "add" requires a member named "value".');
    expectError(() => parse21([{ op: 'replace', path: '/name' }]), 400, 'Operation "replace" requires a member named "value".');
  });

  it('reports the first bad operation, in order', () => {
    expectError(() => parse21([{ op: 'move', path: '/x' }, { op: 'replace', path: '/status', value: 'x' }]), 400, /`move`/);
    expectError(() => parse21([{ op: 'replace', path: '/status', value: 'x' }, { op: 'move', path: '/x' }]), 403,
      "Attribute 'status' is read-only.");
  });
});

describe('parsePatch: v2.0 operations', () => {
  it('parses {"replace": "/name", "value": ...} and friends', () => {
    expect(parse20([
      { replace: '/name', value: 'n' },
      { add: '/foo', value: 'x' },
      { remove: '/foo' },
    ])).toEqual([
      { op: 'replace', path: 'name', value: 'n', strictAdd: true },
      { op: 'add', path: 'foo', value: 'x', strictAdd: true },
      { op: 'remove', path: 'foo', strictAdd: true },
    ]);
  });

  it('400 unless exactly one of add/remove/replace is present', () => {
    expectError(() => parse20([{ add: '/foo', replace: '/foo', value: 'v' }]), 400,
      'Operation objects must contain only one member named "add", "remove", or "replace".');
    expectError(() => parse20([{ value: 'v' }]), 400,
      'Operation objects must contain exactly one member named "add", "remove", or "replace".');
    expectError(() => parse20([{ op: 'add', path: '/x', value: 'v' }]), 400, /exactly one member/);
    expectError(() => parse20([{ replace: '/name' }]), 400, 'Operation "replace" requires a member named "value".');
  });
});

describe('parsePatch: JSON pointers', () => {
  it('decodes ~1 and ~0 (in that order)', () => {
    expect(decodePointer('/a~1b~0c')).toBe('a/b~c');
    expect(decodePointer('/~01')).toBe('~1');
    expect(decodePointer('/~10')).toBe('/0');
    expect(decodePointer('/')).toBe('');
    expect(decodePointer('/ a ')).toBe(' a ');
    expect(parse21([{ op: 'add', path: '/a~1b', value: 'v' }])).toEqual([{ op: 'add', path: 'a/b', value: 'v' }]);
  });

  it("400 with Glance's messages for malformed pointers", () => {
    const cases: [string, string][] = [
      ['name', 'Pointer `name` does not start with "/".'],
      ['', 'Pointer `` does not start with "/".'],
      ['/a/b', "Invalid JSON pointer for this resource: '/a/b'"],
      ['/tags/-', "Invalid JSON pointer for this resource: '/tags/-'"],
      ['/tags/0', "Invalid JSON pointer for this resource: '/tags/0'"],
      ['/locations/0', "Invalid JSON pointer for this resource: '/locations/0'"],
      ['/a~1b/c', "Invalid JSON pointer for this resource: '/a/b/c'"],
      ['/a/', 'Pointer `/a/` end with "/".'],
      ['//', 'Pointer `//` end with "/".'],
      ['/a//b', 'Pointer `/a//b` contains adjacent "/".'],
      ['/a/ /b', 'Pointer `/a/ /b` contains adjacent "/".'],
      ['/~2', 'Pointer `/~2` contains "~" not part of a recognized escape sequence.'],
      ['/a~', 'Pointer `/a~` contains "~" not part of a recognized escape sequence.'],
      ['/~a', 'Pointer `/~a` contains "~" not part of a recognized escape sequence.'],
    ];
    for (const [pointer, message] of cases) {
      expectError(() => parse21([{ op: 'add', path: pointer, value: 'v' }]), 400, message);
      expectError(() => decodePointer(pointer), 400, message);
    }
  });

  it('400 for a pointer that is not a string', () => {
    for (const path of [5, null, ['name'], { a: 1 }]) {
      expectError(() => parse21([{ op: 'add', path, value: 'v' }]), 400, /^Invalid JSON pointer for this resource: /);
    }
    expectError(() => parse20([{ replace: 5, value: 'v' }]), 400, /^Invalid JSON pointer for this resource: '5'/);
  });
});

describe('parsePatch: names and values are checked before anything is applied', () => {
  const readOnly = ['id', 'status', 'checksum', 'size', 'virtual_size', 'created_at', 'updated_at', 'os_hash_algo',
    'os_hash_value', 'self', 'file', 'schema', 'direct_url', 'stores'];
  for (const key of readOnly) {
    it(`403 for read-only ${key} (add, replace and remove)`, () => {
      for (const op of ['add', 'replace', 'remove']) {
        expectError(() => parse21([{ op, path: `/${key}`, value: 'x' }]), 403, `Attribute '${key}' is read-only.`);
      }
    });
  }

  for (const key of ['locations', 'location', 'deleted', 'deleted_at', 'os_glance_x', 'os_glance_failed_import']) {
    it(`403 for reserved ${key}`, () => {
      for (const op of ['add', 'replace', 'remove']) {
        expectError(() => parse21([{ op, path: `/${key}`, value: [] }]), 403, `Attribute '${key}' is reserved.`);
      }
    });
  }

  it('400 for values the schema refuses', () => {
    const bad: [string, unknown, string | RegExp][] = [
      ['name', 'x'.repeat(256), /is too long$/],
      ['name', 5, `${SCHEMA}5 is not of type 'null', 'string'`],
      ['visibility', 'bogus', `${SCHEMA}'bogus' is not one of ['community', 'public', 'private', 'shared']`],
      ['protected', 'true', `${SCHEMA}'true' is not of type 'boolean'`],
      ['os_hidden', null, `${SCHEMA}None is not of type 'boolean'`],
      ['min_ram', 1.5, `${SCHEMA}1.5 is not of type 'integer'`],
      ['min_disk', null, `${SCHEMA}None is not of type 'integer'`],
      ['disk_format', 'bogus', /'bogus' is not one of \[None, 'ami'/],
      ['container_format', 'zip', /'zip' is not one of \[None, 'ami'/],
      ['tags', 'a', `${SCHEMA}'a' is not of type 'array'`],
      ['tags', [1], `${SCHEMA}1 is not of type 'string'`],
      ['tags', ['t'.repeat(256)], /is too long$/],
      ['foo', 5, `${SCHEMA}5 is not of type 'string'`],
      ['foo', null, `${SCHEMA}None is not of type 'string'`],
      ['kernel_id', 'x', /'x' does not match/],
      ['owner', 5, `${SCHEMA}5 is not of type 'null', 'string'`],
    ];
    for (const [key, value, message] of bad) {
      expectError(() => parse21([{ op: 'replace', path: `/${key}`, value }]), 400, message);
      expectError(() => parse21([{ op: 'add', path: `/${key}`, value }]), 400, message);
    }
  });

  it('a read-only name wins over an op that would only fail when applied', () => {
    expectError(() => parse21([{ op: 'replace', path: '/nope', value: '1' }, { op: 'replace', path: '/status', value: '2' }]),
      403, "Attribute 'status' is read-only.");
  });
});

describe('applyPatch: basics', () => {
  it('applies operations in order', () => {
    const next = patch(baseImage(), [
      { op: 'add', path: '/x', value: '1' },
      { op: 'replace', path: '/x', value: '2' },
      { op: 'remove', path: '/foo' },
      { op: 'replace', path: '/name', value: 'renamed' },
    ]);
    expect(next.properties).toEqual({ x: '2' });
    expect(next.name).toBe('renamed');
    expect(toView(next)).toMatchObject({ x: '2', name: 'renamed' });
    expect(toView(next)).not.toHaveProperty('foo');
  });

  it('returns an equal copy for no operations', () => {
    const image = baseImage();
    const next = applyPatch(image, [], policyOf(member, image));
    expect(next).toEqual(image);
    expect(next).not.toBe(image);
  });

  it('add on an existing attribute or property replaces it', () => {
    const next = patch(baseImage(), [
      { op: 'add', path: '/foo', value: 'v2' },
      { op: 'add', path: '/name', value: 'n2' },
      { op: 'add', path: '/min_ram', value: 64 },
    ]);
    expect(next.properties).toEqual({ foo: 'v2' });
    expect(next).toMatchObject({ name: 'n2', min_ram: 64 });
  });

  it('add creates a new property; a name may be null', () => {
    const next = patch(baseImage(), [{ op: 'add', path: '/os_distro', value: 'debian' }, { op: 'replace', path: '/name', value: null }]);
    expect(next.properties).toEqual({ foo: 'bar', os_distro: 'debian' });
    expect(next.name).toBeNull();
  });

  it('409 when replacing or removing a property that does not exist', () => {
    expectError(() => patch(baseImage(), [{ op: 'replace', path: '/nope', value: 'v' }]), 409, 'Property nope does not exist.');
    expectError(() => patch(baseImage(), [{ op: 'remove', path: '/nope' }]), 409, 'Property nope does not exist.');
    expectError(() => patch(baseImage(), [{ op: 'remove', path: '/foo' }, { op: 'remove', path: '/foo' }]), 409,
      'Property foo does not exist.');
    expectError(() => patch(baseImage(), [{ op: 'replace', path: '/kernel_id', value: ID }]), 409, 'Property kernel_id does not exist.');
  });

  it('403 when removing a base attribute', () => {
    for (const key of ['min_ram', 'min_disk', 'name', 'tags', 'owner', 'visibility', 'protected', 'os_hidden', 'disk_format', 'container_format']) {
      expectError(() => patch(baseImage(), [{ op: 'remove', path: `/${key}` }], admin), 403, `Property ${key} may not be removed.`);
    }
  });

  it('escaped pointers name properties with / and ~', () => {
    const next = patch(baseImage(), [{ op: 'add', path: '/a~1b', value: 'slash' }, { op: 'add', path: '/c~0d', value: 'tilde' }]);
    expect(next.properties).toEqual({ foo: 'bar', 'a/b': 'slash', 'c~d': 'tilde' });
    const removed = patch(next, [{ op: 'remove', path: '/a~1b' }]);
    expect(removed.properties).toEqual({ foo: 'bar', 'c~d': 'tilde' });
  });

  it('the empty pointer segment "/" names the property ""', () => {
    expect(patch(baseImage(), [{ op: 'add', path: '/', value: 'x' }]).properties).toEqual({ foo: 'bar', '': 'x' });
  });

  it('leaves version and updated_at to the use case', () => {
    const image = { ...baseImage(), version: 7, updated_at: '2020-01-01T00:00:00Z' };
    const next = patch(image, [{ op: 'replace', path: '/name', value: 'x' }]);
    expect(next.version).toBe(7);
    expect(next.updated_at).toBe('2020-01-01T00:00:00Z');
    expect(next.created_at).toBe(image.created_at);
  });
});

describe('applyPatch: never mutates its input', () => {
  it('on success', () => {
    const image = baseImage();
    const snapshot = structuredClone({ ...image, properties: { ...image.properties } });
    const next = patch(image, [
      { op: 'add', path: '/x', value: '1' },
      { op: 'remove', path: '/foo' },
      { op: 'replace', path: '/tags', value: ['z'] },
      { op: 'replace', path: '/min_disk', value: 3 },
    ]);
    expect({ ...image, properties: { ...image.properties } }).toEqual(snapshot);
    expect(next.properties).not.toBe(image.properties);
    expect(next.tags).not.toBe(image.tags);
    expect(image.properties).toEqual({ foo: 'bar' });
    expect(image.tags).toEqual(['t']);
  });

  it('on failure midway', () => {
    const image = baseImage();
    const snapshot = structuredClone({ ...image, properties: { ...image.properties } });
    expectError(() => patch(image, [{ op: 'add', path: '/x', value: '1' }, { op: 'replace', path: '/nope', value: '2' }]), 409, /nope/);
    expect({ ...image, properties: { ...image.properties } }).toEqual(snapshot);
  });

  it('the result shares no arrays or records with the input', () => {
    const image = baseImage();
    const next = applyPatch(image, [], policyOf(member, image));
    next.tags.push('mutated');
    next.properties.mutated = 'yes';
    expect(image.tags).toEqual(['t']);
    expect(image.properties).toEqual({ foo: 'bar' });
  });
});

describe('applyPatch: tags', () => {
  it('replace /tags sets the whole list, as a set', () => {
    expect(patch(baseImage(), [{ op: 'replace', path: '/tags', value: ['a', 'a', 'b'] }]).tags).toEqual(['a', 'b']);
    expect(patch(baseImage(), [{ op: 'replace', path: '/tags', value: [] }]).tags).toEqual([]);
  });

  it('add /tags also replaces the whole list', () => {
    expect(patch(baseImage(), [{ op: 'add', path: '/tags', value: ['c'] }]).tags).toEqual(['c']);
  });

  it(`413 above ${MAX_TAGS} tags`, () => {
    const tags = Array.from({ length: MAX_TAGS + 1 }, (_, i) => `t${i}`);
    expectError(() => patch(baseImage(), [{ op: 'replace', path: '/tags', value: tags }]), 413,
      `The limit has been exceeded on the number of allowed image tags. Attempted: ${MAX_TAGS + 1}, Maximum: ${MAX_TAGS}`);
    expect(patch(baseImage(), [{ op: 'replace', path: '/tags', value: tags.slice(1) }]).tags).toHaveLength(MAX_TAGS);
  });
});

describe('applyPatch: owner and visibility policy', () => {
  it('403 for any owner write by a non-admin, even to the same value', () => {
    for (const value of ['p2', 'p1', null]) {
      for (const op of ['add', 'replace']) {
        expectError(() => patch(baseImage(), [{ op, path: '/owner', value }]), 403, "Owner can't be updated by non admin.");
      }
    }
  });

  it('lets an admin change the owner, to null too', () => {
    expect(patch(baseImage(), [{ op: 'replace', path: '/owner', value: 'p2' }], admin).owner).toBe('p2');
    expect(patch(baseImage(), [{ op: 'replace', path: '/owner', value: null }], admin).owner).toBeNull();
  });

  it('403 when a non-admin makes an image public', () => {
    expectError(() => patch(baseImage(), [{ op: 'replace', path: '/visibility', value: 'public' }]), 403,
      'You are not authorized to complete publicize_image action.');
    expectError(() => patch(baseImage({ visibility: 'public' }), [{ op: 'replace', path: '/visibility', value: 'public' }]), 403,
      /publicize_image/);
  });

  it('lets the owner choose private, shared or community, and an admin public', () => {
    for (const value of ['private', 'shared', 'community']) {
      expect(patch(baseImage(), [{ op: 'replace', path: '/visibility', value }]).visibility).toBe(value);
    }
    expect(patch(baseImage(), [{ op: 'replace', path: '/visibility', value: 'public' }], admin).visibility).toBe('public');
    expect(patch(baseImage({ visibility: 'public' }), [{ op: 'replace', path: '/visibility', value: 'private' }]).visibility).toBe('private');
  });
});

describe('applyPatch: formats change only while queued or importing', () => {
  for (const status of ['queued', 'importing'] as ImageStatus[]) {
    it(`allowed while ${status}`, () => {
      const next = patch(baseImage({ status }), [
        { op: 'replace', path: '/disk_format', value: 'qcow2' },
        { op: 'replace', path: '/container_format', value: null },
      ]);
      expect(next).toMatchObject({ disk_format: 'qcow2', container_format: null });
    });
  }

  for (const status of ['saving', 'uploading', 'active', 'deactivated', 'killed'] as ImageStatus[]) {
    it(`403 while ${status}, even to the same value`, () => {
      const image = baseImage({ status });
      expectError(() => patch(image, [{ op: 'replace', path: '/disk_format', value: 'qcow2' }]), 403,
        'Attribute disk_format can be only replaced for a queued image.');
      expectError(() => patch(image, [{ op: 'replace', path: '/disk_format', value: 'raw' }]), 403, /disk_format/);
      expectError(() => patch(image, [{ op: 'add', path: '/container_format', value: 'ova' }]), 403,
        'Attribute container_format can be only replaced for a queued image.');
      expect(patch(image, [{ op: 'replace', path: '/name', value: 'ok' }]).name).toBe('ok');
    });
  }
});

describe('applyPatch: values', () => {
  it('protected and os_hidden take booleans', () => {
    expect(patch(baseImage(), [{ op: 'replace', path: '/protected', value: true }]).protected).toBe(true);
    expect(patch(baseImage(), [{ op: 'replace', path: '/os_hidden', value: true }]).os_hidden).toBe(true);
    expectError(() => applyPatch(baseImage(), [{ op: 'replace', path: 'protected', value: 'true' }], policyOf(member, baseImage())), 400,
      `${SCHEMA}'true' is not of type 'boolean'`);
  });

  it('min_ram and min_disk: not negative, within range', () => {
    expectError(() => patch(baseImage(), [{ op: 'replace', path: '/min_ram', value: -1 }]), 400,
      "Invalid value '-1' for parameter 'min_ram': Cannot be a negative value");
    expectError(() => patch(baseImage(), [{ op: 'replace', path: '/min_disk', value: -5 }]), 400,
      "Invalid value '-5' for parameter 'min_disk': Cannot be a negative value");
    expectError(() => patch(baseImage(), [{ op: 'replace', path: '/min_ram', value: 2 ** 31 }]), 400,
      "'min_ram' value out of range, must not exceed 2147483647.");
    expect(patch(baseImage(), [{ op: 'replace', path: '/min_disk', value: 20 }]).min_disk).toBe(20);
  });

  it('a null kernel_id/ramdisk_id leaves the property unset', () => {
    const withKernel = patch(baseImage(), [{ op: 'add', path: '/kernel_id', value: ID }]);
    expect(withKernel.properties.kernel_id).toBe(ID);
    expect(patch(withKernel, [{ op: 'replace', path: '/kernel_id', value: null }]).properties).toEqual({ foo: 'bar' });
    expect(patch(baseImage(), [{ op: 'add', path: '/ramdisk_id', value: null }]).properties).toEqual({ foo: 'bar' });
  });

  it('400 for a property name over 255 characters', () => {
    expectError(() => patch(baseImage(), [{ op: 'add', path: `/${'k'.repeat(256)}`, value: 'v' }]), 400,
      'Custom property should not be greater than 255 characters.');
  });

  it(`400 for a property value over ${MAX_PROPERTY_VALUE} characters`, () => {
    expectError(() => patch(baseImage(), [{ op: 'add', path: '/big', value: 'v'.repeat(MAX_PROPERTY_VALUE + 1) }]), 400, /is too long$/);
  });
});

describe('applyPatch: quotas', () => {
  const withProps = (n: number) => {
    const image = baseImage();
    const props = Object.fromEntries(Array.from({ length: n }, (_, i) => [`p${i}`, 'v']));
    return { ...image, properties: props };
  };

  it(`413 when a change takes the image above ${MAX_PROPERTIES} properties`, () => {
    expect(Object.keys(patch(withProps(MAX_PROPERTIES - 1), [{ op: 'add', path: '/last', value: 'v' }]).properties)).toHaveLength(MAX_PROPERTIES);
    expectError(() => patch(withProps(MAX_PROPERTIES), [{ op: 'add', path: '/extra', value: 'v' }]), 413,
      `The limit has been exceeded on the number of allowed image properties. Attempted: ${MAX_PROPERTIES + 1}, Maximum: ${MAX_PROPERTIES}`);
  });

  it('does not count replacing an existing property, or adding one after a removal', () => {
    expect(patch(withProps(MAX_PROPERTIES), [{ op: 'replace', path: '/p0', value: 'w' }]).properties.p0).toBe('w');
    const swapped = patch(withProps(MAX_PROPERTIES), [{ op: 'remove', path: '/p0' }, { op: 'add', path: '/q', value: 'v' }]);
    expect(Object.keys(swapped.properties)).toHaveLength(MAX_PROPERTIES);
    // An image already over the quota (e.g. imported) can still be edited.
    expect(patch(withProps(MAX_PROPERTIES + 2), [{ op: 'replace', path: '/p1', value: 'x' }]).properties.p1).toBe('x');
  });

  it('413 when the image would no longer fit in one item', () => {
    const ops = Array.from({ length: 6 }, (_, i) => ({ op: 'add', path: `/big${i}`, value: 'v'.repeat(MAX_PROPERTY_VALUE) }));
    expectError(() => patch(baseImage(), ops), 413, /^Image metadata is too large/);
  });
});

describe('applyPatch: the 2.0 media type', () => {
  const patch20 = (image: Image, ops: unknown, caller = member) => applyPatch(image, parse20(ops), policyOf(caller, image));

  it('replace and remove work as in 2.1', () => {
    const next = patch20(baseImage(), [{ replace: '/name', value: 'n20' }, { remove: '/foo' }]);
    expect(next.name).toBe('n20');
    expect(next.properties).toEqual({});
  });

  it('add of a new property works; add of an existing one is 409', () => {
    expect(patch20(baseImage(), [{ add: '/newp', value: 'v' }]).properties).toEqual({ foo: 'bar', newp: 'v' });
    expectError(() => patch20(baseImage(), [{ add: '/foo', value: 'v' }]), 409, 'Property foo already present.');
    expectError(() => patch20(baseImage(), [{ add: '/name', value: 'v' }]), 409, 'Property name already present.');
  });
});

describe('applyPatch: prototype pollution', () => {
  it('keeps __proto__, constructor and prototype as plain properties', () => {
    const next = patch(baseImage(), [
      { op: 'add', path: '/__proto__', value: 'x' },
      { op: 'add', path: '/constructor', value: 'y' },
      { op: 'add', path: '/prototype', value: 'z' },
    ]);
    expect(Object.getPrototypeOf(next.properties)).toBeNull();
    expect(Object.keys(next.properties).sort()).toEqual(['__proto__', 'constructor', 'foo', 'prototype']);
    expect(Object.getOwnPropertyDescriptor(next.properties, '__proto__')?.value).toBe('x');
    expect(JSON.stringify(toView(next))).toContain('"__proto__":"x"');
    expect(({} as Record<string, unknown>).polluted).toBeUndefined();

    const removed = patch(next, [{ op: 'remove', path: '/__proto__' }, { op: 'replace', path: '/constructor', value: 'c' }]);
    expect(Object.keys(removed.properties).sort()).toEqual(['constructor', 'foo', 'prototype']);
    expect(removed.properties.constructor).toBe('c');
  });

  it('inherited names are not existing properties', () => {
    for (const key of ['__proto__', 'constructor', 'toString', 'hasOwnProperty', 'valueOf']) {
      expectError(() => patch(baseImage(), [{ op: 'replace', path: `/${key}`, value: 'v' }]), 409, `Property ${key} does not exist.`);
      expectError(() => patch(baseImage(), [{ op: 'remove', path: `/${key}` }]), 409, `Property ${key} does not exist.`);
    }
  });

  it('an object value never reaches a prototype', () => {
    expectError(() => patch(baseImage(), [{ op: 'add', path: '/__proto__', value: { polluted: 'yes' } }]), 400,
      `${SCHEMA}{'polluted': 'yes'} is not of type 'string'`);
    const ops = JSON.parse('[{"op":"add","path":"/__proto__","value":"x","__proto__":{"polluted":"yes"}}]');
    expect(patch(baseImage(), ops).properties.__proto__).toBe('x');
    expect(({} as Record<string, unknown>).polluted).toBeUndefined();
    expect((Object.prototype as Record<string, unknown>).polluted).toBeUndefined();
  });

  it('works on images whose stored properties carry a __proto__ key', () => {
    const stored = { ...baseImage(), properties: JSON.parse('{"__proto__": "p", "foo": "bar"}') as Record<string, string> };
    const next = patch(stored, [{ op: 'replace', path: '/__proto__', value: 'q' }]);
    expect(Object.getOwnPropertyDescriptor(next.properties, '__proto__')?.value).toBe('q');
    expect(Object.getOwnPropertyDescriptor(stored.properties, '__proto__')?.value).toBe('p');
  });
});

describe('applyPatch: ops built by hand are checked too', () => {
  it('re-checks names and values', () => {
    const op = (o: PatchOp) => () => applyPatch(baseImage(), [o], policyOf(member, baseImage()));
    expectError(op({ op: 'replace', path: 'status', value: 'active' }), 403, "Attribute 'status' is read-only.");
    expectError(op({ op: 'replace', path: 'id', value: ID }), 403, "Attribute 'id' is read-only.");
    expectError(op({ op: 'add', path: 'os_glance_x', value: 'v' }), 403, "Attribute 'os_glance_x' is reserved.");
    expectError(op({ op: 'replace', path: 'name', value: 5 }), 400, `${SCHEMA}5 is not of type 'null', 'string'`);
    expectError(op({ op: 'add', path: 'foo', value: 5 }), 400, `${SCHEMA}5 is not of type 'string'`);
  });
});
