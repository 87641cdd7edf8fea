import { GlanceError } from '../domain/errors.js';
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

/** The 413 message that points clients at the upload extension (DESIGN.md §3). */
export const UPLOAD_HINT =
  "Image data larger than the API tier's limit must be uploaded with POST /v2/images/{image_id}/uploads";

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
  // Authorizer crashes, integration failures and timeouts: never leak details.
  DEFAULT_5XX: { status: 500, message: 'The server has either erred or is incapable of performing the requested operation.' },
} as const satisfies Record<string, GatewayResponse>;

export type GatewayResponseType = keyof typeof GATEWAY_RESPONSES;

export function gatewayResponseBody(type: GatewayResponseType): string {
  const { status, message } = GATEWAY_RESPONSES[type];
  return JSON.stringify(errorEnvelope(status, new GlanceError(status, message).title, message));
}

/** API Gateway REST APIs take at most 10 MB; Lambda takes a 6 MB event, so the body must stay below. */
export const MAX_EVENT_BYTES = 6 * 1024 * 1024;
export const MAX_GATEWAY_BODY_BYTES = 10 * 1024 * 1024;
