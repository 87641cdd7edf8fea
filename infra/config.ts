/**
 * Stack configuration read from CDK context (`cdk.json`, `-c key=value`), validated once.
 * Every key is prefixed `skyglass:`.
 */
import { INDEXES } from '../shared/adapters/table-design.js';
import { parseQuotaConfig, type QuotaConfig } from '../shared/domain/quota.js';
import { parseStoreSettings, type StoreSetting } from '../shared/domain/stores.js';
import { AUTHORIZER_CACHE, ROUTES } from '../shared/routes.js';
import { ConfigurationError } from './configuration-error.js';
import { policyOverridesFromFile, propertyProtectionsFromFile } from './policy-file.js';

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
    }
  | {
      /** Trust an OpenStack cloud's Keystone: each token is validated by Keystone itself. */
      kind: 'keystone';
      /** Keystone's public URL (`http(s)://host:5000`, no `/v3`), also named in 401 answers. */
      url: string;
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
  /** Lifetimes of upload sessions and presigned URLs, handed to the data functions. */
  data: DataSettings;
  /** Glance's delayed delete, handed to the functions that start the scrubber. */
  deletes: DeleteSettings;
  /** The sweepers' limits, handed to the sweep function. */
  sweeps: SweepSettings;
  /** Where alarms notify. */
  alarms: AlarmSettings;
  /** Pre-initialized environments per function (operationId or `authorizer`); none by default. */
  provisionedConcurrency: ProvisionedConcurrency;
  /**
   * How long API Gateway caches the authorizer's decision per X-Auth-Token (0: no cache, and then
   * `Authorization: Bearer` alone is accepted too); see AUTHORIZER_CACHE.
   */
  authorizerCacheSeconds: number;
  /**
   * `skyglass:policyFile`, read and validated at synth: the operator's overrides of Glance's
   * rules as compact JSON (POLICY_OVERRIDES), only when a file is given.
   */
  policyOverrides?: string;
  /** `skyglass:propertyProtectionFile`, read and validated at synth: its rules as compact JSON (PROPERTY_PROTECTIONS). */
  propertyProtections?: string;
  /** Glance's image_member_quota (`skyglass:imageMemberQuota`): members per image; -1 no limit; absent: 128. */
  imageMemberQuota?: number;
  /** Per-project quotas (`skyglass:quotas`); absent: unlimited, as Glance without keystone limits. */
  quotas?: QuotaConfig;
  /**
   * `skyglass:dataFront`: PUT /file and PUT /stage of any size through a container behind
   * CloudFront (infra/constructs/data-front.ts, docs/data-front.md); off, the stack stays purely
   * serverless and those bodies are limited to about 4.5 MB.
   */
  dataFront: boolean;
  /**
   * `skyglass:stores`: Glance's multi-store, each store an S3 bucket; absent, one implicit store
   * (the stack's bucket) and no multi-store API, as single-store Glance.
   */
  stores?: StoreSetting[];
  /**
   * `skyglass:console`: the browser console on CloudFront with a Cognito app client
   * (infra/constructs/console-site.ts). Default on with the stack's own user pool (about 19
   * resources, no cost per request when unused); it signs in through that pool's hosted UI, so it
   * is off, and refused if asked for, with an external issuer or Keystone.
   */
  console: boolean;
  /** `skyglass:consoleDomainPrefix`: the hosted UI's domain prefix; default `skyglass-<stage>-<account>`. */
  consoleDomainPrefix?: string;
  /**
   * `skyglass:tableIndexes`: how many of the table's GSIs (INDEXES, in their order) the stack
   * declares; default all. CloudFormation adds one GSI per stack update, so a stack from before
   * the later indexes is brought up one index per deploy: N+1, N+2, ... (README, "Updating").
   */
  tableIndexes: number;
}

/** How many pre-initialized environments each named function keeps warm (no entry: none). */
export type ProvisionedConcurrency = Readonly<Record<string, number>>;

/** What `skyglass:provisionedConcurrency` may name besides the route table's operationIds. */
export const AUTHORIZER_FUNCTION_NAME = 'authorizer';

/** `SWEEP_STUCK_SECONDS` and `ORPHAN_GRACE_SECONDS` (see shared/app/config.ts). */
export interface SweepSettings {
  /** An image saving or importing (its upload complete) longer than this is stuck: the sweeper queues it again. */
  stuckSeconds: number;
  /** An object no image owns is deleted once it is older than this (younger ones may still be landing). */
  orphanGraceSeconds: number;
}

