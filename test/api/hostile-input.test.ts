import { randomUUID } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { call, createImage, patch, PATCH_TYPE, tokenFor, uniqueProject, type CallResult } from './client.js';

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
  // Glance reads a create body whatever its Content-Type. Sent as application/octet-stream the
  // bytes reach the function as they are (binaryMediaTypes); once every media type is binary
  // (item 2), application/json and the patch media types do too, and get the same answer.
  const BYTES_AS_SENT = { 'Content-Type': 'application/octet-stream' };

  it("refuses a create body with invalid UTF-8 inside a string with 400, as Glance's JSON parser does, and creates nothing", async () => {
    const project = uniqueProject();
    const token = await tokenFor(project);
    for (const bytes of invalid) {
      const body = Buffer.concat([Buffer.from('{"name": "a'), bytes, Buffer.from('b"}')]);
      const res = await call('/v2/images', { method: 'POST', token, body, headers: BYTES_AS_SENT });
      expectGlanceError(res, 400);
      expect(res.body.message).toBe('Malformed JSON in request body.');
    }
    expect(await ownImages(token, project)).toEqual([]);
  });

  it('keeps valid multi-byte UTF-8 as sent', async () => {
    const token = await tokenFor(uniqueProject());
    const name = 'zażółć 🐧 ☃';
    for (const headers of [BYTES_AS_SENT, { 'Content-Type': 'application/json' }]) {
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
