import { randomUUID } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { ROUTES } from '../../shared/routes.js';
import { call, createImage, patch, PATCH_TYPE, tokenFor, uniqueProject, type CallResult } from './client.js';
import { httpRequest, rawRequest } from './raw-http.js';

/**
 * Bad and hostile input, one defect at a time (issue #8, items 9-12, 14 and 20): each answer is
 * a Glance JSON error with the right status, never a 5xx, and nothing is written behind it.
 * test/fuzz/ sends the same kinds of input at random to every route.
 */

const RAW = { disk_format: 'raw', container_format: 'bare' };

function expectGlanceError(res: Pick<CallResult, 'status' | 'headers' | 'text' | 'body'>, status: number) {
  expect(res.status, res.text.slice(0, 300)).toBe(status);
  expect(res.headers.get('content-type')).toContain('application/json');
  // The client asks for JSON, so handlers answer Glance's flat shape.
  expect(res.body).toEqual({ message: expect.any(String), code: `${status} ${res.body?.title}`, title: expect.any(String) });
  expect(res.text).not.toMatch(/\bat .*\.(ts|js):\d+|RangeError|TypeError|ValidationException/);
}

/** Every image of a project, hidden ones included, straight from the API. */
async function ownImages(token: string, project: string): Promise<Array<Record<string, any>>> {
  const shown = await call(`/v2/images?limit=1000&owner=${project}`, { token });
  const hidden = await call(`/v2/images?limit=1000&owner=${project}&os_hidden=true`, { token });
  return [...shown.body.images, ...hidden.body.images];
}

const nested = (depth: number, leaf = '"x"') => '['.repeat(depth) + leaf + ']'.repeat(depth);
const nestedObject = (depth: number) => '{"a":'.repeat(depth) + '1' + '}'.repeat(depth);

describe('deeply nested JSON (item 9)', () => {
  it('refuses a create body nested 5,000 deep anywhere with 400 and creates nothing', async () => {
    const project = uniqueProject();
    const token = await tokenFor(project);
    const bodies = [
      nested(5000),
      nestedObject(5000),
      `{"name": ${nested(5000)}}`,
      `{"tags": ${nested(5000)}}`,
      `{"tags": ["a", ${nested(5000)}]}`,
      `{"os_distro": ${nested(5000)}}`,
      `{"min_ram": ${nestedObject(5000)}}`,
    ];
    for (const body of bodies) {
      const res = await call('/v2/images', { method: 'POST', token, body, headers: { 'Content-Type': 'application/json' } });
      expectGlanceError(res, 400);
      expect(res.body.message).toMatch(/^Malformed JSON in request body/);
    }
    expect(await ownImages(token, project)).toEqual([]);
  });

  it('refuses a JSON-patch nested 5,000 deep in a value, an op or a path with 400 and changes nothing', async () => {
    const token = await tokenFor(uniqueProject());
    const image = await createImage(token, { name: 'flat' });
    const bodies = [
      `[{"op": "add", "path": "/foo", "value": ${nested(5000)}}]`,
      `[{"op": "replace", "path": "/tags", "value": ${nested(5000)}}]`,
      `[{"op": ${nested(5000)}, "path": "/foo", "value": "v"}]`,
      `[{"op": "add", "path": ${nested(5000)}, "value": "v"}]`,
      `[{"op": "add", "path": ${nestedObject(5000)}, "value": "v"}]`,
      nested(5000),
    ];
    for (const body of bodies) {
      const res = await call(`/v2/images/${image.id}`, { method: 'PATCH', token, body, headers: { 'Content-Type': PATCH_TYPE } });
      expectGlanceError(res, 400);
    }
    // The 2.0 media type names the op as a key: the pointer is the deep value.
    const draft4 = await call(`/v2/images/${image.id}`, {
      method: 'PATCH', token, body: `[{"add": ${nested(5000)}, "value": "v"}]`,
      headers: { 'Content-Type': 'application/openstack-images-v2.0-json-patch' },
    });
    expectGlanceError(draft4, 400);
    expect((await call(`/v2/images/${image.id}`, { token })).body).toEqual(image);
  });

  it('refuses deep JSON on the upload, complete and import routes with 400', async () => {
    const token = await tokenFor(uniqueProject());
    const image = await createImage(token, { name: 'data', ...RAW });
    const upload = `/v2/images/${image.id}/uploads/${randomUUID()}`;
    for (const [path, body] of [
      [`/v2/images/${image.id}/uploads`, `{"size": ${nested(5000, '1')}}`],
      [`${upload}/complete`, `{"parts": ${nested(5000)}}`],
      [`/v2/images/${image.id}/import`, `{"method": ${nestedObject(5000)}}`],
    ] as const) {
      const res = await call(path, { method: 'POST', token, body, headers: { 'Content-Type': 'application/json' } });
      expectGlanceError(res, 400);
    }
    expect((await call(`/v2/images/${image.id}`, { token })).body).toEqual(image);
  });

  it('still accepts ordinary nesting', async () => {
    const token = await tokenFor(uniqueProject());
    const image = await createImage(token, { name: 'n', tags: ['a', 'b'] });
    const res = await patch(token, image.id, [{ op: 'replace', path: '/tags', value: ['c'] }]);
    expect(res.status).toBe(200);
    expect(res.body.tags).toEqual(['c']);
  });
});