export const DEFAULT_SWEEP_SETTINGS: Readonly<SweepSettings> = { stuckSeconds: 2 * 3600, orphanGraceSeconds: 24 * 3600 };

/**
 * The verifier's longest run: four 15-minute attempts of its Lambda (one try and three
 * retries of States.ALL) plus backoff, rounded up. An image verifying for less than this is
 * not stuck, and requeuing it would delete the data under a running verification.
 */
export const MIN_SWEEP_STUCK_SECONDS = 65 * 60;

/** An object is written before the record that owns it; an hour covers any function between the two writes. */
export const MIN_ORPHAN_GRACE_SECONDS = 3600;

/** The alarms' SNS topic. */
export interface AlarmSettings {
  /** Create an SNS topic (KMS-encrypted, TLS-only) that every alarm notifies. */
  topic: boolean;
  /** Subscribe this address to the topic (AWS mails a confirmation link first). */
  email?: string;
}

/** `DELAYED_DELETE` and `SCRUB_DELAY_SECONDS` (see shared/app/config.ts). */
export interface DeleteSettings {
  /** Glance's delayed_delete: deleted images with data wait in pending_delete (restorable) for the scrubber. */
  delayedDelete: boolean;
  /** The restore window: how long the scrubber waits before removing the data. */
  scrubDelaySeconds: number;
}

export const DEFAULT_DELETE_SETTINGS: Readonly<DeleteSettings> = { delayedDelete: true, scrubDelaySeconds: 3600 };

/** A Standard execution lives at most a year; the scrubber's Wait must leave room for its other steps. */
export const MAX_SCRUB_DELAY_SECONDS = 364 * 24 * 3600;

/**
 * Lifetimes the data functions work with (`UPLOAD_URL_SECONDS`, `UPLOAD_SESSION_SECONDS`,
 * `DOWNLOAD_URL_SECONDS`; see shared/app/config.ts).
 */
export interface DataSettings {
  /** Lifetime of each presigned part URL; clients fetch fresh ones with GET .../uploads/{id}. */
  uploadUrlSeconds: number;
  /** How long an upload session stays open before the sweeper returns the image to queued. */
  uploadSessionSeconds: number;
  /** Lifetime of the presigned GET a download redirects to. */
  downloadUrlSeconds: number;
}

export const DEFAULT_DATA_SETTINGS: Readonly<DataSettings> = {
  uploadUrlSeconds: 900,
  uploadSessionSeconds: 24 * 3600,
  downloadUrlSeconds: 300,
};

/**
 * SigV4 presigned URLs are valid for at most 7 days. Shorter in practice: a URL signed with a
 * role's temporary credentials stops working when those credentials expire, whatever its
 * X-Amz-Expires says, and Lambda's execution-role credentials last hours, not days.
 */
export const MAX_PRESIGNED_URL_SECONDS = 7 * 24 * 3600;

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

function readTableIndexes(read: ContextReader): number {
  const all = Object.keys(INDEXES).length;
  const text = str(read, 'tableIndexes');
  if (text === undefined) return all;
  const n = Number(text);
  if (!Number.isSafeInteger(n) || n < 1 || n > all) throw new Error(`Context skyglass:tableIndexes must be a whole number from 1 to ${all} (the table's indexes, in order), got ${text}`);
  return n;
}

function positiveSeconds(read: ContextReader, key: string, fallback: number, max?: number, zeroAllowed = false): number {
  const text = str(read, key);
  if (text === undefined) return fallback;
  const n = Number(text);
  if (!Number.isSafeInteger(n) || n < (zeroAllowed ? 0 : 1)) {
    throw new Error(`Context skyglass:${key} must be a ${zeroAllowed ? 'non-negative' : 'positive'} whole number of seconds, got ${text}`);
  }
  if (max !== undefined && n > max) throw new Error(`Context skyglass:${key} must be at most ${max} seconds, got ${n}`);
  return n;
}

