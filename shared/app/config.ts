import { parseQuotaConfig, type QuotaConfig } from '../domain/quota.js';
import { parseStores, StoreCatalog } from '../domain/stores.js';
import { DEFAULT_COPY_SETTINGS, type CopySettings } from './server-copy.js';

/** Configuration, read from the environment once per cold start; each function reads only what it uses. */
export interface Config {
  tableName: string;
  region: string;
  /** Set only where an emulator stands in for DynamoDB (the local runtime, LocalStack). */
  dynamodbEndpoint: string | undefined;
  /** ARNs of the state machines (empty where a function starts none). */
  verifierArn: string;
  scrubberArn: string;
  sfnEndpoint: string | undefined;
  eventBusName: string;
  eventsEndpoint: string | undefined;
  /** Glance's delayed_delete (on unless DELAYED_DELETE=false) and its scrub delay. */
  delayedDelete: boolean;
  scrubDelaySeconds: number;
  /** Per-project quotas (QUOTAS, JSON, validated at synth or start-up); none: unlimited, as Glance without keystone limits. */
  quotas: QuotaConfig | undefined;
  /** TABLE_INDEXES: the table has only the first N of its indexes (an older stack being brought up); none: all. */
  tableIndexes: number | undefined;
}

export interface DataConfig {
  bucketName: string;
  /** Set only where an emulator stands in for S3. */
  s3Endpoint: string | undefined;
  partUrlSeconds: number;
  sessionSeconds: number;
  downloadUrlSeconds: number;
  /** The sweepers' limits: saving/importing longer than this is stuck; orphans older than grace go. */
  sweepStuckSeconds: number;
  orphanGraceSeconds: number;
}

let cached: Config | undefined;
let cachedStores: StoreCatalog | undefined;
let cachedData: DataConfig | undefined;

function required(name: string): string {
  const value = process.env[name];
  if (!value) throw new Error(`${name} is not set`);
  return value;
}

function seconds(name: string, fallback: number, zeroAllowed = false): number {
  const raw = process.env[name];
  if (!raw) return fallback;
  const value = Number(raw);
  if (!Number.isSafeInteger(value) || value < (zeroAllowed ? 0 : 1)) throw new Error(`${name} must be a whole number of seconds`);
  return value;
}

export function config(): Config {
  return (cached ??= {
    tableName: required('TABLE_NAME'),
    region: process.env.AWS_REGION ?? process.env.AWS_DEFAULT_REGION ?? 'us-east-1',
    dynamodbEndpoint: process.env.DYNAMODB_ENDPOINT || undefined,
    verifierArn: process.env.VERIFIER_STATE_MACHINE_ARN ?? '',
    scrubberArn: process.env.SCRUBBER_STATE_MACHINE_ARN ?? '',
    sfnEndpoint: process.env.SFN_ENDPOINT || undefined,
    eventBusName: process.env.EVENT_BUS_NAME ?? 'default',
    eventsEndpoint: process.env.EVENTS_ENDPOINT || undefined,
    delayedDelete: process.env.DELAYED_DELETE !== 'false',
    scrubDelaySeconds: seconds('SCRUB_DELAY_SECONDS', 3600, true),
    quotas: quotasFromEnvironment(),
    tableIndexes: process.env.TABLE_INDEXES ? seconds('TABLE_INDEXES', 0) : undefined,
  });
}

export function dataConfig(): DataConfig {
  return (cachedData ??= {
    // Functions that never touch bytes (import) build the data services without a bucket.
    bucketName: process.env.BUCKET_NAME ?? '',
    s3Endpoint: process.env.S3_ENDPOINT || undefined,
    // Short-lived by default (DESIGN §3): a client refreshes part URLs with GET .../uploads/{id}.
    partUrlSeconds: seconds('UPLOAD_URL_SECONDS', 900),
    sessionSeconds: seconds('UPLOAD_SESSION_SECONDS', 24 * 3600),
    downloadUrlSeconds: seconds('DOWNLOAD_URL_SECONDS', 300),
    sweepStuckSeconds: seconds('SWEEP_STUCK_SECONDS', 2 * 3600),
    orphanGraceSeconds: seconds('ORPHAN_GRACE_SECONDS', 24 * 3600),
  });
}

/**
 * The deployment's stores: STORES (JSON, every store with its bucket and region; the stack and the
 * local runtime set it where stores are configured), else the one implicit store in BUCKET_NAME.
 */
export function storeCatalog(): StoreCatalog {
  if (cachedStores) return cachedStores;
  // Not config(): functions that only describe the stores (GET /v2/info/stores) have no table.
  const region = process.env.AWS_REGION ?? process.env.AWS_DEFAULT_REGION ?? 'us-east-1';
  const raw = process.env.STORES;
  if (!raw) return (cachedStores = StoreCatalog.single(process.env.BUCKET_NAME ?? '', region));
  let parsed: unknown;
  try {
    parsed = JSON.parse(raw);
  } catch {
    throw new Error('STORES is not valid JSON');
  }
  return (cachedStores = new StoreCatalog(parseStores(parsed, 'STORES', region), true));
}

function positive(name: string, fallback: number): number {
  const raw = process.env[name];
  if (!raw) return fallback;
  const value = Number(raw);
  if (!Number.isSafeInteger(value) || value < 1) throw new Error(`${name} must be a positive whole number`);
  return value;
}

let cachedCopy: CopySettings | undefined;

/**
 * How copies between stores are made (copy-image, an import into several stores): defaults for
 * S3; SKYGLASS_COPY_SINGLE_MAX_BYTES, SKYGLASS_COPY_PART_BYTES and SKYGLASS_COPY_PARTS_IN_FLIGHT
 * let the local runtime's tests take the multipart path with a few MiB.
 */
export function copySettings(): CopySettings {
  return (cachedCopy ??= {
    singleCopyMaxBytes: positive('SKYGLASS_COPY_SINGLE_MAX_BYTES', DEFAULT_COPY_SETTINGS.singleCopyMaxBytes),
    partBytes: positive('SKYGLASS_COPY_PART_BYTES', DEFAULT_COPY_SETTINGS.partBytes),
    partsInFlight: positive('SKYGLASS_COPY_PARTS_IN_FLIGHT', DEFAULT_COPY_SETTINGS.partsInFlight),
  });
}

function quotasFromEnvironment(): QuotaConfig | undefined {
  const raw = process.env.QUOTAS;
  if (!raw) return undefined;
  let parsed: unknown;
  try {
    parsed = JSON.parse(raw);
  } catch {
    throw new Error('QUOTAS is not valid JSON');
  }
  return parseQuotaConfig(parsed, 'QUOTAS');
}
