import fc from 'fast-check';
import type { Route } from '../../shared/routes.js';

/**
 * Generators of malformed and hostile requests for one route of the API: path parameters,
 * query, headers, body and caller are drawn independently, each from what a careless or
 * malicious client sends (names from Object.prototype, ids of every length and case, bad
 * percent-escapes, deep or invalid-UTF-8 JSON, wrong media types), mixed with plausible values
 * so that requests also get past the first checks and reach the use cases and the table.
 */

/** Keys that reach Object.prototype when a plain object is indexed by client data. */
export const PROTOTYPE_NAMES = [
  '__proto__', 'constructor', 'prototype', 'toString', 'valueOf', 'hasOwnProperty', 'isPrototypeOf',
  '__defineGetter__', '__lookupSetter__', 'toJSON', 'then',
];

/** Which image a request is about; the suite creates a fresh one of that kind for every run. */
export type TargetKind = 'queued' | 'queued-with-formats' | 'active' | 'with-upload-session' | 'other-project' | 'missing';
/** Who sends it. */
export type CallerKind = 'owner' | 'admin' | 'other-project' | 'no-token' | 'garbage-token';
/** A path parameter: the target's own id (as stored or upper-cased), or a hostile segment sent as is. */
export type IdChoice = { kind: 'target' } | { kind: 'target-upper' } | { kind: 'segment'; segment: string };

export interface HostileRequest {
  target: TargetKind;
  caller: CallerKind;
  imageId: IdChoice;
  uploadId: IdChoice;
  tag: string;
  /** The query string as sent (already escaped, or deliberately not). */
  query: string;
  headers: Array<[string, string]>;
  contentType: string | undefined;
  accept: string | undefined;
  body: Buffer | undefined;
}

