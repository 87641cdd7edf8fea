import { CfnOutput, Stack, Tags, type StackProps } from 'aws-cdk-lib';
import type * as apigateway from 'aws-cdk-lib/aws-apigateway';
import type * as cloudwatch from 'aws-cdk-lib/aws-cloudwatch';
import type * as cognito from 'aws-cdk-lib/aws-cognito';
import type * as dynamodb from 'aws-cdk-lib/aws-dynamodb';
import * as events from 'aws-cdk-lib/aws-events';
import * as s3 from 'aws-cdk-lib/aws-s3';
import type * as sns from 'aws-cdk-lib/aws-sns';
import type * as sfn from 'aws-cdk-lib/aws-stepfunctions';
import type { Construct } from 'constructs';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { CONSOLE_DIST } from './local/console-build.js';
import { ConsoleSite } from './constructs/console-site.js';
import {
  DEFAULT_DATA_SETTINGS,
  DEFAULT_DELETE_SETTINGS,
  DEFAULT_SWEEP_SETTINGS,
  isProdStage,
  multipartAbortDays,
  STACK_REGION,
  type AlarmSettings,
  type ProvisionedConcurrency,
  type AuthConfig,
  type DataSettings,
  type DeleteSettings,
  type SkyglassConfig,
  type SweepSettings,
} from './config.js';
import type { QuotaConfig } from '../shared/domain/quota.js';
import type { StoreSetting } from '../shared/domain/stores.js';
import { ROUTES } from '../shared/routes.js';
import { SkyglassAlarms } from './constructs/alarms.js';
import { DataFront } from './constructs/data-front.js';
import { EventRelay } from './constructs/event-relay.js';
import { ImageApi } from './constructs/image-api.js';
import { ImageBucket } from './constructs/image-bucket.js';
import { ImageTable } from './constructs/image-table.js';
import { ImageWorkflows } from './constructs/image-workflows.js';
import { SkyglassFunction } from './constructs/skyglass-function.js';
import { SweepSchedules } from './constructs/sweep-schedules.js';
import { UserDirectory } from './constructs/user-directory.js';
import { INDEXES } from '../shared/adapters/table-design.js';

