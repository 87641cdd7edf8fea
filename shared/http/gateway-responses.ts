/**
 * API Gateway's own answers (the ones no Lambda writes), in Glance's error shape. The stack
 * installs them as gateway responses; the local runtime answers with the same bodies.
 */
export const UPLOAD_HINT =
  'Request body is larger than the API tier accepts; upload image data with POST /v2/images/{image_id}/uploads instead.';

export const GATEWAY_RESPONSES = {
  UNAUTHORIZED: { status: 401, message: 'The request you have made requires authentication.' },
  ACCESS_DENIED: { status: 403, message: 'Access was denied to this resource.' },
  REQUEST_TOO_LARGE: { status: 413, message: UPLOAD_HINT },
  MISSING_AUTHENTICATION_TOKEN: { status: 404, message: 'The resource could not be found.' },
  DEFAULT_5XX: { status: 500, message: 'The server has either erred or is incapable of performing the requested operation.' },
} as const;

/** API Gateway REST APIs take at most 10 MB; Lambda takes a 6 MB event, so the body must stay below. */
export const MAX_EVENT_BYTES = 6 * 1024 * 1024;
export const MAX_GATEWAY_BODY_BYTES = 10 * 1024 * 1024;
