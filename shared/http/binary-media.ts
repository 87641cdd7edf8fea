import { GlanceError } from '../domain/errors.js';
import type { HttpRequest } from './request.js';

/**
 * How request bodies reach the functions. API Gateway (REST, Lambda proxy) hands a function
 * the body base64-encoded, byte for byte, only when the request's Content-Type matches one of
 * the API's `binaryMediaTypes`; any other body arrives as a UTF-8-decoded string, every invalid
 * byte already replaced by U+FFFD. Declaring every media type binary means no function ever
 * sees a body that was changed on the way (`isBase64Encoded` is then always true, and
 * `fromApiGatewayEvent` decodes it). Responses are not affected: no function answers with
 * `isBase64Encoded`, so API Gateway passes every answer through as it was written.
 */
export const BINARY_MEDIA_TYPES: readonly string[] = ['*/*'];

/** The Glance media type of image data (glance/api/v2/image_data.py accepts nothing else). */
export const IMAGE_DATA_MEDIA_TYPE = 'application/octet-stream';

/** `type/subtype` of a Content-Type, lower-cased without parameters; undefined when there is none. */
export function mediaTypeOf(contentType: string | undefined): string | undefined {
  const type = contentType?.split(';')[0]?.trim().toLowerCase();
  return type ? type : undefined;
}

/**
 * Whether API Gateway treats a request with this Content-Type as binary: an exact entry,
 * `type/*` or `*` + `/*` matches. A request without Content-Type counts as application/json,
 * API Gateway's default for requests that name none.
 */
export function isBinaryMediaType(contentType: string | undefined, binaryMediaTypes: readonly string[] = BINARY_MEDIA_TYPES): boolean {
  const [type = '', subtype = ''] = (mediaTypeOf(contentType) ?? 'application/json').split('/');
  return binaryMediaTypes.some((entry) => {
    const [t, s] = entry.toLowerCase().split('/');
    return (t === '*' || t === type) && (s === '*' || s === subtype);
  });
}

/** The `body` and `isBase64Encoded` of the Lambda proxy event API Gateway builds for this request body. */
export function proxyEventBody(
  raw: Buffer,
  contentType: string | undefined,
  binaryMediaTypes: readonly string[] = BINARY_MEDIA_TYPES,
): { body: string | null; isBase64Encoded: boolean } {
  if (raw.length === 0) return { body: null, isBase64Encoded: false };
  if (isBinaryMediaType(contentType, binaryMediaTypes)) return { body: raw.toString('base64'), isBase64Encoded: true };
  return { body: raw.toString('utf8'), isBase64Encoded: false };
}

/**
 * The image data of `PUT /file` and `PUT /stage`. Glance's deserializer takes only
 * application/octet-stream (anything else, or no Content-Type, is 415), and so do we: a body
 * sent as text or a form is not image data, whatever bytes it holds. Unlike webob, the media
 * type is compared case-insensitively and may carry parameters, as RFC 9110 §8.3.1 allows.
 */
export function imageDataBody(req: Pick<HttpRequest, 'headers' | 'body'>): Buffer {
  checkImageDataType(req.headers);
  return req.body ?? Buffer.alloc(0);
}

/** The 415 of imageDataBody, for a streamed body (shared/http/data-front.ts). */
export function checkImageDataType(headers: HttpRequest['headers']): void {
  const type = mediaTypeOf(headers['content-type']);
  if (type !== IMAGE_DATA_MEDIA_TYPE) {
    const sent = type === undefined ? 'The request has no Content-Type' : `The request media type ${type} is not supported by this server`;
    throw new GlanceError(415, `${sent}. Image data must be sent as ${IMAGE_DATA_MEDIA_TYPE}.`);
  }
}