export interface SkyglassStackProps extends StackProps {
  /** Stage name (`dev`, `prod`, ...); `prod`/`production` retain data and turn on deletion protection. */
  readonly stage: string;
  /** Which tokens the authorizer trusts. */
  readonly auth: AuthConfig;
  /**
   * API Gateway access logs (needs the account-level API Gateway CloudWatch role).
   * @default false
   */
  readonly accessLogs?: boolean;
  /**
   * Stage-wide throttling.
   * @default { rateLimit: 50, burstLimit: 100 }
   */
  readonly throttling?: { readonly rateLimit: number; readonly burstLimit: number };
  /**
   * Lifetimes of upload sessions and presigned URLs.
   * @default DEFAULT_DATA_SETTINGS (part URLs 15 min, sessions 24 h, downloads 5 min)
   */
  readonly dataSettings?: DataSettings;
  /**
   * Glance's delayed delete and its restore window.
   * @default DEFAULT_DELETE_SETTINGS (on, 1 hour)
   */
  readonly deleteSettings?: DeleteSettings;
  /**
   * Per-project quotas (`skyglass:quotas`), enforced on every image write.
   * @default none: unlimited, as Glance without keystone limits
   */
  readonly quotas?: QuotaConfig;
  /**
   * The sweepers' limits.
   * @default DEFAULT_SWEEP_SETTINGS (stuck after 2 hours, orphans deleted after 24 hours)
   */
  readonly sweepSettings?: SweepSettings;
  /**
   * The alarms' SNS topic and its email subscription.
   * @default { topic: true }
   */
  readonly alarmSettings?: AlarmSettings;
  /**
   * Pre-initialized environments by operationId (or `authorizer`).
   * @default none
   */
  readonly provisionedConcurrency?: ProvisionedConcurrency;
  /**
   * How long API Gateway caches the authorizer's decision per X-Auth-Token; 0 turns caching off.
   * @default AUTHORIZER_CACHE.defaultSeconds (300)
   */
  readonly authorizerCacheSeconds?: number;
  /**
   * The operator's overrides of Glance's policy rules, compact JSON (see infra/policy-file.ts),
   * given to every function as POLICY_OVERRIDES.
   * @default none: Glance's secure-RBAC defaults
   */
  readonly policyOverrides?: string;
  /**
   * Glance's property protections (compact JSON of the rules), given to every function as PROPERTY_PROTECTIONS.
   * @default none
   */
  readonly propertyProtections?: string;
  /**
   * Glance's image_member_quota, given to the functions that add members as IMAGE_MEMBER_QUOTA.
   * @default 128 (Glance's default); negative: no limit
   */
  readonly imageMemberQuota?: number;
  /**
   * The data front (`skyglass:dataFront`): PUT /file and PUT /stage of any size through a
   * container behind CloudFront, which becomes the clients' endpoint (infra/constructs/data-front.ts).
   * @default false: purely serverless, those bodies limited to about 4.5 MB
   */
  readonly dataFront?: boolean;
  /**
   * Glance's multi-store (`skyglass:stores`): the default store is the stack's own bucket
   * (ImageData); another store without a `bucket` gets one created like it, in the stack's
   * region; one with a `bucket` is that existing bucket (any region). Every function reaching
   * image data is granted on every store's bucket and told the stores as STORES.
   * @default one implicit store (the stack's bucket), no multi-store API
   */
  readonly stores?: readonly StoreSetting[];
  /**
   * The browser console (`skyglass:console`) on CloudFront, signing in with the user pool's hosted
   * UI: only with `auth.kind === 'cognito'` (infra/constructs/console-site.ts).
   * @default false
   */
  readonly console?: boolean;
  /**
   * The built console to deploy.
   * @default dist/console (infra/app.ts builds it when missing or stale)
   */
  readonly consoleAssetDir?: string;
  /**
   * The hosted UI's domain prefix.
   * @default `skyglass-<stage>-<account id>`
   */
  readonly consoleDomainPrefix?: string;
  /**
   * How many of the table's GSIs (in INDEXES order) to declare: an older stack gains one per deploy.
   * @default all
   */
  readonly tableIndexes?: number;
}

/** Lambda's environment is limited to 4 KB in total; leave room for the other variables. */
const MAX_JWKS_JSON_BYTES = 3000;

/** The stack's props from validated context: one mapping for the app and the tests. */
export function stackPropsFrom(config: SkyglassConfig): SkyglassStackProps {
  return {
    stage: config.stage,
    auth: config.auth,
    accessLogs: config.accessLogs,
    throttling: config.throttling,
    dataSettings: config.data,
    deleteSettings: config.deletes,
    ...(config.quotas && { quotas: config.quotas }),
    ...(config.stores && { stores: config.stores }),
    sweepSettings: config.sweeps,
    alarmSettings: config.alarms,
    provisionedConcurrency: config.provisionedConcurrency,
    authorizerCacheSeconds: config.authorizerCacheSeconds,
    ...(config.policyOverrides !== undefined && { policyOverrides: config.policyOverrides }),
    ...(config.propertyProtections !== undefined && { propertyProtections: config.propertyProtections }),
    ...(config.imageMemberQuota !== undefined && { imageMemberQuota: config.imageMemberQuota }),
    ...(config.dataFront && { dataFront: true }),
    ...(config.console && { console: true }),
    ...(config.consoleDomainPrefix !== undefined && { consoleDomainPrefix: config.consoleDomainPrefix }),
    tableIndexes: config.tableIndexes,
  };
}