/** `skyglass:imageMemberQuota`: a whole number, -1 (or any negative) for no limit, as Glance's option. */
export function readImageMemberQuota(read: ContextReader): number | undefined {
  const text = str(read, 'imageMemberQuota');
  if (text === undefined) return undefined;
  const n = Number(text);
  if (!Number.isSafeInteger(n)) throw new Error(`Context skyglass:imageMemberQuota must be a whole number (negative: no limit), got ${text}`);
  return n;
}

/** Reads and cross-checks the data lifetimes (`skyglass:uploadUrlSeconds`, `uploadSessionSeconds`, `downloadUrlSeconds`). */
export function readDataSettings(read: ContextReader): DataSettings {
  const data: DataSettings = {
    uploadUrlSeconds: positiveSeconds(read, 'uploadUrlSeconds', DEFAULT_DATA_SETTINGS.uploadUrlSeconds, MAX_PRESIGNED_URL_SECONDS),
    uploadSessionSeconds: positiveSeconds(read, 'uploadSessionSeconds', DEFAULT_DATA_SETTINGS.uploadSessionSeconds),
    downloadUrlSeconds: positiveSeconds(read, 'downloadUrlSeconds', DEFAULT_DATA_SETTINGS.downloadUrlSeconds, MAX_PRESIGNED_URL_SECONDS),
  };
  if (data.uploadUrlSeconds > data.uploadSessionSeconds) {
    throw new Error(
      `Context skyglass:uploadUrlSeconds (${data.uploadUrlSeconds}) must not exceed skyglass:uploadSessionSeconds (${data.uploadSessionSeconds}): a part URL would outlive its session`,
    );
  }
  return data;
}

/** Reads `skyglass:delayedDelete` and `skyglass:scrubDelaySeconds` (0 scrubs at once but keeps pending_delete briefly). */
export function readDeleteSettings(read: ContextReader): DeleteSettings {
  return {
    delayedDelete: bool(read, 'delayedDelete') ?? DEFAULT_DELETE_SETTINGS.delayedDelete,
    scrubDelaySeconds: positiveSeconds(read, 'scrubDelaySeconds', DEFAULT_DELETE_SETTINGS.scrubDelaySeconds, MAX_SCRUB_DELAY_SECONDS, true),
  };
}

/** Reads `skyglass:sweepStuckSeconds` and `skyglass:orphanGraceSeconds`. */
export function readSweepSettings(read: ContextReader): SweepSettings {
  const sweeps: SweepSettings = {
    stuckSeconds: positiveSeconds(read, 'sweepStuckSeconds', DEFAULT_SWEEP_SETTINGS.stuckSeconds),
    orphanGraceSeconds: positiveSeconds(read, 'orphanGraceSeconds', DEFAULT_SWEEP_SETTINGS.orphanGraceSeconds),
  };
  if (sweeps.stuckSeconds < MIN_SWEEP_STUCK_SECONDS) {
    throw new Error(
      `Context skyglass:sweepStuckSeconds must be at least ${MIN_SWEEP_STUCK_SECONDS} (the verifier's longest run), got ${sweeps.stuckSeconds}`,
    );
  }
  if (sweeps.orphanGraceSeconds < MIN_ORPHAN_GRACE_SECONDS) {
    throw new Error(`Context skyglass:orphanGraceSeconds must be at least ${MIN_ORPHAN_GRACE_SECONDS}, got ${sweeps.orphanGraceSeconds}`);
  }
  return sweeps;
}

/** Reads `skyglass:alarmTopic` (default true) and `skyglass:alarmEmail`. */
export function readAlarmSettings(read: ContextReader): AlarmSettings {
  const email = str(read, 'alarmEmail');
  const topic = bool(read, 'alarmTopic') ?? true;
  if (email !== undefined) {
    if (!/^[^\s@]+@[^\s@]+\.[^\s@]+$/.test(email)) throw new Error(`Context skyglass:alarmEmail must be an email address, got ${email}`);
    if (!topic) throw new Error('skyglass:alarmEmail needs the alarm topic; drop skyglass:alarmTopic=false');
  }
  return { topic, ...(email !== undefined && { email }) };
}

/**
 * Reads `skyglass:provisionedConcurrency`: a JSON object from an operationId (or `authorizer`)
 * to a count of pre-initialized environments, e.g. `{"showImage":2,"listImages":2,"authorizer":2}`.
 * Functions that call AWS start 2-3x slower than bare Node (README, "Cold starts"); this keeps
 * the latency-sensitive ones warm, at the price AWS charges for provisioned concurrency.
 */
