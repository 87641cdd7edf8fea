import { randomUUID } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Duplex } from 'node:stream';
import type {
  APIGatewayAuthorizerResult,
  APIGatewayProxyEvent,
  APIGatewayProxyResult,
  APIGatewayRequestAuthorizerEvent,
  Context,
} from 'aws-lambda';
import { GlanceError } from '../domain/errors.js';
import { errorEnvelope } from './response.js';
import { AUTHORIZER_CACHE, matchPath, type Route, type RouteMatch } from '../routes.js';
import { proxyEventBody } from './binary-media.js';
import {
  gatewayResponses,
  renderGatewayResponseBody,
  type GatewayContext,
  type GatewayResponse,
  type GatewayResponseType,
} from './gateway-responses.js';

/**
 * What API Gateway does for a REST API's Lambda proxy integration, for a Node HTTP request: the
 * route it matches, the APIGatewayProxyEvent it builds, the REQUEST authorizer step and its own
 * (gateway) answers. The local runtime (infra/local/server.ts) and the data front
 * (functions/data-front/server.ts) both serve requests through this, so a handler sees the same
 * event whichever of the three runs it.
 */
export interface ProxyRequest {
  url: URL;
  method: string;
  match: RouteMatch | undefined;
  route: Route | undefined;
  /** The `$context` the gateway responses name. */
  gateway: GatewayContext;
}

/**
 * The request target as a URL. An origin-form target is read as a path even when it starts
 * with `//` (which `new URL(target, base)` takes for a host and refuses when empty, as in
 * `GET //`); an absolute-form target is read as given; anything else matches no resource.
 */
export function requestUrl(target: string): URL | undefined {
  try {
    return target.startsWith('/') ? new URL(`http://local${target}`) : new URL(target);
  } catch {
    return undefined;
  }
}

/** The route a request matches (path and method), or undefined when none does (the fallback answers). */
export function routeRequest(req: IncomingMessage): ProxyRequest | undefined {
  const url = requestUrl(req.url ?? '/');
  if (!url) return undefined;
  const method = (req.method ?? 'GET').toUpperCase();
  const match = matchPath(url.pathname).find((m) => m.route.method === method);
  const route = match?.route;
  return { url, method, match, route, gateway: { httpMethod: method, resourcePath: route?.path ?? '/{proxy+}' } };
}

/** Where the event's stage-level facts come from. */
export interface EventOrigin {
  stage: string;
  apiId: string;
  accountId: string;
  /**
   * The X-Forwarded-* headers API Gateway adds for the integration (handlers build absolute links
   * from them). The local runtime is the edge and sets them from its socket; the data front sits
   * behind a load balancer that already set them, and keeps those.
   */
  forwarded: 'from-socket' | 'from-proxy';
}

/**
 * The APIGatewayProxyEvent API Gateway builds for this request, with `body` (empty for a body the
 * caller streams instead) encoded as the stack's binaryMediaTypes encode it.
 */
export function proxyEvent(req: IncomingMessage, request: ProxyRequest, body: Buffer, origin: EventOrigin): APIGatewayProxyEvent {
  const { url, method, match, route } = request;
  // Header names and query keys are the client's: prototype-less records keep `__proto__`,
  // `constructor` and `toString` ordinary keys, as they are in the JSON event API Gateway sends.
  const headers: Record<string, string> = Object.create(null);
  const multiValueHeaders: Record<string, string[]> = Object.create(null);
  for (let i = 0; i < req.rawHeaders.length; i += 2) {
    const name = req.rawHeaders[i] as string;
    const value = req.rawHeaders[i + 1] as string;
    headers[name] = headers[name] === undefined ? value : `${headers[name]},${value}`;
    (multiValueHeaders[name] ??= []).push(value);
  }
  if (origin.forwarded === 'from-socket') {
    for (const [name, value] of [['X-Forwarded-Proto', 'http'], ['X-Forwarded-Port', String(req.socket.localPort ?? '')], ['X-Forwarded-For', req.socket.remoteAddress ?? '127.0.0.1']] as const) {
      headers[name] = value;
      multiValueHeaders[name] = [value];
    }
  }
  const query: Record<string, string[]> = Object.create(null);
  for (const [k, v] of url.searchParams) (query[k] ??= []).push(v);
  const encodedBody = proxyEventBody(body, req.headers['content-type']);
  const sourceIp = (origin.forwarded === 'from-proxy' ? firstForwardedFor(req) : undefined) ?? req.socket.remoteAddress ?? '127.0.0.1';
  return {
    resource: route?.path ?? '/{proxy+}',
    path: url.pathname,
    httpMethod: method,
    headers,
    multiValueHeaders,
    queryStringParameters: Object.keys(query).length ? Object.fromEntries(Object.entries(query).map(([k, v]) => [k, v[v.length - 1] as string])) : null,
    multiValueQueryStringParameters: Object.keys(query).length ? query : null,
    pathParameters: match && Object.keys(match.pathParameters).length ? match.pathParameters : null,
    stageVariables: null,
    body: encodedBody.body,
    isBase64Encoded: encodedBody.isBase64Encoded,
    requestContext: {
      accountId: origin.accountId,
      apiId: origin.apiId,
      authorizer: null,
      domainName: req.headers.host ?? '127.0.0.1',
      httpMethod: method,
      path: url.pathname,
      protocol: 'HTTP/1.1',
      requestId: randomUUID(),
      requestTimeEpoch: Date.now(),
      resourceId: origin.apiId,
      resourcePath: route?.path ?? '/{proxy+}',
      stage: origin.stage,
      identity: { sourceIp, userAgent: req.headers['user-agent'] ?? null } as APIGatewayProxyEvent['requestContext']['identity'],
    },
  };
}