/** The whole Skyglass service for one stage. */
export class SkyglassStack extends Stack {
  public readonly stage: string;
  public readonly production: boolean;
  public readonly table: dynamodb.Table;
  public readonly bucket: s3.Bucket;
  /** Every store's bucket by store id (only with `stores`): the default's is `bucket`. */
  public readonly storeBuckets: Readonly<Record<string, s3.IBucket>>;
  public readonly api: apigateway.RestApi;
  public readonly imageApi: ImageApi;
  /** Route functions by operationId. */
  public readonly functions: Readonly<Record<string, SkyglassFunction>>;
  public readonly authorizerFunction: SkyglassFunction;
  public readonly fallbackFunction: SkyglassFunction;
  /** Worker functions (state machine tasks) by name. */
  public readonly workers: Readonly<Record<string, SkyglassFunction>>;
  /** Hashes and inspects each image after upload, then activates or refuses it. */
  public readonly verifier: sfn.StateMachine;
  /** Glance's delayed delete: removes a deleted image's data after the restore window. */
  public readonly scrubber: sfn.StateMachine;
  /** image.* events (source `skyglass.images`). */
  public readonly eventBus: events.EventBus;
  /** The outbox relay's subscription to the table's stream, and its dead-letter queue. */
  public readonly eventRelay: EventRelay;
  /** The sweep worker's EventBridge schedules (uploads, stuck, audit) and their dead-letter queue. */
  public readonly sweepSchedules: SweepSchedules;
  /** Operational alarms by name (see SkyglassAlarms). */
  public readonly alarms: Readonly<Record<string, cloudwatch.Alarm>>;
  /** The topic every alarm notifies, unless `alarmSettings.topic` is false. */
  public readonly alarmTopic?: sns.Topic;
  /** Only when the stack creates its own issuer (`auth.kind === 'cognito'`). */
  public readonly userPool?: cognito.UserPool;
  public readonly userPoolClient?: cognito.UserPoolClient;
  /** Only with `dataFront`: the container serving PUT /file and PUT /stage, and the clients' CloudFront endpoint. */
  public readonly dataFront?: DataFront;
  /** Only with `console`: the browser console's bucket, distribution and app client. */
  public readonly console?: ConsoleSite;