export function readProvisionedConcurrency(read: ContextReader, functionNames: readonly string[]): ProvisionedConcurrency {
  const text = str(read, 'provisionedConcurrency');
  if (text === undefined) return {};
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch {
    throw new Error('Context skyglass:provisionedConcurrency must be a JSON object such as {"showImage":2,"authorizer":2}');
  }
  if (!parsed || typeof parsed !== 'object' || Array.isArray(parsed)) {
    throw new Error('Context skyglass:provisionedConcurrency must be a JSON object such as {"showImage":2,"authorizer":2}');
  }
  const known = new Set(functionNames);
  const counts: Record<string, number> = {};
  for (const [name, value] of Object.entries(parsed)) {
    if (!known.has(name)) throw new Error(`Context skyglass:provisionedConcurrency names ${JSON.stringify(name)}, which is no operationId nor "authorizer"`);
    if (typeof value !== 'number' || !Number.isSafeInteger(value) || value < 0) {
      throw new Error(`Context skyglass:provisionedConcurrency.${name} must be a whole number of environments, got ${JSON.stringify(value)}`);
    }
    if (value > 0) counts[name] = value;
  }
  return counts;
}

/**
 * Lambda's environment holds 4 KB in total; the quotas travel in it (QUOTAS) beside the other
 * variables, so a larger configuration fails synthesis rather than deployment.
 */
export const MAX_QUOTAS_JSON_BYTES = 2000;

/**
 * Reads `skyglass:quotas`: `{"defaults": {"image_count_total": 100, "image_size_total": 10240},
 * "projects": {"<project id>": {"image_count_total": 500}}}` (a JSON object in cdk.json, or its
 * text with -c), validated as the functions will read it. Absent: no quotas (unlimited).
 */
export function readQuotas(read: ContextReader): QuotaConfig | undefined {
  const text = str(read, 'quotas');
  if (text === undefined) return undefined;
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch {
    throw new Error('Context skyglass:quotas must be JSON such as {"defaults": {"image_count_total": 100}, "projects": {}}');
  }
  const quotas = parseQuotaConfig(parsed, 'Context skyglass:quotas');
  const bytes = Buffer.byteLength(JSON.stringify(quotas));
  if (bytes > MAX_QUOTAS_JSON_BYTES) {
    throw new Error(`Context skyglass:quotas is ${bytes} bytes; the functions' environment (4 KB in all) holds at most ${MAX_QUOTAS_JSON_BYTES}`);
  }
  return quotas;
}

/**
 * Reads `skyglass:stores`: `[{"id": "us", "default": true}, {"id": "eu", "region": "eu-west-1",
 * "bucket": "my-images-eu"}]` (a JSON list in cdk.json, or its text with -c). A store without
 * `bucket` is created by the stack, in the stack's region; a store in another region names its
 * bucket (made there beforehand, with the same settings: see README "Stores").
 */
export function readStores(read: ContextReader, stackRegion: string | undefined): StoreSetting[] | undefined {
  const text = str(read, 'stores');
  if (text === undefined) return undefined;
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch {
    throw new Error('Context skyglass:stores must be JSON such as [{"id": "us", "default": true}, {"id": "eu", "region": "eu-west-1", "bucket": "my-images-eu"}]');
  }
  // A store naming no region is in the stack's (an environment-agnostic stack: wherever it is deployed).
  const stores = parseStoreSettings(parsed, 'Context skyglass:stores', stackRegion ?? STACK_REGION);
  for (const store of stores) {
    const elsewhere = store.region !== STACK_REGION && store.region !== stackRegion;
    if (store.bucket === null && elsewhere) {
      throw new Error(`Context skyglass:stores: store "${store.id}" is in ${store.region}, outside the stack's region, so it must name its "bucket" (a stack creates buckets in its own region only)`);
    }
  }
  return stores;
}

/** The region of stores that name none in an environment-agnostic stack (resolved at deployment). */
export const STACK_REGION = '${AWS::Region}';

/**
 * Days after which the bucket's lifecycle rule aborts an incomplete multipart upload: never
 * before its session expires (S3 counts whole days, rounded up to the next midnight UTC).
 */
export function multipartAbortDays(data: Pick<DataSettings, 'uploadSessionSeconds'>): number {
  return Math.max(1, Math.ceil(data.uploadSessionSeconds / 86_400));
}

