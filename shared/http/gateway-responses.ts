import { GlanceError } from '../domain/errors.js';
import { MAX_METADATA_BYTES } from '../domain/image.js';
import { errorEnvelope } from './response.js';

/**
 * API Gateway's own answers (the ones no Lambda writes). A gateway response cannot negotiate
 * on `Accept`, so they use the OpenStack envelope `{"error": {"code", "title", "message"}}`
 * (keystonemiddleware's 401 body, which a Keystone-backed Glance sends too), the one JSON
 * error shape that glanceclient, openstackclient and the SDKs all read. The stack installs
 * them as gateway responses (keyed by API Gateway's response type); the local runtime answers
 * with the same.
 */
export interface GatewayResponse {
  status: number;
  message: string;
  headers?: Record<string, string>;
}

/**
 * The 413's message. One gateway response answers for every route, and API Gateway fills a
 * gateway response's template by plain substitution of `$context` variables (no VTL, so no
 * branches): the message names the request it refused through `$context.httpMethod` and
 * `$context.resourcePath`, then every way image data of any size gets in without this body
 * (the upload extension and the skyglass CLI built on it, DESIGN.md §3; web-download import,
 * where offered; a stack with the data front, docs/data-front.md), and image metadata's own limit.
 */
export const UPLOAD_HINT =
  'Request body too large for $context.httpMethod $context.resourcePath: the API tier takes at most about 4.5 MB of body ' +
  `(6 MB once base64-encoded). Send image data of any size with the upload extension, POST /v2/images/{image_id}/uploads ` +
  `(the skyglass CLI uploads through it, in parallel parts), or have the service fetch it with the web-download import, ` +
  `POST /v2/images/{image_id}/import, where GET /v2/info/import offers it; a stack deployed with the data front ` +
  `(skyglass:dataFront=true) takes PUT /file and PUT /stage of any size at its CloudFront endpoint; ` +
  `image metadata (POST /v2/images, PATCH) is limited to ${MAX_METADATA_BYTES} bytes.`;

const AUTH_UNAVAILABLE = 'The authentication service is unavailable: the token could not be validated. Please try again at a later time.';

export const GATEWAY_RESPONSES = {
  // The authorizer threw "Unauthorized": no token, bad signature, expired, wrong issuer/audience.
  UNAUTHORIZED: {
    status: 401,
    message: 'This server could not verify that you are authorized to access the document you requested.',
    headers: { 'WWW-Authenticate': 'Bearer' },
  },
  // The authorizer answered a Deny policy.
  ACCESS_DENIED: { status: 403, message: 'Access was denied to this resource.' },
  // API Gateway's name for "no resource matches"; Glance answers 404 there.
  MISSING_AUTHENTICATION_TOKEN: { status: 404, message: 'The resource could not be found.' },
  REQUEST_TOO_LARGE: { status: 413, message: UPLOAD_HINT },
  THROTTLED: { status: 429, message: 'Too many requests, please slow down and retry later.' },
  // The authorizer failed or timed out (API Gateway's 500 with a null message): it could not
  // decide, e.g. Keystone unreachable in Keystone mode. A 503, as keystonemiddleware answers when
  // it cannot reach Keystone: the token may well be valid, so never a 401. Which of the two
  // types API Gateway uses for a thrown error differs by failure; both answer the same.
  AUTHORIZER_CONFIGURATION_ERROR: { status: 503, message: AUTH_UNAVAILABLE },
  AUTHORIZER_FAILURE: { status: 503, message: AUTH_UNAVAILABLE },
  // Authorizer crashes, integration failures and timeouts: never leak details.
  DEFAULT_5XX: { status: 500, message: 'The server has either erred or is incapable of performing the requested operation.' },
} as const satisfies Record<string, GatewayResponse>;

export type GatewayResponseType = keyof typeof GATEWAY_RESPONSES;

/**
 * The gateway responses of a deployment: in Keystone mode a 401 names the Keystone to get a
 * token from (`WWW-Authenticate: Keystone uri="…"`, keystonemiddleware's header, which the
 * OpenStack clients follow), in JWT mode it says `Bearer`.
 */
export function gatewayResponses(auth: { keystoneUrl?: string | undefined } = {}): Record<GatewayResponseType, GatewayResponse> {
  if (!auth.keystoneUrl) return GATEWAY_RESPONSES;
  return { ...GATEWAY_RESPONSES, UNAUTHORIZED: { ...GATEWAY_RESPONSES.UNAUTHORIZED, headers: { 'WWW-Authenticate': `Keystone uri="${auth.keystoneUrl}"` } } };
}

/** The body template of a gateway response, as the stack installs it (it may name `$context` variables). */
export function gatewayResponseBody(type: GatewayResponseType): string {
  const { status, message } = GATEWAY_RESPONSES[type];
  return JSON.stringify(errorEnvelope(status, new GlanceError(status, message).title, message));
}

/** The `$context` variables gateway response templates use, for one request. */
export interface GatewayContext {
  httpMethod: string;
  /** The matched resource's path template (`/v2/images/{image_id}/file`), or `/{proxy+}`. */
  resourcePath: string;
}

/** A gateway response's body as API Gateway answers it: the template with `$context` substituted. */
export function renderGatewayResponseBody(type: GatewayResponseType, context: GatewayContext): string {
  return gatewayResponseBody(type).replace(/\$context\.(httpMethod|resourcePath)\b/g, (_, name: keyof GatewayContext) =>
    // Substituted inside a JSON string: escaped as such, whatever the value holds.
    JSON.stringify(context[name]).slice(1, -1),
  );
}

/** API Gateway REST APIs take at most 10 MB; Lambda takes a 6 MB event, so the body must stay below. */
export const MAX_EVENT_BYTES = 6 * 1024 * 1024;
export const MAX_GATEWAY_BODY_BYTES = 10 * 1024 * 1024;