/** Lone surrogates cannot be percent-encoded; a client would send U+FFFD. */
const wellFormed = (s: string) => s.replace(/[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/g, '\uFFFD');
const escaped = (s: string) => encodeURIComponent(wellFormed(s));

/** Strings a client may put anywhere. */
export const hostileString: fc.Arbitrary<string> = fc.oneof(
  { arbitrary: fc.string({ unit: 'binary', maxLength: 24 }), weight: 3 },
  { arbitrary: fc.constantFrom(...PROTOTYPE_NAMES), weight: 2 },
  fc.constantFrom('', ' ', 'null', 'undefined', 'NaN', '-1', '0', '1e309', '\u0000', '\u202e', '💥', 'ÿ', '"', "'", '\\', '/', '..'),
  // Past DynamoDB's 2,048-byte key limit; a URL stays within the local server's 16 KiB.
  fc.integer({ min: 2040, max: 4100 }).map((n) => 'a'.repeat(n)),
  fc.uuid().map((id) => id.toUpperCase()),
  fc.uuid().map((id) => id.replace(/-/g, '')),
  fc.uuid().map((id) => `${id}x`),
  fc.string({ unit: 'grapheme', maxLength: 300 }),
);

/** A path segment or query component as it goes on the wire: escaped, or raw and malformed. */
const wireComponent: fc.Arbitrary<string> = fc.oneof(
  { arbitrary: hostileString.map(escaped), weight: 4 },
  fc.constantFrom('%', '%zz', '%0', '%00', '%ff', '%c3%28', '%ed%a0%80', '%2F', '%2e%2e', '%252F', '+', ';', '~', '*', '%E2%80%AE'),
);

const idChoice: fc.Arbitrary<IdChoice> = fc.oneof(
  { arbitrary: fc.constant<IdChoice>({ kind: 'target' }), weight: 5 },
  { arbitrary: fc.constant<IdChoice>({ kind: 'target-upper' }), weight: 1 },
  { arbitrary: wireComponent.map((segment): IdChoice => ({ kind: 'segment', segment })), weight: 3 },
);

const LIST_KEYS = [
  'limit', 'marker', 'sort', 'sort_key', 'sort_dir', 'name', 'status', 'visibility', 'tag', 'owner', 'id', 'size_min',
  'size_max', 'virtual_size_max', 'created_at', 'updated_at', 'member_status', 'os_hidden', 'protected', 'disk_format',
  'container_format', 'checksum', 'changes-since', 'deleted', 'foo_min',
];
const LIST_VALUES = [
  '1', '0', '-1', '1001', '99999999999999999999', 'abc', 'name:asc', 'name:up', 'created_at,id', 'in:a,"b,c"', 'in:"x',
  'gt:2020-01-01T00:00:00Z', 'lte:yesterday', 'neq:', 'public', 'all', 'true', 'maybe', 'pending', 'queued', 'raw',
];

const queryPair: fc.Arbitrary<string> = fc
  .tuple(
    fc.oneof(fc.constantFrom(...PROTOTYPE_NAMES, ...LIST_KEYS).map(escaped), wireComponent),
    fc.oneof(fc.constantFrom(...LIST_VALUES).map(escaped), fc.uuid().map((id) => id.toUpperCase()), wireComponent),
    fc.boolean(),
  )
  .map(([key, value, withValue]) => (withValue ? `${key}=${value}` : key));

const query: fc.Arbitrary<string> = fc.oneof(
  { arbitrary: fc.constant(''), weight: 2 },
  { arbitrary: fc.array(queryPair, { minLength: 1, maxLength: 6 }).map((pairs) => pairs.join('&')), weight: 5 },
  fc.constantFrom('&', '&&=', '=', '==&=', ';;', 'a=1;b=2', '%', '?'),
);

/** fetch refuses to set these, or sets them itself. */
const FETCH_MANAGED = new Set(['host', 'content-length', 'connection', 'transfer-encoding', 'keep-alive', 'upgrade', 'expect', 'te', 'trailer', 'content-type', 'accept', 'x-auth-token']);
const headerName: fc.Arbitrary<string> = fc
  .oneof(
    fc.constantFrom(...PROTOTYPE_NAMES, 'Authorization', 'X-Openstack-Image-Size', 'X-Forwarded-Proto', 'X-Forwarded-For', 'Range', 'Content-Range', 'Origin', 'X-Roles', 'X-Identity-Status'),
    fc.stringMatching(/^[A-Za-z0-9!#$%&'*+.^_`|~-]{1,24}$/),
  )
  .filter((name) => !FETCH_MANAGED.has(name.toLowerCase()));
const headerValue: fc.Arbitrary<string> = fc.oneof(
  fc.stringMatching(/^[\x20-\x7e]{0,60}$/).map((v) => v.trim()),
  fc.constantFrom('Bearer', 'Bearer x', 'bytes=0-9', 'bytes=-1', 'bytes=5-1', '-1', '99999999999999999999', '1e3', 'https,http'),
  fc.integer({ min: 100, max: 3000 }).map((n) => 'v'.repeat(n)),
);

const PATCH_TYPES = ['application/openstack-images-v2.1-json-patch', 'application/openstack-images-v2.0-json-patch'];
const OTHER_TYPES = [
  'application/json', 'application/json; charset=utf-8', 'application/octet-stream', 'APPLICATION/OCTET-STREAM', 'text/plain',
  'application/x-www-form-urlencoded', 'multipart/form-data; boundary=x', 'garbage', '', ';;;', 'application/json;q=;;',
];
const ACCEPTS = ['application/json', '*/*', 'text/html', 'text/html, application/json', 'application/json;q=0', 'x;;;q=abc', ''];

const nested = (depth: number, leaf: string) => '['.repeat(depth) + leaf + ']'.repeat(depth);
const nestedObject = (depth: number, leaf: string) => '{"a":'.repeat(depth) + leaf + '}'.repeat(depth);
/** A JSON text standing for one value: deep, huge, or shaped to reach Object.prototype. */
const hostileJsonValue: fc.Arbitrary<string> = fc.oneof(
  { arbitrary: fc.jsonValue({ maxDepth: 3 }).map((v) => JSON.stringify(v) ?? 'null'), weight: 4 },
  fc.tuple(fc.integer({ min: 20, max: 6000 }), fc.boolean()).map(([depth, list]) => (list ? nested(depth, '"x"') : nestedObject(depth, '1'))),
  fc.constantFrom('99999999999999999', '1e400', '-0', '5e-324', '9007199254740993', 'true', '""', '"\\ud800"', '"\\u0000"', '[]', '{}'),
  fc.constantFrom(...PROTOTYPE_NAMES).map((name) => `{${JSON.stringify(name)}: {"polluted": "yes"}}`),
  fc.integer({ min: 256, max: 70_000 }).map((n) => JSON.stringify('x'.repeat(n))),
  hostileString.map((s) => JSON.stringify(s)),
);

/** An object body with plausible and hostile keys, each with a plausible or hostile value. */
function objectBody(keys: string[], values: fc.Arbitrary<string>): fc.Arbitrary<string> {
  return fc
    .array(fc.tuple(fc.oneof(fc.constantFrom(...keys, ...PROTOTYPE_NAMES), hostileString), values), { maxLength: 6 })
    .map((members) => `{${members.map(([k, v]) => `${JSON.stringify(wellFormed(k))}: ${v}`).join(', ')}}`);
}

const imageValues = fc.oneof(
  { arbitrary: fc.constantFrom('"raw"', '"qcow2"', '"bare"', '"public"', '"private"', '"shared"', '"community"', 'true', '0', '["a", "b"]', 'null', '"x"').map(String), weight: 3 },
  hostileJsonValue,
);
const IMAGE_KEYS = ['name', 'disk_format', 'container_format', 'visibility', 'protected', 'os_hidden', 'min_ram', 'min_disk', 'tags', 'id', 'owner', 'status', 'size', 'locations', 'os_glance_x', 'os_skyglass_failure', 'os_hash_value', 'kernel_id', 'os_distro'];

const patchBody: fc.Arbitrary<string> = fc
  .array(
    fc.tuple(
      fc.constantFrom('add', 'replace', 'remove', 'move', 'test', 'ADD', ''),
      fc.oneof(fc.constantFrom(...IMAGE_KEYS, ...PROTOTYPE_NAMES).map((k) => `/${k}`), hostileString, fc.constantFrom('/', '//', '/a/b', '/tags/-', '/~2', 'name')),
      imageValues,
      fc.constantFrom('v2.1', 'v2.0', 'no-value', 'no-path'),
    ),
    { maxLength: 4 },
  )
  .map((ops) =>
    `[${ops
      .map(([op, path, value, shape]) => {
        const pointer = JSON.stringify(wellFormed(path));
        if (shape === 'v2.0') return `{${JSON.stringify(op)}: ${pointer}, "value": ${value}}`;
        if (shape === 'no-value') return `{"op": ${JSON.stringify(op)}, "path": ${pointer}}`;
        if (shape === 'no-path') return `{"op": ${JSON.stringify(op)}, "value": ${value}}`;
        return `{"op": ${JSON.stringify(op)}, "path": ${pointer}, "value": ${value}}`;
      })
      .join(', ')}]`,
  );

const sizeValues = fc.oneof(
  fc.constantFrom('16', '1', '0', '-1', '5242880', '6000000000000', '99999999999999999', '1e400', '1.5', '"16"', 'null', 'true'),
  hostileJsonValue,
);
const uploadBody = objectBody(['size', 'part_size', 'stage', 'checksum', 'os_hash_value'], sizeValues);
const completeBody: fc.Arbitrary<string> = fc.oneof(
  fc
    .array(fc.tuple(fc.oneof(sizeValues, fc.constantFrom('1', '2', '10001')), fc.oneof(fc.constant('"\\"etag\\""'), hostileJsonValue)), { maxLength: 4 })
    .map((parts) => `{"parts": [${parts.map(([n, etag]) => `{"part_number": ${n}, "etag": ${etag}}`).join(', ')}]}`),
  objectBody(['parts'], hostileJsonValue),
);
const importBody: fc.Arbitrary<string> = fc.oneof(
  fc.oneof(fc.constantFrom('"glance-direct"', '"web-download"', '"copy-image"'), hostileJsonValue).map((name) => `{"method": {"name": ${name}}}`),
  objectBody(['method', 'stores', 'all_stores'], hostileJsonValue),
);

/** Invalid UTF-8 inside a JSON string of an otherwise plausible body. */
const invalidUtf8 = fc.constantFrom([0xff], [0xc3], [0xed, 0xa0, 0x80], [0xc0, 0xaf], [0xf4, 0x90, 0x80, 0x80], [0xe2, 0x28, 0xa1]);

function jsonBodyFor(route: Route): fc.Arbitrary<string> {
  switch (route.operationId) {
    case 'createImage':
      return objectBody(IMAGE_KEYS, imageValues);
    case 'updateImage':
      return patchBody;
    case 'createImageUpload':
      return uploadBody;
    case 'completeImageUpload':
      return completeBody;
    case 'importImage':
      return importBody;
    default:
      return hostileJsonValue;
  }
}

/** A body the route accepts: what a well-behaved client sends. */
function plausibleBodyFor(route: Route): fc.Arbitrary<Buffer | undefined> {
  const text = (arbitrary: fc.Arbitrary<unknown>) => arbitrary.map((value) => Buffer.from(JSON.stringify(value)));
  const name = fc.string({ unit: 'grapheme', maxLength: 20 });
  switch (route.operationId) {
    case 'createImage':
      return text(
        fc.record(
          {
            name,
            disk_format: fc.constantFrom('raw', 'qcow2', 'iso'),
            container_format: fc.constantFrom('bare', 'ovf'),
            visibility: fc.constantFrom('private', 'shared', 'community'),
            tags: fc.array(fc.constantFrom('a', 'b', 'linux'), { maxLength: 3 }),
            min_ram: fc.nat(4096),
            os_distro: name,
          },
          { requiredKeys: [] },
        ),
      );
    case 'updateImage':
      return text(
        fc.array(
          fc.oneof(
            name.map((value) => ({ op: 'replace', path: '/name', value })),
            name.map((value) => ({ op: 'add', path: '/os_distro', value })),
            fc.constant({ op: 'remove', path: '/os_distro' }),
            fc.constant({ op: 'replace', path: '/tags', value: ['a'] }),
            fc.nat(4096).map((value) => ({ op: 'replace', path: '/min_ram', value })),
          ),
          { maxLength: 3 },
        ),
      );
    case 'createImageUpload':
      return text(fc.record({ size: fc.integer({ min: 1, max: 64 }), stage: fc.boolean() }, { requiredKeys: ['size'] }));
    case 'completeImageUpload':
      return fc.constantFrom(undefined, Buffer.from('{}'), Buffer.from('{"parts": [{"part_number": 1, "etag": "\\"x\\""}]}'));
    case 'importImage':
      return fc.constant(Buffer.from('{"method": {"name": "glance-direct"}}'));
    case 'uploadImageFile':
    case 'stageImageData':
      return fc.uint8Array({ minLength: 1, maxLength: 64 }).map((bytes) => Buffer.from(bytes));
    default:
      return fc.constant(undefined);
  }
}

function bodyFor(route: Route): fc.Arbitrary<Buffer | undefined> {
  const json = jsonBodyFor(route);
  return fc.oneof(
    { arbitrary: fc.constant(undefined), weight: 2 },
    { arbitrary: json.map((text) => Buffer.from(text)), weight: 6 },
    fc.tuple(json, invalidUtf8).map(([text, bytes]) => {
      const quote = text.indexOf('"', 1);
      const at = quote > 0 ? quote : Math.floor(text.length / 2);
      return Buffer.concat([Buffer.from(text.slice(0, at)), Buffer.from(bytes), Buffer.from(text.slice(at))]);
    }),
    hostileJsonValue.map((text) => Buffer.from(text)),
    fc.uint8Array({ maxLength: 512 }).map((bytes) => Buffer.from(bytes)),
    fc.constantFrom('', ' ', '{', '[', 'null', '"x"', '[]', '{}', '\ufeff{}').map((text) => Buffer.from(text)),
  );
}

function contentTypeFor(route: Route): fc.Arbitrary<string | undefined> {
  // Mostly what the route reads, so requests get past the media-type check.
  const usual = route.operationId === 'updateImage' ? PATCH_TYPES : route.method === 'PUT' ? ['application/octet-stream'] : ['application/json'];
  return mostly(fc.constantFrom(...usual), fc.oneof(fc.constantFrom(undefined, ...OTHER_TYPES, ...PATCH_TYPES), fc.stringMatching(/^[\x21-\x7e]{1,40}$/)));
}

/**
 * Mostly what a well-behaved client sends, sometimes hostile: each part of a request is drawn
 * independently this way, so most requests carry one or two hostile parts and get past every
 * check but those, down to the use cases and the table.
 */
function mostly<T>(plausible: fc.Arbitrary<T>, hostile: fc.Arbitrary<T>): fc.Arbitrary<T> {
  return fc.oneof({ arbitrary: plausible, weight: 4 }, { arbitrary: hostile, weight: 1 });
}

/** Every part of a request to `route`, each plausible or hostile. */
export function hostileRequest(route: Route): fc.Arbitrary<HostileRequest> {
  return fc.record({
    target: fc.constantFrom<TargetKind>('queued', 'queued-with-formats', 'queued-with-formats', 'active', 'with-upload-session', 'other-project', 'missing'),
    caller: mostly(fc.constant<CallerKind>('owner'), fc.constantFrom<CallerKind>('admin', 'other-project', 'no-token', 'garbage-token')),
    imageId: mostly(fc.constant<IdChoice>({ kind: 'target' }), idChoice),
    uploadId: mostly(fc.constant<IdChoice>({ kind: 'target' }), idChoice),
    tag: mostly(fc.constantFrom('linux', 'x86_64', 'a b').map(escaped), fc.oneof(fc.constant('t'.repeat(256)), wireComponent)),
    query: mostly(route.operationId === 'listImages' ? fc.constantFrom('', 'limit=2', 'sort=name:asc', 'tag=a', 'visibility=all') : fc.constant(''), query),
    headers: mostly(fc.constant([]), fc.array(fc.tuple(headerName, headerValue), { minLength: 1, maxLength: 4 })),
    contentType: contentTypeFor(route),
    accept: mostly(fc.constantFrom<string | undefined>(undefined, 'application/json'), fc.constantFrom(...ACCEPTS)),
    body: mostly(plausibleBodyFor(route), bodyFor(route)),
  });
}

/** Raw HTTP/1.1 requests Node's parser should refuse (or take): bad bytes, sizes and framing. */
export const malformedHttp: fc.Arbitrary<string | Buffer> = fc.oneof(
  // A forbidden byte (CR and LF aside: they would frame a second request) in a header name or value.
  fc.tuple(fc.integer({ min: 0, max: 0x1f }).filter((b) => b !== 0x0a && b !== 0x0d), fc.boolean()).map(([byte, inName]) =>
    Buffer.concat([
      Buffer.from(`GET /v2/images HTTP/1.1\r\nHost: x\r\nConnection: close\r\nX-${inName ? 'A' : 'B: a'}`),
      Buffer.from([byte]),
      Buffer.from(`${inName ? ': b' : 'b'}\r\n\r\n`),
    ]),
  ),
  // A request line or header over the parser's limit.
  fc.tuple(fc.integer({ min: 17_000, max: 70_000 }), fc.boolean()).map(([n, inUrl]) =>
    inUrl ? `GET /v2/images?q=${'a'.repeat(n)} HTTP/1.1\r\nHost: x\r\n\r\n` : `GET /v2/images HTTP/1.1\r\nHost: x\r\nX-Big: ${'b'.repeat(n)}\r\n\r\n`,
  ),
  // A chunk size that is not hexadecimal.
  fc.stringMatching(/^[g-zG-Z \-;=]{1,8}$/).map((size) => `POST /v2/images HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n${size}\r\nabc\r\n0\r\n\r\n`),
  // Conflicting framing.
  fc.constantFrom(
    'POST /v2/images HTTP/1.1\r\nHost: x\r\nContent-Length: 2\r\nContent-Length: 3\r\nConnection: close\r\n\r\n{}',
    'POST /v2/images HTTP/1.1\r\nHost: x\r\nContent-Length: 2\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n0\r\n\r\n',
    'POST /v2/images HTTP/1.1\r\nHost: x\r\nContent-Length: -1\r\nConnection: close\r\n\r\n',
    'POST /v2/images HTTP/1.1\r\nHost: x\r\nContent-Length: abc\r\nConnection: close\r\n\r\n',
  ),
  // A malformed request line, or a method Node treats apart.
  fc.constantFrom('CONNECT /v2/images HTTP/1.1\r\nHost: x\r\n\r\n', 'CONNECT 127.0.0.1:22 HTTP/1.1\r\n\r\n', 'PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n'),
  fc.tuple(fc.stringMatching(/^[\x21-\x7e]{1,10}$/), fc.constantFrom('HTTP/1.1', 'HTTP/9.9', 'HTTP/1', 'HTTX/1.1', '')).map(
    ([method, version]) => `${method} /v2/images ${version}\r\nHost: x\r\nConnection: close\r\n\r\n`,
  ),
);