  constructor(scope: Construct, id: string, props: SkyglassStackProps) {
    const {
      stage: _stage,
      auth: _auth,
      accessLogs: _accessLogs,
      throttling: _throttling,
      dataSettings: _dataSettings,
      deleteSettings: _deleteSettings,
      quotas: _quotas,
      sweepSettings: _sweepSettings,
      alarmSettings: _alarmSettings,
      provisionedConcurrency: _provisionedConcurrency,
      authorizerCacheSeconds: _authorizerCacheSeconds,
      policyOverrides: _policyOverrides,
      propertyProtections: _propertyProtections,
      imageMemberQuota: _imageMemberQuota,
      dataFront: _dataFront,
      stores: _stores,
      console: _console,
      consoleAssetDir: _consoleAssetDir,
      consoleDomainPrefix: _consoleDomainPrefix,
      ...stackProps
    } = props;
    super(scope, id, {
      description: `Skyglass: OpenStack Glance Images API v2 on AWS (${props.stage})`,
      ...stackProps,
    });
    this.stage = props.stage;
    this.production = isProdStage(props.stage);
    Tags.of(this).add('skyglass:stage', props.stage);

    this.table = new ImageTable(this, 'Images', { production: this.production, ...(props.tableIndexes !== undefined && { indexes: props.tableIndexes }) }).table;
    const dataSettings = props.dataSettings ?? DEFAULT_DATA_SETTINGS;
    this.bucket = new ImageBucket(this, 'ImageData', {
      production: this.production,
      // S3 must not abort a multipart upload whose session is still open.
      abortIncompleteUploadsAfterDays: multipartAbortDays(dataSettings),
    }).bucket;
    const stores = storeBucketsOf(this, props.stores, this.bucket, this.production, multipartAbortDays(dataSettings));
    this.storeBuckets = stores.buckets;
    const otherStores = Object.entries(stores.buckets).filter(([id]) => id !== stores.defaultId).map(([, bucket]) => bucket);
    const storeTargets = otherStores.length > 0 ? { otherStores } : {};

    const deleteSettings = props.deleteSettings ?? DEFAULT_DELETE_SETTINGS;
    this.eventBus = new events.EventBus(this, 'ImageEvents', {
      description: `Skyglass (${props.stage}) image.* events, source skyglass.images`,
    });

    const workflows = new ImageWorkflows(this, 'Workflows', {
      stage: props.stage,
      table: this.table,
      bucket: this.bucket,
      ...storeTargets,
      eventBus: this.eventBus,
      dataSettings,
      deleteSettings,
      ...(props.quotas && { quotas: props.quotas }),
      sweepSettings: props.sweepSettings ?? DEFAULT_SWEEP_SETTINGS,
      production: this.production,
    });
    this.workers = workflows.functions;
    this.verifier = workflows.verifier;
    this.scrubber = workflows.scrubber;

    const relay = this.workers.publishEvents;
    if (!relay) throw new Error('The stack relays the outbox with the publishEvents worker, but WORKERS has none');
    this.eventRelay = new EventRelay(this, 'EventRelay', { table: this.table, relay });

    const sweeper = this.workers.sweep;
    if (!sweeper) throw new Error('The stack schedules the sweep worker, but WORKERS has none');
    this.sweepSchedules = new SweepSchedules(this, 'Sweeps', { stage: props.stage, sweeper });

    const alarmSettings = props.alarmSettings ?? { topic: true };
    const monitoring = new SkyglassAlarms(this, 'Alarms', {
      stage: props.stage,
      verifier: this.verifier,
      scrubber: this.scrubber,
      sweeper,
      sweepDeadLetters: this.sweepSchedules.deadLetterQueue,
      relay,
      relayDeadLetters: this.eventRelay.deadLetterQueue,
      topic: alarmSettings.topic,
      ...(alarmSettings.email !== undefined && { email: alarmSettings.email }),
      production: this.production,
    });
    this.alarms = monitoring.alarms;
    if (monitoring.topic) this.alarmTopic = monitoring.topic;

    const authorizerEnvironment: Record<string, string> =
      props.auth.kind === 'keystone' ? {} : { CLAIM_PROJECT: props.auth.claims.project, CLAIM_USER: props.auth.claims.user, CLAIM_ROLES: props.auth.claims.roles };
    let issuer = '';
    if (props.auth.kind === 'keystone') {
      // Keystone validates each token itself (functions/auth/authorizer.ts): no keys, no claims.
      authorizerEnvironment.KEYSTONE_URL = props.auth.url;
    } else if (props.auth.kind === 'cognito') {
      const users = new UserDirectory(this, 'Users', { stage: props.stage, production: this.production });
      this.userPool = users.userPool;
      this.userPoolClient = users.client;
      issuer = users.issuer;
      Object.assign(authorizerEnvironment, {
        JWT_ISSUER: users.issuer,
        // ID tokens carry the custom attributes, and their `aud` is the app client id.
        JWT_AUDIENCE: users.client.userPoolClientId,
        JWKS_URL: users.jwksUrl,
      });
    } else if (props.auth.kind === 'external') {
      issuer = props.auth.issuer;
      authorizerEnvironment.JWT_ISSUER = props.auth.issuer;
      if (props.auth.audience !== undefined) authorizerEnvironment.JWT_AUDIENCE = props.auth.audience;
      if (props.auth.jwksUrl !== undefined) authorizerEnvironment.JWKS_URL = props.auth.jwksUrl;
      if (props.auth.jwksJson !== undefined) {
        const compact = JSON.stringify(JSON.parse(props.auth.jwksJson));
        if (Buffer.byteLength(compact) > MAX_JWKS_JSON_BYTES) {
          throw new Error(`jwksJson is ${Buffer.byteLength(compact)} bytes; Lambda environments hold 4 KB in total, use jwksUrl instead`);
        }
        authorizerEnvironment.JWKS_JSON = compact;
      }
    }

    this.imageApi = new ImageApi(this, 'Api', {
      stage: props.stage,
      table: this.table,
      bucket: this.bucket,
      ...storeTargets,
      verifier: this.verifier,
      scrubber: this.scrubber,
      eventBus: this.eventBus,
      dataSettings,
      deleteSettings,
      ...(props.quotas && { quotas: props.quotas }),
      authorizerEnvironment,
      ...(props.auth.kind === 'keystone' && { keystoneUrl: props.auth.url }),
      production: this.production,
      ...(props.accessLogs !== undefined && { accessLogs: props.accessLogs }),
      ...(props.throttling && { throttling: props.throttling }),
      ...(props.provisionedConcurrency && { provisionedConcurrency: props.provisionedConcurrency }),
      ...(props.authorizerCacheSeconds !== undefined && { authorizerCacheSeconds: props.authorizerCacheSeconds }),
    });
    this.api = this.imageApi.api;
    this.functions = this.imageApi.functions;
    this.authorizerFunction = this.imageApi.authorizerFunction;
    this.fallbackFunction = this.imageApi.fallbackFunction;

    if (props.dataFront) {
      this.dataFront = new DataFront(this, 'DataFront', {
        stage: props.stage,
        api: this.api,
        table: this.table,
        bucket: this.bucket,
        ...storeTargets,
        dataSettings,
        ...(props.quotas && { quotas: props.quotas }),
        authorizerEnvironment,
        ...(props.authorizerCacheSeconds !== undefined && { authorizerCacheSeconds: props.authorizerCacheSeconds }),
        production: this.production,
        ...(this.alarmTopic && { alarmTopic: this.alarmTopic }),
      });
    }

    if (props.console) {
      if (props.auth.kind !== 'cognito' || !this.userPool || !this.userPoolClient) {
        throw new Error("The console signs in with the stack's own user pool: it needs auth.kind 'cognito'");
      }
      const assetDir = props.consoleAssetDir ?? CONSOLE_DIST;
      if (!existsSync(join(assetDir, 'index.html'))) {
        throw new Error(`The console is not built at ${assetDir}: run npm run build:console (cdk synth builds it through infra/app.ts)`);
      }
      this.console = new ConsoleSite(this, 'Console', {
        stage: props.stage,
        assetDir,
        api: this.api,
        imageBucket: this.bucket,
        userPool: this.userPool,
        claims: props.auth.claims,
        ...(props.consoleDomainPrefix !== undefined && { domainPrefix: props.consoleDomainPrefix }),
        production: this.production,
      });
      this.imageApi.allowBrowserOrigin(this.console.origin);
      // The authorizer trusts ID tokens of both app clients (their `aud` is the client id).
      this.authorizerFunction.addEnvironment('JWT_AUDIENCE', `${this.userPoolClient.userPoolClientId},${this.console.client.userPoolClientId}`);
    }

    // Every function (and the data front) decides by the same policy and protections; each builds them once per start.
    const deciders: Array<{ addEnvironment(name: string, value: string): unknown }> = [
      ...this.node.findAll().filter((c): c is SkyglassFunction => c instanceof SkyglassFunction),
      ...(this.dataFront ? [this.dataFront.container] : []),
    ];
    for (const decider of deciders) {
      if (props.policyOverrides !== undefined) decider.addEnvironment('POLICY_OVERRIDES', props.policyOverrides);
      if (props.propertyProtections !== undefined) decider.addEnvironment('PROPERTY_PROTECTIONS', props.propertyProtections);
      // Functions that touch no bytes answer about the stores too (GET /v2/info/stores, create's header).
      if (stores.environment !== undefined) decider.addEnvironment('STORES', stores.environment);
    }
    // A table brought up one index per deploy (skyglass:tableIndexes) has only the first N: the
    // lists read only those, serving what a missing twin would the bounded unindexed way.
    if (props.tableIndexes !== undefined && props.tableIndexes < Object.keys(INDEXES).length) {
      for (const fn of this.node.findAll().filter((c): c is SkyglassFunction => c instanceof SkyglassFunction)) fn.addEnvironment('TABLE_INDEXES', String(props.tableIndexes));
    }
    // Only the functions that write members count them against the quota.
    if (props.imageMemberQuota !== undefined) {
      const memberWriters = new Set(ROUTES.filter((r) => r.access.includes('table:write-member')).map((r) => r.operationId));
      for (const [operationId, fn] of Object.entries(this.functions)) {
        if (memberWriters.has(operationId)) fn.addEnvironment('IMAGE_MEMBER_QUOTA', String(props.imageMemberQuota));
      }
    }

    new CfnOutput(this, 'ApiUrl', {
      value: this.api.url,
      description: this.dataFront ? 'The REST API behind DataFrontUrl (image data over ~4.5 MB needs DataFrontUrl)' : 'Glance endpoint (pass as --os-image-url)',
    });
    if (this.dataFront) {
      new CfnOutput(this, 'DataFrontUrl', { value: this.dataFront.url, description: 'Glance endpoint with the data front (pass as --os-image-url): every route, image data of any size' });
    }
    new CfnOutput(this, 'TableName', { value: this.table.tableName });
    new CfnOutput(this, 'BucketName', { value: this.bucket.bucketName });
    new CfnOutput(this, 'VerifierStateMachineArn', { value: this.verifier.stateMachineArn });
    new CfnOutput(this, 'ScrubberStateMachineArn', { value: this.scrubber.stateMachineArn });
    new CfnOutput(this, 'EventBusName', { value: this.eventBus.eventBusName, description: 'image.* events (source skyglass.images)' });
    if (this.alarmTopic) new CfnOutput(this, 'AlarmTopicArn', { value: this.alarmTopic.topicArn, description: 'Every alarm notifies this topic' });
    if (props.auth.kind === 'keystone') new CfnOutput(this, 'KeystoneUrl', { value: props.auth.url, description: 'The Keystone whose tokens the authorizer validates' });
    else new CfnOutput(this, 'JwtIssuer', { value: issuer, description: 'Issuer the authorizer trusts' });
    if (this.userPool && this.userPoolClient) {
      new CfnOutput(this, 'UserPoolId', { value: this.userPool.userPoolId });
      new CfnOutput(this, 'UserPoolClientId', { value: this.userPoolClient.userPoolClientId });
    }
    if (this.console) {
      new CfnOutput(this, 'ConsoleUrl', { value: this.console.url, description: 'The browser console (sign in with a user of UserPoolId)' });
      new CfnOutput(this, 'ConsoleClientId', { value: this.console.client.userPoolClientId, description: "The console's app client (authorization code with PKCE)" });
    }
  }
}