/** Keystone's URL as the authorizer calls it and 401s name it: http(s), no credentials, nothing to escape. */
export function checkKeystoneUrl(text: string, setting = 'skyglass:keystoneUrl'): string {
  let url: URL;
  try {
    url = new URL(text);
  } catch {
    throw new ConfigurationError(`${setting} must be Keystone's URL, such as https://keystone.example.com:5000, got ${text}`);
  }
  if (!['http:', 'https:'].includes(url.protocol) || url.username || url.password || /['"\\\s]/.test(text)) {
    throw new ConfigurationError(`${setting} must be an http(s) URL without credentials or quotes, got ${text}`);
  }
  return text.replace(/\/+$/, '');
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
  const keystoneUrl = str(read, 'keystoneUrl');
  const createUserPool = bool(read, 'createUserPool') ?? (issuer === undefined && keystoneUrl === undefined);
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
  if (keystoneUrl !== undefined) {
    if (issuer !== undefined || createUserPool) {
      throw new Error('Set skyglass:keystoneUrl (Keystone tokens) or the JWT settings (skyglass:jwtIssuer, skyglass:createUserPool), not both');
    }
    auth = { kind: 'keystone', url: checkKeystoneUrl(keystoneUrl) };
  } else if (createUserPool) {
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

  const consoleWanted = bool(read, 'console');
  if (consoleWanted && auth.kind !== 'cognito') {
    throw new Error(`skyglass:console needs the stack's own user pool (its sign-in is that pool's hosted UI), not ${auth.kind === 'keystone' ? 'Keystone' : 'an external issuer'}; drop skyglass:console`);
  }
  const consoleDomainPrefix = str(read, 'consoleDomainPrefix');
  // Cognito's rule for prefix domains: lower-case letters, digits and hyphens, not starting or ending with one.
  if (consoleDomainPrefix !== undefined && !/^[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?$/.test(consoleDomainPrefix)) {
    throw new Error(`Context skyglass:consoleDomainPrefix must be lower-case letters, digits and hyphens (1 to 63, no hyphen at either end), got ${consoleDomainPrefix}`);
  }
  const account = str(read, 'account');
  const region = str(read, 'region');
  const policyFile = str(read, 'policyFile');
  const propertyProtectionFile = str(read, 'propertyProtectionFile');
  const quotas = readQuotas(read);
  const stores = readStores(read, region);
  const imageMemberQuota = readImageMemberQuota(read);
  return {
    stage,
    auth,
    accessLogs: bool(read, 'accessLogs') ?? false,
    throttling: {
      rateLimit: positiveNumber(read, 'throttleRateLimit', 50),
      burstLimit: positiveNumber(read, 'throttleBurstLimit', 100),
    },
    nag: bool(read, 'nag') ?? true,
    dataFront: bool(read, 'dataFront') ?? false,
    console: consoleWanted ?? auth.kind === 'cognito',
    ...(consoleDomainPrefix !== undefined && { consoleDomainPrefix }),
    tableIndexes: readTableIndexes(read),
    skipBundling: environment.SKYGLASS_SKIP_BUNDLING === '1' || (bool(read, 'skipBundling') ?? false),
    data: readDataSettings(read),
    deletes: readDeleteSettings(read),
    sweeps: readSweepSettings(read),
    alarms: readAlarmSettings(read),
    provisionedConcurrency: readProvisionedConcurrency(read, [...ROUTES.map((r) => r.operationId), AUTHORIZER_FUNCTION_NAME]),
    // API Gateway caches authorizer results for at most an hour.
    authorizerCacheSeconds: positiveSeconds(read, 'authorizerCacheSeconds', AUTHORIZER_CACHE.defaultSeconds, 3600, true),
    ...(policyFile !== undefined && { policyOverrides: policyOverridesFromFile(policyFile) }),
    ...(propertyProtectionFile !== undefined && { propertyProtections: propertyProtectionsFromFile(propertyProtectionFile) }),
    ...(quotas && { quotas }),
    ...(stores && { stores }),
    ...(imageMemberQuota !== undefined && { imageMemberQuota }),
    ...((account !== undefined || region !== undefined) && {
      env: { ...(account !== undefined && { account }), ...(region !== undefined && { region }) },
    }),
  };
}