describe('invalid UTF-8 in a JSON body (item 12)', () => {
  const invalid = [Buffer.from([0xff]), Buffer.from([0xc3]), Buffer.from([0xed, 0xa0, 0x80]), Buffer.from([0xf8, 0x88, 0x80, 0x80, 0x80])];
  // Glance reads a create body whatever its Content-Type; every media type reaches the
  // function byte for byte (binaryMediaTypes */*), so each gets the same answer.
  it.each(['application/json', 'application/octet-stream', 'text/plain'])(
    "refuses a create body with invalid UTF-8 inside a string with 400, as Glance's JSON parser does, and creates nothing (%s)",
    async (contentType) => {
      const project = uniqueProject();
      const token = await tokenFor(project);
      for (const bytes of invalid) {
        const body = Buffer.concat([Buffer.from('{"name": "a'), bytes, Buffer.from('b"}')]);
        const res = await call('/v2/images', { method: 'POST', token, body, headers: { 'Content-Type': contentType } });
        expectGlanceError(res, 400);
        expect(res.body.message).toBe('Malformed JSON in request body.');
      }
      expect(await ownImages(token, project)).toEqual([]);
    },
  );

  it('refuses a JSON patch with invalid UTF-8 in a value with 400, changing nothing', async () => {
    const token = await tokenFor(uniqueProject());
    const image = await createImage(token, { name: 'before' });
    const body = Buffer.concat([Buffer.from('[{"op": "replace", "path": "/name", "value": "a'), Buffer.from([0xff]), Buffer.from('"}]')]);
    const res = await call(`/v2/images/${image.id}`, { method: 'PATCH', token, body, headers: { 'Content-Type': PATCH_TYPE } });
    expectGlanceError(res, 400);
    const after = await call(`/v2/images/${image.id}`, { token });
    expect([after.body.name, after.body.updated_at]).toEqual(['before', image.updated_at]);
  });

  it('refuses unpaired surrogate escapes (invalid UTF-8 in escaped form) in a create or a patch with 400, writing nothing', async () => {
    const project = uniqueProject();
    const token = await tokenFor(project);
    for (const body of ['{"name": "\\ud800"}', '{"os_distro": "a\\udfff"}', '{"tags": ["\\udbff"]}', '{"\\ud800": "v"}']) {
      const res = await call('/v2/images', { method: 'POST', token, body, headers: { 'Content-Type': 'application/json' } });
      expectGlanceError(res, 400);
      expect(res.body.message, body).toMatch(/^Malformed JSON in request body/);
    }
    expect(await ownImages(token, project)).toEqual([]);
    const image = await createImage(token, { name: 'paired \ud83d\udc27' });
    expect(image.name).toBe('paired 🐧');
    const res = await patch(token, image.id, [{ op: 'replace', path: '/name', value: '\ud800' }]);
    expectGlanceError(res, 400);
    expect((await call(`/v2/images/${image.id}`, { token })).body).toEqual(image);
  });

  it('keeps valid multi-byte UTF-8 as sent', async () => {
    const token = await tokenFor(uniqueProject());
    const name = 'zażółć 🐧 ☃';
    for (const headers of [{ 'Content-Type': 'application/octet-stream' }, { 'Content-Type': 'application/json' }]) {
      const res = await call('/v2/images', { method: 'POST', token, body: Buffer.from(JSON.stringify({ name }), 'utf8'), headers });
      expect(res.status).toBe(201);
      expect(res.body.name).toBe(name);
    }
  });
});

