import type { APIGatewayAuthorizerResult, APIGatewayRequestAuthorizerEvent } from 'aws-lambda';
import { createLocalJWKSet, createRemoteJWKSet, jwtVerify, type JWTPayload, type JWTVerifyGetKey } from 'jose';
import { IdentityCache, validateKeystoneToken } from '../../shared/adapters/keystone-tokens.js';
import { AUTH_CONTEXT } from '../../shared/http/request.js';

/**
 * REQUEST authorizer, in one of two modes chosen by configuration (DESIGN §5):
 * - JWT (the default): verifies the OIDC JWT in `X-Auth-Token` (what glance/openstack clients
 *   send) or `Authorization: Bearer`, its claims naming project, user and roles;
 * - Keystone (`KEYSTONE_URL` set): has Keystone validate the token (an OpenStack cloud's).
 * It hands the project, user and roles to the handlers. Throwing "Unauthorized" makes API
 * Gateway answer 401 (shaped like Glance by the stack's gateway response); any other failure
 * (Keystone unreachable) is the 503 of AUTHORIZER_CONFIGURATION_ERROR. No token is ever let
 * through unverified.
 */
interface Identity {
  project: string;
  user: string;
  roles: string[];
}

interface AuthConfig {
  keys: JWTVerifyGetKey;
  issuer: string | undefined;
  /** Any of these `aud` values (JWT_AUDIENCE, comma-separated: the CLI's and the console's app clients). */
  audience: string[] | undefined;
  claims: { project: string; user: string; roles: string };
}

let cachedConfig: AuthConfig | undefined;

function authConfig(): AuthConfig {
  if (cachedConfig) return cachedConfig;
  const env = process.env;
  let keys: JWTVerifyGetKey;
  if (env.JWKS_JSON) keys = createLocalJWKSet(JSON.parse(env.JWKS_JSON));
  else if (env.JWKS_URL) keys = createRemoteJWKSet(new URL(env.JWKS_URL));
  else throw new Error('JWKS_JSON or JWKS_URL must be set');
  cachedConfig = {
    keys,
    issuer: env.JWT_ISSUER || undefined,
    audience: env.JWT_AUDIENCE ? env.JWT_AUDIENCE.split(',').map((a) => a.trim()).filter(Boolean) : undefined,
    claims: { project: env.CLAIM_PROJECT || 'project_id', user: env.CLAIM_USER || 'sub', roles: env.CLAIM_ROLES || 'roles' },
  };
  return cachedConfig;
}

export function tokenFrom(headers: Record<string, string | undefined> | null): string | undefined {
  const lower: Record<string, string> = {};
  for (const [k, v] of Object.entries(headers ?? {})) if (v) lower[k.toLowerCase()] = v;
  const token = lower['x-auth-token'];
  if (token) return token.trim();
  const bearer = /^Bearer\s+(\S+)\s*$/i.exec(lower['authorization'] ?? '');
  return bearer?.[1];
}

function claimString(payload: JWTPayload, name: string): string {
  const value = payload[name];
  return typeof value === 'string' ? value : '';
}

/**
 * The caller's roles as a list. A list claim (what OIDC issuers send) gives one role per
 * element, taken whole: a role named "reader,admin" stays one role. A string claim (Cognito
 * custom attributes can only be strings) is a JSON list when it looks like one, else a comma-
 * or space-separated list, as Keystone's role headers are. Anything else carries no roles.
 */
function claimRoles(payload: JWTPayload, name: string): string[] {
  const value = payload[name];
  if (typeof value === 'string' && value.trim().startsWith('[')) return stringsOf(parseJson(value));
  if (typeof value === 'string') return value.split(/[\s,]+/).filter(Boolean);
  return stringsOf(value);
}

const stringsOf = (value: unknown): string[] => (Array.isArray(value) ? value.filter((r): r is string => typeof r === 'string') : []);

function parseJson(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return undefined;
  }
}

async function jwtIdentity(token: string): Promise<Identity | null> {
  const { keys, issuer, audience, claims } = authConfig();
  let payload: JWTPayload;
  try {
    ({ payload } = await jwtVerify(token, keys, { issuer, audience, algorithms: ['ES256', 'RS256'] }));
  } catch {
    return null;
  }
  return { project: claimString(payload, claims.project), user: claimString(payload, claims.user), roles: claimRoles(payload, claims.roles) };
}

let keystoneCache: IdentityCache | undefined;

async function keystoneIdentity(keystoneUrl: string, token: string): Promise<Identity | null> {
  keystoneCache ??= new IdentityCache(Number(process.env.KEYSTONE_CACHE_SECONDS ?? 300));
  let identity = keystoneCache.get(token);
  if (!identity) {
    // Throws KeystoneUnavailable when Keystone cannot answer: never a 401 for a token that may be valid.
    const validated = await validateKeystoneToken(keystoneUrl, token);
    if (!validated) return null;
    keystoneCache.set(token, validated);
    identity = validated;
  }
  return { project: identity.projectId, user: identity.userId, roles: identity.roles };
}

export const handler = async (event: APIGatewayRequestAuthorizerEvent): Promise<APIGatewayAuthorizerResult> => {
  const token = tokenFrom(event.headers);
  if (!token) throw new Error('Unauthorized');
  const keystoneUrl = process.env.KEYSTONE_URL;
  const identity = keystoneUrl ? await keystoneIdentity(keystoneUrl, token) : await jwtIdentity(token);
  if (!identity) throw new Error('Unauthorized');
  // Allow the whole stage so a cached decision (if caching is ever enabled) covers every route.
  const [arnPrefix] = event.methodArn.split('/');
  const stage = event.methodArn.split('/')[1] ?? '*';
  return {
    principalId: identity.user || 'anonymous',
    policyDocument: {
      Version: '2012-10-17',
      Statement: [{ Action: 'execute-api:Invoke', Effect: 'Allow', Resource: `${arnPrefix}/${stage}/*` }],
    },
    context: {
      [AUTH_CONTEXT.project]: identity.project,
      [AUTH_CONTEXT.user]: identity.user,
      // Context values must be strings, numbers or booleans: the list travels as a JSON array.
      [AUTH_CONTEXT.roles]: JSON.stringify(identity.roles),
    },
  };
};
