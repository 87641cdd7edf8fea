import type { APIGatewayProxyEvent, APIGatewayProxyResult, Context } from 'aws-lambda';
import { beforeAll, describe, expect, it } from 'vitest';
import { CORS_ALLOWED_HEADERS, corsHeaders, preflightResponse } from '../../shared/http/cors.js';

/**
 * The API's CORS for the browser console served from the stack's CloudFront origin: exactly that
 * origin may read answers and send its preflights; no other origin gets a CORS header, and
 * without CONSOLE_ORIGIN (the local runtime, same origin) nothing changes.
 */
const CONSOLE = 'https://d111111abcdef8.cloudfront.net';
type Handler = (event: APIGatewayProxyEvent, context: Context) => Promise<APIGatewayProxyResult>;
let fallback: Handler;
let listVersions: Handler;

beforeAll(async () => {
  // Read once per process, on the first answer: set before any handler runs.
  process.env.CONSOLE_ORIGIN = CONSOLE;
  fallback = (await import('../../functions/meta/fallback.js')).handler as unknown as Handler;
  listVersions = (await import('../../functions/versions/list-versions.js')).handler as unknown as Handler;
});

function event(method: string, path: string, headers: Record<string, string>): APIGatewayProxyEvent {
  return {
    httpMethod: method,
    path,
    headers: { Host: 'abc123.execute-api.eu-west-1.amazonaws.com', ...headers },
    multiValueHeaders: {},
    queryStringParameters: null,
    multiValueQueryStringParameters: null,
    pathParameters: null,
    stageVariables: null,
    body: null,
    isBase64Encoded: false,
    resource: path,
    requestContext: { path: `/dev${path}`, domainName: 'abc123.execute-api.eu-west-1.amazonaws.com' },
  } as unknown as APIGatewayProxyEvent;
}
const context = { awsRequestId: 'test' } as Context;

describe('preflights (OPTIONS, answered by the fallback through the ANY method)', () => {
  it("answer the console's origin with the path's methods and the headers the console sends", async () => {
    const res = await fallback(event('OPTIONS', '/v2/images/abc', { Origin: CONSOLE, 'Access-Control-Request-Method': 'PATCH', 'Access-Control-Request-Headers': 'content-type,x-auth-token' }), context);
    expect(res.statusCode).toBe(204);
    expect(res.headers).toMatchObject({
      'Access-Control-Allow-Origin': CONSOLE,
      'Access-Control-Allow-Methods': 'DELETE, GET, PATCH',
      'Access-Control-Allow-Headers': 'Accept, Content-Type, X-Auth-Token',
      Vary: 'Origin',
    });
    expect(res.headers).not.toHaveProperty('Access-Control-Allow-Credentials');
  });

  it('refuse any other origin, and OPTIONS without a preflight, as Glance answers OPTIONS (405)', async () => {
    const cases: Record<string, string>[] = [{ Origin: 'https://evil.example', 'Access-Control-Request-Method': 'GET' }, { Origin: CONSOLE }, {}];
    for (const headers of cases) {
      const res = await fallback(event('OPTIONS', '/v2/images', headers), context);
      expect(res.statusCode, JSON.stringify(headers)).toBe(405);
      expect(res.headers?.['Access-Control-Allow-Methods'], JSON.stringify(headers)).toBeUndefined();
      expect(res.headers?.Allow, JSON.stringify(headers)).toBe('GET, POST');
    }
  });

  it('answer no preflight for a path without routes', async () => {
    const res = await fallback(event('OPTIONS', '/v2/nothing-here', { Origin: CONSOLE, 'Access-Control-Request-Method': 'GET' }), context);
    expect(res.statusCode).toBe(404);
  });
});

describe('answers', () => {
  it("let the console's origin read them, errors included, and expose the request id", async () => {
    const ok = await listVersions(event('GET', '/versions', { Origin: CONSOLE }), context);
    expect(ok.statusCode).toBe(200);
    expect(ok.headers).toMatchObject({ 'Access-Control-Allow-Origin': CONSOLE, 'Access-Control-Expose-Headers': 'X-Openstack-Request-Id, Location', Vary: 'Origin' });
    const refused = await fallback(event('PUT', '/v2/images', { Origin: CONSOLE }), context);
    expect(refused.statusCode).toBe(405);
    expect(refused.headers).toMatchObject({ 'Access-Control-Allow-Origin': CONSOLE });
  });

  it('give other origins no CORS header (their scripts cannot read the answer)', async () => {
    const res = await listVersions(event('GET', '/versions', { Origin: 'https://evil.example' }), context);
    expect(res.headers?.['Access-Control-Allow-Origin']).toBeUndefined();
    expect(res.headers?.Vary).toBe('Origin');
  });
});

describe('without CONSOLE_ORIGIN (the local runtime serves the console from its own origin)', () => {
  it('sends no CORS headers and answers no preflight', () => {
    expect(corsHeaders({ Origin: CONSOLE }, null)).toEqual({});
    expect(preflightResponse('OPTIONS', { Origin: CONSOLE, 'Access-Control-Request-Method': 'GET' }, ['GET'], null)).toBeUndefined();
    expect(CORS_ALLOWED_HEADERS).toContain('X-Auth-Token');
  });
});