function firstForwardedFor(req: IncomingMessage): string | undefined {
  const value = req.headers['x-forwarded-for'];
  const first = (Array.isArray(value) ? value[0] : value)?.split(',')[0]?.trim();
  return first || undefined;
}

export type Authorizer = (event: APIGatewayRequestAuthorizerEvent) => Promise<APIGatewayAuthorizerResult>;

/**
 * API Gateway's REQUEST authorizer step for a route with `auth`: a cached authorizer's identity
 * source (its cache key) is required, and a request without it is 401 before the authorizer runs
 * (AUTHORIZER_CACHE, shared/routes.ts); "Unauthorized" thrown is 401, a Deny 403, anything else
 * thrown 500. Allowed, the event carries the decision's context as API Gateway passes it on.
 * Answers the gateway response to send, or undefined when the request may go on.
 */
export async function authorizeEvent(
  event: APIGatewayProxyEvent,
  request: ProxyRequest,
  authorizer: Authorizer,
  cacheSeconds = Number(process.env.AUTHORIZER_CACHE_SECONDS ?? AUTHORIZER_CACHE.defaultSeconds),
): Promise<APIGatewayProxyResult | undefined> {
  const { route, method, url, gateway } = request;
  if (!route?.auth) return undefined;
  const identity = Object.entries(event.headers).find(([name]) => name.toLowerCase() === AUTHORIZER_CACHE.identityHeader.toLowerCase())?.[1];
  if (cacheSeconds > 0 && !identity?.trim()) return gatewayError('UNAUTHORIZED');
  let decision: APIGatewayAuthorizerResult;
  try {
    decision = await authorizer({
      type: 'REQUEST',
      methodArn: `arn:aws:execute-api:us-east-1:${event.requestContext.accountId}:${event.requestContext.apiId}/${event.requestContext.stage}/${method}${url.pathname}`,
      resource: route.path,
      path: url.pathname,
      httpMethod: method,
      headers: event.headers,
      multiValueHeaders: event.multiValueHeaders,
      pathParameters: event.pathParameters,
      queryStringParameters: event.queryStringParameters,
      multiValueQueryStringParameters: event.multiValueQueryStringParameters,
      stageVariables: null,
      requestContext: event.requestContext as APIGatewayRequestAuthorizerEvent['requestContext'],
    });
  } catch (error) {
    return gatewayError((error as Error).message === 'Unauthorized' ? 'UNAUTHORIZED' : 'AUTHORIZER_CONFIGURATION_ERROR', gateway);
  }
  if (!decision.policyDocument.Statement.some((s) => s.Effect === 'Allow')) return gatewayError('ACCESS_DENIED', gateway);
  event.requestContext.authorizer = { ...decision.context, principalId: decision.principalId };
  return undefined;
}