describe('upload sizes beyond the largest image (item 12)', () => {
  it('says a size of 99999999999999999 exceeds the largest image, as it says for 6 TB, and opens nothing', async () => {
    const token = await tokenFor(uniqueProject());
    const image = await createImage(token, { name: 'huge', ...RAW });
    const sixTb = await call(`/v2/images/${image.id}/uploads`, { method: 'POST', token, json: { size: 6e12 } });
    expectGlanceError(sixTb, 400);
    expect(sixTb.body.message).toMatch(/exceeds the largest image/);
    for (const size of [99999999999999999, 1e300, 2 ** 53]) {
      const res = await call(`/v2/images/${image.id}/uploads`, { method: 'POST', token, body: `{"size": ${size}}`, headers: { 'Content-Type': 'application/json' } });
      expectGlanceError(res, 400);
      expect(res.body.message, String(size)).toMatch(/exceeds the largest image, 5497558138880 bytes/);
    }
    expect((await call(`/v2/images/${image.id}`, { token })).body).toEqual(image);
  });
});

const ID_ROUTES = ROUTES.filter((route) => route.path.includes('{image_id}'));

/** A concrete path for a route, with these ids in place of its parameters. */
function pathOf(template: string, imageId: string, uploadId = randomUUID(), tag = 'tag'): string {
  return template
    .replace('{image_id}', encodeURIComponent(imageId))
    .replace('{upload_id}', encodeURIComponent(uploadId))
    .replace('{tag_value}', encodeURIComponent(tag))
    .replace('{member_id}', 'some-project')
    .replace('{store_id}', 'us');
}

/** A body each route would parse, so the answer is about the id and nothing else. */
function plausibleBody(operationId: string): { body?: string | Buffer; headers?: Record<string, string> } {
  switch (operationId) {
    case 'updateImage':
      return { body: JSON.stringify([{ op: 'replace', path: '/name', value: 'n' }]), headers: { 'Content-Type': PATCH_TYPE } };
    case 'createImageUpload':
      return { body: JSON.stringify({ size: 10 }), headers: { 'Content-Type': 'application/json' } };
    case 'importImage':
      return { body: JSON.stringify({ method: { name: 'glance-direct' } }), headers: { 'Content-Type': 'application/json' } };
    case 'createImageMember':
      return { body: JSON.stringify({ member: 'some-project' }), headers: { 'Content-Type': 'application/json' } };
    case 'updateImageMember':
      return { body: JSON.stringify({ status: 'accepted' }), headers: { 'Content-Type': 'application/json' } };
    case 'uploadImageFile':
    case 'stageImageData':
      return { body: Buffer.from('data'), headers: { 'Content-Type': 'application/octet-stream' } };
    default:
      return {};
  }
}

describe('ids that are not UUIDs (item 10)', () => {
  it('covers the 24 id routes (GET /v2/images/{image_id}/tasks the 24th)', () => {
    expect(ID_ROUTES).toHaveLength(24);
  });

  it('answers 404 on every id route for ids over 2,042 bytes and other non-UUIDs', async () => {
    const admin = await tokenFor(uniqueProject('adm'), ['admin']);
    const ids = ['a'.repeat(3000), 'é'.repeat(1100), `${randomUUID()}${'0'.repeat(2100)}`, 'not-a-uuid', randomUUID().replace(/-/g, ''), '%2e%2e'];
    for (const route of ID_ROUTES) {
      for (const id of ids) {
        const res = await call(pathOf(route.path, id), { method: route.method, token: admin, ...plausibleBody(route.operationId) });
        expectGlanceError(res, 404);
      }
    }
  });

  it('answers 400 for a marker over 2,042 bytes or not a UUID, as for an unknown marker', async () => {
    const token = await tokenFor(uniqueProject());
    for (const marker of ['a'.repeat(3000), `${randomUUID()}x`, 'x']) {
      const res = await call(`/v2/images?marker=${encodeURIComponent(marker)}`, { token });
      expectGlanceError(res, 400);
      expect(res.body.message).toMatch(/^No image found with ID /);
    }
  });
});

