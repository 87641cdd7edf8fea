import type { APIGatewayProxyEvent } from 'aws-lambda';
import { makeCaller, type Caller } from '../domain/caller.js';
import { canonicalId } from '../domain/image.js';
import { parseJsonBody } from '../domain/json-body.js';

/** A request as the handlers see it, decoupled from API Gateway's event shape. */
export interface HttpRequest {
  method: string;
  path: string;
  pathParameters: Record<string, string>;
  /** Every value of every query key, decoded, in the order sent. */
  query: Record<string, string[]>;
  /** The query string re-encoded from `query` (API Gateway REST events carry no raw query). */
  rawQuery: string | null;
  /** Lower-cased header names. */
  headers: Record<string, string>;
  body: Buffer | undefined;
  caller: Caller;
  /** Scheme, host and stage prefix the client called, for absolute links (`Location`, version hrefs). */
  baseUrl: string;
  /** This request's `X-Openstack-Request-Id` (`req-<uuid>`), which the response carries and tasks record. */
  requestId: string;
}

/**
 * Authorizer context keys; the authorizer writes them, `callerFrom` reads them. API Gateway
 * carries only strings, numbers and booleans there, so `roles` is a JSON array of strings.
 */
export const AUTH_CONTEXT = { project: 'projectId', user: 'userId', roles: 'roles' } as const;

export function callerFrom(event: APIGatewayProxyEvent): Caller {
  const ctx = (event.requestContext?.authorizer ?? {}) as Record<string, unknown>;
  const str = (v: unknown) => (typeof v === 'string' && v.length > 0 ? v : null);
  return makeCaller(str(ctx[AUTH_CONTEXT.project]), str(ctx[AUTH_CONTEXT.user]), rolesFrom(ctx[AUTH_CONTEXT.roles]));
}

/** The roles list the authorizer encoded; anything that is not a JSON array of strings is no roles (never split). */
function rolesFrom(value: unknown): string[] {
  if (typeof value !== 'string') return [];
  let roles: unknown;
  try {
    roles = JSON.parse(value);
  } catch {
    return [];
  }
  return Array.isArray(roles) && roles.every((r) => typeof r === 'string') ? roles : [];
}

/** Path parameters that hold ids: every use case sees them in their one spelling (lower case). */
const ID_PARAMETERS = new Set(['image_id', 'upload_id']);

export function fromApiGatewayEvent(event: APIGatewayProxyEvent, requestId = `req-${crypto.randomUUID()}`): HttpRequest {
  // Header names and query keys are the client's: prototype-less records keep `__proto__`,
  // `constructor` and `toString` ordinary keys (an assignment never reaches a setter).
  const headers: Record<string, string> = Object.create(null);
  for (const [k, v] of Object.entries(event.headers ?? {})) if (v !== undefined) headers[k.toLowerCase()] = v;
  const query: Record<string, string[]> = Object.create(null);
  for (const [k, v] of Object.entries(event.multiValueQueryStringParameters ?? {})) if (v) query[k] = [...v];
  for (const [k, v] of Object.entries(event.queryStringParameters ?? {})) if (v !== undefined && !Object.hasOwn(query, k)) query[k] = [v];
  const pathParameters: Record<string, string> = Object.create(null);
  for (const [k, v] of Object.entries(event.pathParameters ?? {})) if (v !== undefined) pathParameters[k] = ID_PARAMETERS.has(k) ? canonicalId(v) : v;
  const pairs = Object.entries(query).flatMap(([k, vs]) => vs.map((v) => `${encodeURIComponent(k)}=${encodeURIComponent(v)}`));
  return {
    method: event.httpMethod,
    path: event.path,
    pathParameters,
    query,
    rawQuery: pairs.length ? pairs.join('&') : null,
    headers,
    body: event.body == null ? undefined : Buffer.from(event.body, event.isBase64Encoded ? 'base64' : 'utf8'),
    caller: callerFrom(event),
    baseUrl: baseUrlOf(event, headers),
    requestId,
  };
}

/** A host name or address with an optional port: nothing a link could be bent with (paths, spaces, lists). */
const HOST = /^(?:[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)*|\[[0-9A-Fa-f:.]+\])(?::\d{1,5})?$/;

function baseUrlOf(event: APIGatewayProxyEvent, headers: Record<string, string>): string {
  const proto = headers['x-forwarded-proto']?.split(',')[0]?.trim() || 'https';
  // Behind the data front's CloudFront distribution, API Gateway sees the origin's Host; the
  // distribution passes the viewer's as X-Forwarded-Host, so links name the one endpoint the
  // client called, with no stage in its paths (Glance's public_endpoint, for a proxied Glance).
  const forwardedHost = headers['x-forwarded-host']?.trim();
  if (forwardedHost && HOST.test(forwardedHost)) return `${proto}://${forwardedHost}`;
  const host = headers['host'] ?? event.requestContext?.domainName ?? 'localhost';
  // On the execute-api domain the stage is a path prefix: requestContext.path = /<stage> + path.
  const fullPath = event.requestContext?.path ?? event.path;
  const prefix = fullPath.endsWith(event.path) ? fullPath.slice(0, fullPath.length - event.path.length) : '';
  return `${proto}://${host}${prefix}`;
}

/** Glance's body parsing: empty → 400 "Body expected", not UTF-8, bad or too deep JSON → 400 "Malformed JSON". */
export function jsonBody(req: HttpRequest): unknown {
  return parseJsonBody(req.body);
}