/** API Gateway's own answer of this type, its template filled in for the request (unknown: no route). */
export function gatewayError(type: GatewayResponseType, context: GatewayContext = { httpMethod: '', resourcePath: '/{proxy+}' }): APIGatewayProxyResult {
  // The runtime's functions and this share one environment: KEYSTONE_URL is the authorizer's mode.
  const response: GatewayResponse = gatewayResponses({ keystoneUrl: process.env.KEYSTONE_URL })[type];
  return {
    statusCode: response.status,
    headers: { 'Content-Type': 'application/json', ...response.headers },
    body: renderGatewayResponseBody(type, context),
  };
}

/** Writes a proxy integration's result as API Gateway does (Content-Length set, no body for 204 or HEAD). */
export function sendResult(res: ServerResponse, result: APIGatewayProxyResult, headOnly = false): void {
  const headers: Record<string, string | string[]> = {};
  for (const [k, v] of Object.entries(result.headers ?? {})) headers[k] = String(v);
  for (const [k, vs] of Object.entries(result.multiValueHeaders ?? {})) headers[k] = vs.map(String);
  const body = Buffer.from(result.body ?? '', result.isBase64Encoded ? 'base64' : 'utf8');
  if (result.statusCode !== 204 && result.statusCode !== 304) headers['Content-Length'] = String(body.length);
  res.writeHead(result.statusCode, headers);
  res.end(headOnly || result.statusCode === 204 ? undefined : body);
}

/** The Lambda context a handler is given outside Lambda (the local runtime, the data front). */
export function invocationContext(name: string, accountId: string): Context {
  return {
    awsRequestId: randomUUID(),
    functionName: name,
    functionVersion: '$LATEST',
    invokedFunctionArn: `arn:aws:lambda:us-east-1:${accountId}:function:${name}`,
    memoryLimitInMB: '512',
    logGroupName: `/aws/lambda/${name}`,
    logStreamName: 'local',
    callbackWaitsForEmptyEventLoop: false,
    getRemainingTimeInMillis: () => 10_000,
    done: () => undefined,
    fail: () => undefined,
    succeed: () => undefined,
  };
}

/**
 * What Node's HTTP parser refuses (an oversized request line or headers, a bad chunk size, a NUL
 * or other forbidden byte in a header, a malformed request line) never reaches a request
 * handler. Node's own answer has no body; this one is Glance's JSON error in the gateway's envelope.
 */
export function answerParserError(error: NodeJS.ErrnoException & { rawPacket?: Buffer }, socket: Duplex): void {
  if (error.code === 'ECONNRESET' || !socket.writable) {
    socket.destroy();
    return;
  }
  const { status, message } = parserErrorAnswer(error);
  answerRaw(socket, status, message);
}

/** A Glance JSON error written straight to a connection no request object answers for. */
export function answerRaw(socket: Duplex, status: number, message: string): void {
  const { title } = new GlanceError(status, message);
  const body = JSON.stringify(errorEnvelope(status, title, message));
  socket.end(
    `HTTP/1.1 ${status} ${title}\r\nContent-Type: application/json\r\n` +
      `Content-Length: ${Buffer.byteLength(body)}\r\nConnection: close\r\n\r\n${body}`,
  );
}

function parserErrorAnswer(error: NodeJS.ErrnoException & { rawPacket?: Buffer; reason?: string }): { status: number; message: string } {
  switch (error.code) {
    case 'HPE_HEADER_OVERFLOW': {
      // Node counts the request line with the headers; a request line that does not end in
      // what was read is the URI (eventlet, Glance's server, answers 414 there).
      const start = error.rawPacket?.subarray(0, 1024).toString('latin1') ?? '';
      const requestLine = /^[A-Z]+ /.test(start) && !error.rawPacket?.includes('\r\n');
      return requestLine
        ? { status: 414, message: 'The request URI is too long.' }
        : { status: 431, message: 'The request header fields are too large.' };
    }
    case 'ERR_HTTP_REQUEST_TIMEOUT':
    case 'HPE_HEADERS_TIMEOUT':
      return { status: 408, message: 'The request was not received in time.' };
    default:
      return { status: 400, message: `The request is not valid HTTP${error.reason ? `: ${error.reason}` : ''}.` };
  }
}

/** A request body of at most `cap` bytes kept (the API tier's limit + 1, so an oversized body is known by its length). */
export function readBody(req: IncomingMessage, cap: number): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    req.on('data', (chunk: Buffer) => {
      size += chunk.length;
      // Past the cap, keep draining but stop buffering: the answer is 413 either way.
      if (size <= cap) chunks.push(chunk);
    });
    req.on('end', () => resolve(Buffer.concat(chunks)));
    req.on('error', reject);
  });
}