describe('upper-case ids (item 14)', () => {
  it('answers 409 to a create with an existing id in upper case, as Glance does', async () => {
    const project = uniqueProject();
    const token = await tokenFor(project);
    const image = await createImage(token, { name: 'first' });
    const again = await call('/v2/images', { method: 'POST', token, json: { id: image.id.toUpperCase(), name: 'second' } });
    expectGlanceError(again, 409);
    expect((await ownImages(token, project)).map((i) => i.id)).toEqual([image.id]);
  });

  it('stores a client-chosen upper-case id in lower case and finds the image by either case on every path', async () => {
    const token = await tokenFor(uniqueProject());
    const id = randomUUID();
    const created = await call('/v2/images', { method: 'POST', token, json: { id: id.toUpperCase(), name: 'upper', ...RAW } });
    expect(created.status).toBe(201);
    expect(created.body.id).toBe(id);
    expect(created.headers.get('location')).toMatch(new RegExp(`/v2/images/${id}$`));
    const upper = id.toUpperCase();
    expect((await call(`/v2/images/${upper}`, { token })).body.id).toBe(id);
    expect((await patch(token, upper, [{ op: 'add', path: '/os_distro', value: 'x' }])).status).toBe(200);
    expect((await call(`/v2/images/${upper}/tags/t`, { method: 'PUT', token })).status).toBe(204);
    expect((await call(`/v2/images?id=${upper}`, { token })).body.images.map((i: { id: string }) => i.id)).toEqual([id]);
    const session = await call(`/v2/images/${upper}/uploads`, { method: 'POST', token, json: { size: 4 } });
    expect(session.status).toBe(201);
    expect(session.body.image_id).toBe(id);
    const shown = await call(`/v2/images/${upper}/uploads/${String(session.body.upload_id).toUpperCase()}`, { token });
    expect(shown.status).toBe(200);
    expect(shown.body.upload_id).toBe(session.body.upload_id);
    expect((await call(`/v2/images/${upper}/uploads/${session.body.upload_id}`, { method: 'DELETE', token })).status).toBe(204);
    expect((await call(`/v2/images/${upper}`, { method: 'DELETE', token })).status).toBe(204);
    expect((await call(`/v2/images/${id}`, { token })).status).toBe(404);
  });

  it('pages with an upper-case marker', async () => {
    const project = uniqueProject();
    const token = await tokenFor(project);
    const older = await createImage(token, { name: 'older' });
    await new Promise((r) => setTimeout(r, 1100)); // created_at has whole seconds
    const newer = await createImage(token, { name: 'newer' });
    const page = await call(`/v2/images?owner=${project}&marker=${newer.id.toUpperCase()}`, { token });
    expect(page.status).toBe(200);
    expect(page.body.images.map((i: { id: string }) => i.id)).toEqual([older.id]);
  });
});

describe("query keys and header names from Object.prototype (item 11)", () => {
  const names = ['constructor', '__proto__', 'toString', 'hasOwnProperty', 'valueOf', '__defineGetter__', 'prototype'];

  it('treats them as ordinary query keys: filters on custom properties of that name', async () => {
    const project = uniqueProject();
    const token = await tokenFor(project);
    await createImage(token, { name: 'plain' });
    for (const name of names) {
      const res = await call(`/v2/images?owner=${project}&${encodeURIComponent(name)}=1`, { token });
      expect(res.status, name).toBe(200);
      expect(res.body.images, name).toEqual([]);
      expect(res.body.first, name).toContain(`${encodeURIComponent(name)}=1`);
      const twice = await call(`/v2/images?${encodeURIComponent(name)}=1&${encodeURIComponent(name)}=2`, { token });
      expect(twice.status, name).toBe(200);
    }
  });

  it('treats them as ordinary header names on every kind of route', async () => {
    const token = await tokenFor(uniqueProject());
    const image = await createImage(token, { name: 'h' });
    for (const name of names) {
      for (const [method, target] of [['GET', '/v2/images'], ['GET', `/v2/images/${image.id}`], ['GET', '/versions'], ['GET', '/v2/nowhere']] as const) {
        const res = await rawRequest(httpRequest(method, target, [['X-Auth-Token', token], ['Accept', 'application/json'], [name, 'x'], [name, 'y']]));
        expect(res.status, `${name} ${target}`).toBeLessThan(500);
        expect(res.headers.get('content-type'), `${name} ${target}`).toContain('application/json');
      }
      const created = await rawRequest(httpRequest('POST', '/v2/images', [['X-Auth-Token', token], ['Content-Type', 'application/json'], [name, 'x']], '{"name": "via raw"}'));
      expect(created.status, name).toBe(201);
    }
  });
});

