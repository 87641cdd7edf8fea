/**
 * Stack configuration read from CDK context (`cdk.json`, `-c key=value`), validated once.
 * Every key is prefixed `skyglass:`.
 */

/** How the authorizer learns which tokens to trust. */
export type AuthConfig =
  | {
      /** Create a Cognito user pool and app client; trust the pool's ID tokens. */
      kind: 'cognito';
      claims: ClaimNames;
    }
  | {
      /** Trust an external OIDC issuer. */
      kind: 'external';
      issuer: string;
      /** Expected `aud`; unchecked when absent. */
      audience?: string;
      /** Where the authorizer fetches the issuer's keys ... */
      jwksUrl?: string;
      /** ... or the keys themselves (a JWKS document), e.g. the local dev public key for LocalStack. */
      jwksJson?: string;
      claims: ClaimNames;
    };

/** Token claims the authorizer maps to Glance's project, user and roles. */
export interface ClaimNames {
  project: string;
  user: string;
  roles: string;
}

export interface SkyglassConfig {
  /** Stage name: names the API and its stage; `prod` retains data on stack deletion. */
  stage: string;
  auth: AuthConfig;
  /** API Gateway access logs; needs the account's API Gateway CloudWatch role to be set up. */
  accessLogs: boolean;
  throttling: { rateLimit: number; burstLimit: number };
  /** Run the cdk-nag AwsSolutions checks during synthesis. */
  nag: boolean;
  /** Skip esbuild bundling (fast synth for tests and diffs). */
  skipBundling: boolean;
  /** Deployment environment, only when given; otherwise the stack is environment-agnostic. */
  env?: { account?: string; region?: string };
}

export const PROD_STAGES = new Set(['prod', 'production']);

export const isProdStage = (stage: string): boolean => PROD_STAGES.has(stage);

const COGNITO_CLAIMS: ClaimNames = { project: 'custom:project_id', user: 'sub', roles: 'custom:roles' };
const OIDC_CLAIMS: ClaimNames = { project: 'project_id', user: 'sub', roles: 'roles' };

/** Reads context values with `tryGetContext`'s signature, so an App's node or a plain object both work. */
export type ContextReader = (key: string) => unknown;

function str(read: ContextReader, key: string): string | undefined {
  const value = read(`skyglass:${key}`);
  if (value === undefined || value === null || value === '') return undefined;
  if (typeof value === 'object') return JSON.stringify(value); // jwksJson given as a JSON object in cdk.json
  return String(value);
}

function bool(read: ContextReader, key: string): boolean | undefined {
  const value = read(`skyglass:${key}`);
  if (value === undefined || value === null || value === '') return undefined;
  if (typeof value === 'boolean') return value;
  const text = String(value).toLowerCase();
  if (['true', '1', 'yes', 'on'].includes(text)) return true;
  if (['false', '0', 'no', 'off'].includes(text)) return false;
  throw new Error(`Context skyglass:${key} must be a boolean, got ${JSON.stringify(value)}`);
}

function positiveNumber(read: ContextReader, key: string, fallback: number): number {
  const text = str(read, key);
  if (text === undefined) return fallback;
  const n = Number(text);
  if (!Number.isFinite(n) || n <= 0) throw new Error(`Context skyglass:${key} must be a positive number, got ${text}`);
  return n;
}

/**
 * Builds the configuration from context and the process environment (`SKYGLASS_SKIP_BUNDLING=1`).
 * Throws on contradictory or incomplete identity settings rather than deploying an API that
 * rejects every token.
 */
export function readConfig(read: ContextReader, environment: NodeJS.ProcessEnv = process.env): SkyglassConfig {
  const stage = str(read, 'stage') ?? 'dev';
  if (!/^[A-Za-z0-9_-]{1,64}$/.test(stage)) throw new Error(`Context skyglass:stage must match [A-Za-z0-9_-]{1,64}, got ${stage}`);

  const issuer = str(read, 'jwtIssuer');
  const createUserPool = bool(read, 'createUserPool') ?? issuer === undefined;
  const claimOverrides = {
    project: str(read, 'claimProject'),
    user: str(read, 'claimUser'),
    roles: str(read, 'claimRoles'),
  };
  const claims = (defaults: ClaimNames): ClaimNames => ({
    project: claimOverrides.project ?? defaults.project,
    user: claimOverrides.user ?? defaults.user,
    roles: claimOverrides.roles ?? defaults.roles,
  });

  let auth: AuthConfig;
  if (createUserPool) {
    if (issuer !== undefined) {
      throw new Error('Set either skyglass:jwtIssuer (trust an external issuer) or skyglass:createUserPool=true, not both');
    }
    auth = { kind: 'cognito', claims: claims(COGNITO_CLAIMS) };
  } else {
    if (issuer === undefined) {
      throw new Error('skyglass:createUserPool is false, so skyglass:jwtIssuer (and skyglass:jwksUrl or skyglass:jwksJson) must be set');
    }
    const jwksUrl = str(read, 'jwksUrl');
    const jwksJson = str(read, 'jwksJson');
    if (jwksUrl === undefined && jwksJson === undefined) {
      throw new Error('An external issuer needs skyglass:jwksUrl or skyglass:jwksJson');
    }
    if (jwksUrl !== undefined && jwksJson !== undefined) {
      throw new Error('Set skyglass:jwksUrl or skyglass:jwksJson, not both');
    }
    if (jwksJson !== undefined) {
      let parsed: unknown;
      try {
        parsed = JSON.parse(jwksJson);
      } catch {
        throw new Error('skyglass:jwksJson is not valid JSON');
      }
      if (!parsed || typeof parsed !== 'object' || !Array.isArray((parsed as { keys?: unknown }).keys)) {
        throw new Error('skyglass:jwksJson must be a JWKS document: {"keys": [...]}');
      }
    }
    const audience = str(read, 'jwtAudience');
    auth = {
      kind: 'external',
      issuer,
      ...(audience !== undefined && { audience }),
      ...(jwksUrl !== undefined && { jwksUrl }),
      ...(jwksJson !== undefined && { jwksJson }),
      claims: claims(OIDC_CLAIMS),
    };
  }

  const account = str(read, 'account');
  const region = str(read, 'region');
  return {
    stage,
    auth,
    accessLogs: bool(read, 'accessLogs') ?? false,
    throttling: {
      rateLimit: positiveNumber(read, 'throttleRateLimit', 50),
      burstLimit: positiveNumber(read, 'throttleBurstLimit', 100),
    },
    nag: bool(read, 'nag') ?? true,
    skipBundling: environment.SKYGLASS_SKIP_BUNDLING === '1' || (bool(read, 'skipBundling') ?? false),
    ...((account !== undefined || region !== undefined) && {
      env: { ...(account !== undefined && { account }), ...(region !== undefined && { region }) },
    }),
  };
}