/**
 * The stores' buckets: the default store is the stack's own bucket; another store is created as
 * it was (same hardening, `StoreData<id>`), or, naming a bucket, that bucket. STORES is the list
 * the functions read (shared/app/config.ts), bucket names and regions resolved at deployment.
 */
function storeBucketsOf(
  stack: Stack,
  stores: readonly StoreSetting[] | undefined,
  ownBucket: s3.Bucket,
  production: boolean,
  abortIncompleteUploadsAfterDays: number,
): { buckets: Record<string, s3.IBucket>; defaultId: string | undefined; environment: string | undefined } {
  if (!stores) return { buckets: {}, defaultId: undefined, environment: undefined };
  const buckets: Record<string, s3.IBucket> = {};
  const region = (r: string) => (r === STACK_REGION ? stack.region : r);
  for (const store of stores) {
    if (store.default) {
      if (store.bucket !== null) throw new Error(`skyglass:stores: the default store "${store.id}" is the stack's own bucket; it names no "bucket"`);
      buckets[store.id] = ownBucket;
    } else if (store.bucket === null) {
      const id = `StoreData${store.id.replace(/[^A-Za-z0-9]/g, '')}`;
      buckets[store.id] = new ImageBucket(stack, id, { production, abortIncompleteUploadsAfterDays }).bucket;
    } else {
      buckets[store.id] = s3.Bucket.fromBucketAttributes(stack, `Store-${store.id}`, { bucketName: store.bucket, region: region(store.region) });
    }
  }
  const listed = stores.map((store) => ({ ...store, bucket: buckets[store.id]!.bucketName, region: region(store.region) }));
  return { buckets, defaultId: stores.find((s) => s.default)?.id, environment: stack.toJsonString(listed) };
}