describe('request targets the URL parser refuses (item 11)', () => {
  it('answers //, ///v2/images, * and odd absolute forms without a 5xx, in JSON', async () => {
    const token = await tokenFor(uniqueProject());
    for (const target of ['//', '///', '//v2/images', '///v2/images', '*', 'http:', 'http://[::1', 'x:/v2/images', '//%zz']) {
      const res = await rawRequest(httpRequest('GET', target, [['X-Auth-Token', token], ['Accept', 'application/json']]));
      expect(res.status, target).toBeLessThan(500);
      expect(res.headers.get('content-type'), target).toContain('application/json');
      expect(res.body, target).toBeDefined();
    }
  });
});

describe("the HTTP parser's own refusals (item 11)", () => {
  /** Glance's error shape as the gateway answers it: the OpenStack envelope, since there is nothing to negotiate with. */
  function expectEnvelope(res: { status: number; headers: Map<string, string>; body: any }, status: number) {
    expect(res.status).toBe(status);
    expect(res.headers.get('content-type')).toContain('application/json');
    expect(res.body).toEqual({ error: { code: status, title: expect.any(String), message: expect.any(String) } });
    expect(res.body.error.title).not.toBe('Error');
  }

  it('answers a huge query string with a JSON 414', async () => {
    const token = await tokenFor(uniqueProject());
    expectEnvelope(await rawRequest(httpRequest('GET', `/v2/images?${'a=1&'.repeat(20_000)}`, [['X-Auth-Token', token]])), 414);
  });

  it('answers huge headers with a JSON 431', async () => {
    expectEnvelope(await rawRequest(httpRequest('GET', '/v2/images', [['X-Big', 'b'.repeat(40_000)]])), 431);
  });

  it('answers a bad chunk size, a NUL in a header and a malformed request line with a JSON 400', async () => {
    const chunked = 'POST /v2/images HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\nzz\r\nabc\r\n0\r\n\r\n';
    expectEnvelope(await rawRequest(chunked), 400);
    expectEnvelope(await rawRequest('GET /v2/images HTTP/1.1\r\nHost: x\r\nX-A: a\0b\r\nConnection: close\r\n\r\n'), 400);
    expectEnvelope(await rawRequest('GET /v2/images HTTP/1.1\r\nHost: x\r\nBad Header: 1\r\nConnection: close\r\n\r\n'), 400);
    expectEnvelope(await rawRequest('G@T / HTTP/1.1\r\nHost: x\r\n\r\n'), 400);
    expectEnvelope(await rawRequest('GET / HTTP/9.9\r\nHost: x\r\n\r\n'), 400);
  });

  it('answers CONNECT, which Node would close unanswered, with a JSON 405', async () => {
    expectEnvelope(await rawRequest('CONNECT /v2/images HTTP/1.1\r\nHost: x\r\n\r\n'), 405);
  });
});

describe('the 413 names what was refused and its alternative (item 20)', () => {
  // Image data over the limit: the local runtime streams it through its data front
  // (test/api/streamed-data.test.ts); the serverless stack's 413 for it is test/unit/gateway-responses.test.ts.
  it('answers a 7 MB JSON body on POST /v2/images naming the create and the metadata limit', async () => {
    const project = uniqueProject();
    const token = await tokenFor(project);
    const res = await call('/v2/images', { method: 'POST', token, json: { name: 'x', os_blob: 'y'.repeat(7 * 1024 * 1024) } });
    expect(res.status).toBe(413);
    expect(res.body.error.message).toMatch(/^Request body too large for POST \/v2\/images: /);
    expect(res.body.error.message).toContain('image metadata (POST /v2/images, PATCH) is limited to 350000 bytes');
    expect(res.body.error.message).not.toMatch(/^Image data/);
    expect(await ownImages(token, project)).toEqual([]);
  });
});
