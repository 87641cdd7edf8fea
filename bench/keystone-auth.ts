/**
 * Section `keystone`: the authorizer in Keystone mode (issue #14). How often it asks Keystone
 * (calls per 100 requests with one token: the in-process cache should make it one), and what a
 * request costs it once the token is cached, against verifying a JWT in JWT mode, both measured
 * here in one process. Keystone is the stand-in of the tests (test/keystone/fake-keystone.ts),
 * so its own latency is not what is measured; the authorizer's cold start is section `cold`
 * (functions/auth/authorizer, the same bundle in either mode).
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import type { APIGatewayRequestAuthorizerEvent } from 'aws-lambda';
import { LOCAL_AUDIENCE, LOCAL_ISSUER, loadOrCreateDevKey, publicJwks, signToken } from '../infra/local/dev-key.js';
import { FakeKeystone } from '../test/keystone/fake-keystone.js';
import { check, heading, median, printTable, progress } from './report.js';

const REQUESTS = 100;
const ROUNDS = 5;

export interface KeystoneAuthResult {
  keystoneCallsPer100: number;
  cachedMicros: number;
  jwtMicros: number;
}

function event(token: string): APIGatewayRequestAuthorizerEvent {
  return {
    type: 'REQUEST',
    methodArn: 'arn:aws:execute-api:us-east-1:000000000000:api/bench/GET/v2/images',
    resource: '/v2/images',
    path: '/v2/images',
    httpMethod: 'GET',
    headers: { 'X-Auth-Token': token },
    multiValueHeaders: {},
    pathParameters: null,
    queryStringParameters: null,
    multiValueQueryStringParameters: null,
    stageVariables: null,
    requestContext: {} as APIGatewayRequestAuthorizerEvent['requestContext'],
  };
}

/** Microseconds per request, the median of ROUNDS rounds of REQUESTS requests. */
async function perRequest(call: () => Promise<unknown>): Promise<number> {
  const rounds: number[] = [];
  for (let r = 0; r < ROUNDS; r++) {
    const start = performance.now();
    for (let i = 0; i < REQUESTS; i++) await call();
    rounds.push(((performance.now() - start) * 1000) / REQUESTS);
  }
  return median(rounds);
}

export async function measureKeystoneAuth(): Promise<KeystoneAuthResult> {
  progress('authorizer in Keystone mode against a stand-in Keystone, and in JWT mode');
  const keystone = await new FakeKeystone().start();
  const dir = mkdtempSync(join(tmpdir(), 'skyglass-bench-keystone-'));
  try {
    keystone.tokens.set('bench-token', { project: 'bench', user: 'bench-user', roles: ['member', 'reader'] });
    const key = await loadOrCreateDevKey(dir);
    Object.assign(process.env, { JWKS_JSON: publicJwks(key), JWT_ISSUER: LOCAL_ISSUER, JWT_AUDIENCE: LOCAL_AUDIENCE });
    const { handler } = await import('../functions/auth/authorizer.js');

    process.env.KEYSTONE_URL = keystone.url;
    for (let i = 0; i < REQUESTS; i++) await handler(event('bench-token'));
    const keystoneCallsPer100 = (keystone.validations.length * 100) / REQUESTS;
    const cachedMicros = await perRequest(() => handler(event('bench-token')));

    process.env.KEYSTONE_URL = '';
    const jwt = await signToken(key, { project: 'bench', roles: ['member'] });
    const jwtMicros = await perRequest(() => handler(event(jwt)));
    return { keystoneCallsPer100, cachedMicros, jwtMicros };
  } finally {
    await keystone.stop();
    rmSync(dir, { recursive: true, force: true });
  }
}

export function reportKeystoneAuth(r: KeystoneAuthResult): void {
  heading('Authorizer in Keystone mode (one token, 100 requests)');
  printTable(
    ['measure', '>value', 'result'],
    [
      ['calls to Keystone per 100 requests with one token', r.keystoneCallsPer100, check('keystone', 'calls per 100 requests', r.keystoneCallsPer100 <= 1)],
      ['authorizer cost per request, token cached (µs)', r.cachedMicros.toFixed(1), 'info'],
      ['authorizer cost per request, JWT mode: ES256 verification (µs, reference)', r.jwtMicros.toFixed(1), 'info'],
      ['cached Keystone token vs JWT verification', `${(r.cachedMicros / r.jwtMicros).toFixed(2)}x`, 'info'],
    ],
  );
}
