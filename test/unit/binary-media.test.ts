/**
 * How request bodies reach the functions: the Lambda proxy event API Gateway builds (and the
 * local runtime builds the same way, with the same binaryMediaTypes the stack declares), and
 * what PUT /file and PUT /stage accept as image data.
 */
import { describe, expect, it } from 'vitest';
import { GlanceError } from '../../shared/domain/errors.js';
import { BINARY_MEDIA_TYPES, imageDataBody, isBinaryMediaType, proxyEventBody } from '../../shared/http/binary-media.js';
import type { HttpRequest } from '../../shared/http/request.js';

/** Every byte value, 16 times. */
const ALL_BYTES = Buffer.from(Array.from({ length: 4096 }, (_, i) => i % 256));

function request(headers: Record<string, string>, body: Buffer | null = ALL_BYTES): Pick<HttpRequest, 'headers' | 'body'> {
  return { headers, body: body ?? undefined };
}

describe('Lambda proxy event bodies', () => {
  it('the stack declares every media type binary', () => {
    expect(BINARY_MEDIA_TYPES).toEqual(['*/*']);
  });

  it.each(['application/octet-stream', 'text/plain', 'application/json', 'application/x-www-form-urlencoded; charset=utf-8', 'image/png', undefined])(
    'a %s body arrives base64-encoded and decodes to exactly the bytes sent',
    (contentType) => {
      const event = proxyEventBody(ALL_BYTES, contentType);
      expect(event.isBase64Encoded).toBe(true);
      expect(Buffer.from(event.body ?? '', 'base64')).toEqual(ALL_BYTES);
    },
  );

  it('an empty body is null, as API Gateway sends it', () => {
    expect(proxyEventBody(Buffer.alloc(0), 'application/octet-stream')).toEqual({ body: null, isBase64Encoded: false });
  });

  it('with only application/octet-stream binary, a text/plain body of 4,096 bytes 00..ff arrives as 8,192 bytes of replacement characters and ASCII', () => {
    const event = proxyEventBody(ALL_BYTES, 'text/plain', ['application/octet-stream']);
    expect(event.isBase64Encoded).toBe(false);
    expect(Buffer.byteLength(event.body ?? '', 'utf8')).toBe(8192);
    expect(proxyEventBody(ALL_BYTES, 'application/octet-stream', ['application/octet-stream']).isBase64Encoded).toBe(true);
  });

  it('matches media types as API Gateway does: exact, type/*, */*, case and parameters ignored; no Content-Type counts as application/json', () => {
    expect(isBinaryMediaType('Application/Octet-Stream; x=y', ['application/octet-stream'])).toBe(true);
    expect(isBinaryMediaType('image/png', ['image/*'])).toBe(true);
    expect(isBinaryMediaType('text/plain', ['image/*', 'application/octet-stream'])).toBe(false);
    expect(isBinaryMediaType(undefined, ['application/json'])).toBe(true);
    expect(isBinaryMediaType(undefined, ['application/octet-stream'])).toBe(false);
  });
});

describe('image data bodies (PUT /file, PUT /stage)', () => {
  it('takes application/octet-stream, with any case and parameters', () => {
    expect(imageDataBody(request({ 'content-type': 'application/octet-stream' }))).toEqual(ALL_BYTES);
    expect(imageDataBody(request({ 'content-type': 'APPLICATION/octet-stream ; charset=binary' }))).toEqual(ALL_BYTES);
    expect(imageDataBody(request({ 'content-type': 'application/octet-stream' }, null))).toEqual(Buffer.alloc(0));
  });

  it.each([
    [{ 'content-type': 'text/plain' }, 'The request media type text/plain is not supported by this server'],
    [{ 'content-type': 'application/json; charset=utf-8' }, 'The request media type application/json is not supported by this server'],
    [{ 'content-type': 'application/octet-streamx' }, 'The request media type application/octet-streamx is not supported by this server'],
    [{ 'content-type': '' }, 'The request has no Content-Type'],
    [{}, 'The request has no Content-Type'],
  ])('refuses %o with 415', (headers, message) => {
    let error: unknown;
    try {
      imageDataBody(request(headers));
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(GlanceError);
    expect((error as GlanceError).status).toBe(415);
    expect((error as GlanceError).message).toBe(`${message}. Image data must be sent as application/octet-stream.`);
  });
});
