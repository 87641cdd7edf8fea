import type { HttpResponse } from './response.js';

/**
 * CORS for the browser console when it is served from another origin than the API (the stack's
 * CloudFront distribution calling API Gateway). Exactly one origin is allowed, the console's
 * (`CONSOLE_ORIGIN`, set by the stack); without it the API sends no CORS headers at all, as
 * before (the local runtime serves the console from the API's own origin). The console sends its
 * token in X-Auth-Token, never a cookie, so credentials are never allowed.
 */
export const CONSOLE_ORIGIN_ENV = 'CONSOLE_ORIGIN';

/** The request headers the console sends: Accept, Content-Type (JSON, JSON patch) and the token. */
export const CORS_ALLOWED_HEADERS = ['Accept', 'Content-Type', 'X-Auth-Token'] as const;
/** Response headers the console may read besides the CORS-safelisted ones. */
export const CORS_EXPOSED_HEADERS = ['X-Openstack-Request-Id', 'Location'] as const;
/** How long a browser may reuse a preflight's answer (Chromium caps it at 2 hours). */
export const CORS_MAX_AGE_SECONDS = 600;

let configured: string | null | undefined;

/** The one origin allowed, read once per process. */
export function consoleOrigin(): string | null {
  if (configured === undefined) configured = process.env[CONSOLE_ORIGIN_ENV]?.trim() || null;
  return configured;
}

function originOf(headers: Record<string, string | undefined> | null | undefined): string | undefined {
  for (const [name, value] of Object.entries(headers ?? {})) if (name.toLowerCase() === 'origin') return value;
  return undefined;
}

/**
 * The headers that let the console read an answer: only when the request comes from the console's
 * origin (any other origin gets none, so its scripts cannot read the answer). `Vary: Origin`
 * either way, so no cache serves one origin's answer to another.
 */
export function corsHeaders(requestHeaders: Record<string, string | undefined> | null | undefined, allowed = consoleOrigin()): Record<string, string> {
  if (!allowed) return {};
  if (originOf(requestHeaders) !== allowed) return { Vary: 'Origin' };
  return { 'Access-Control-Allow-Origin': allowed, 'Access-Control-Expose-Headers': CORS_EXPOSED_HEADERS.join(', '), Vary: 'Origin' };
}

/**
 * The answer to a browser's preflight (OPTIONS with Access-Control-Request-Method) from the
 * console's origin for a path that has routes, naming that path's methods; undefined for anything
 * else, which is then answered as any other OPTIONS (405 with Allow, as Glance does).
 */
export function preflightResponse(
  method: string,
  requestHeaders: Record<string, string | undefined>,
  pathMethods: readonly string[],
  allowed = consoleOrigin(),
): HttpResponse | undefined {
  if (method !== 'OPTIONS' || !allowed || pathMethods.length === 0) return undefined;
  const lower = Object.fromEntries(Object.entries(requestHeaders).map(([k, v]) => [k.toLowerCase(), v]));
  if (lower.origin !== allowed || !lower['access-control-request-method']) return undefined;
  return {
    statusCode: 204,
    headers: {
      'Access-Control-Allow-Origin': allowed,
      'Access-Control-Allow-Methods': pathMethods.join(', '),
      'Access-Control-Allow-Headers': CORS_ALLOWED_HEADERS.join(', '),
      'Access-Control-Max-Age': String(CORS_MAX_AGE_SECONDS),
      Vary: 'Origin',
    },
    body: '',
  };
}
