import * as path from 'node:path';
import { fileURLToPath } from 'node:url';
import { ArnFormat, Duration, RemovalPolicy, Stack, Validations } from 'aws-cdk-lib';
import * as dynamodb from 'aws-cdk-lib/aws-dynamodb';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as lambda from 'aws-cdk-lib/aws-lambda';
import { NodejsFunction, OutputFormat, type NodejsFunctionProps } from 'aws-cdk-lib/aws-lambda-nodejs';
import * as logs from 'aws-cdk-lib/aws-logs';
import type * as events from 'aws-cdk-lib/aws-events';
import type * as s3 from 'aws-cdk-lib/aws-s3';
import type * as sfn from 'aws-cdk-lib/aws-stepfunctions';
import type { Construct, Node } from 'constructs';
import { INDEXES, LIST_INDEXES, METADEF_KEY_PREFIX, SWEEP_INDEXES } from '../../shared/adapters/table-design.js';
import type { QuotaConfig } from '../../shared/domain/quota.js';
import type { Access } from '../../shared/routes.js';
import { LAMBDA_BUNDLE } from '../bundling.js';
import { DEFAULT_DATA_SETTINGS, DEFAULT_DELETE_SETTINGS, type DataSettings, type DeleteSettings } from '../config.js';

/** Repository root: NodejsFunction's `projectRoot`, and the base that route handler paths are relative to. */
export const REPO_ROOT = fileURLToPath(new URL('../../', import.meta.url));

/** The newest Node.js runtime this aws-cdk-lib offers; cdk-nag's AwsSolutions-L1 checks the same thing. */
export const NODE_RUNTIME = lambda.Runtime.NODEJS_24_X;

/**
 * What each `table:*` kind grants, and on what: item actions on the table itself, Queries on
 * the named indexes only (never `index/*`). Nothing else is ever granted on the table: every
 * write of an image is one conditional PutItem, and one that changes quota usage is a
 * TransactWriteItems of that PutItem with an UpdateItem of each owner's usage counter and the
 * Puts of the tag items it changes (a removed tag item is put back bare, with a TTL) (IAM
 * authorises a transaction as the item actions inside it); a member write is one transaction
 * of conditional Puts and a ConditionCheck of its image. No function holds DeleteItem.
 */
export const TABLE_GRANTS = {
  'table:read': { item: ['dynamodb:GetItem'], query: [] },
  'table:write': { item: ['dynamodb:GetItem', 'dynamodb:PutItem', 'dynamodb:UpdateItem'], query: [] },
  'table:insert': { item: ['dynamodb:PutItem', 'dynamodb:UpdateItem'], query: [] },
  'table:list': { item: ['dynamodb:BatchGetItem'], query: LIST_INDEXES },
  'table:read-members': { item: ['dynamodb:BatchGetItem'], query: [] },
  // A Query on the table itself (its ARN), not on any index: one image's partition.
  'table:list-members': { item: ['dynamodb:Query'], query: [] },
  'table:write-member': { item: ['dynamodb:PutItem', 'dynamodb:ConditionCheckItem'], query: [] },
  // A Query on the table itself (one image's memberships) and the UpdateItem of each one's copies,
  // in a transaction with the Puts of its share-tag items when they change.
  'table:share-copies': { item: ['dynamodb:PutItem', 'dynamodb:Query', 'dynamodb:UpdateItem'], query: [] },
  // A Query on the table itself: one image's partition, the image and its tasks.
  'table:image-tasks': { item: ['dynamodb:Query'], query: [] },
  'table:list-tasks': { item: [], query: [INDEXES.all.name] },
  'table:sweep': { item: [], query: SWEEP_INDEXES },
} as const satisfies Record<Exclude<Extract<Access, `table:${string}`>, 'table:stream'>, { item: readonly string[]; query: readonly string[] }>;

/**
 * What the metadefs catalogue's kinds grant on the table (docs/table-design.md, "Metadata
 * definitions"): reads are GetItem and Query of one partition (the catalogue's or a namespace's);
 * writes are conditional Puts and Deletes in transactions with ConditionChecks of the namespace,
 * the UpdateItem that upserts a resource type, and the BatchWriteItem deletes of a purge. These
 * are the only functions holding DeleteItem and BatchWriteItem; they run no image operation.
 */
export const METADEF_GRANTS = {
  'metadefs:read': ['dynamodb:GetItem', 'dynamodb:Query'],
  'metadefs:write': ['dynamodb:BatchWriteItem', 'dynamodb:ConditionCheckItem', 'dynamodb:DeleteItem', 'dynamodb:PutItem', 'dynamodb:UpdateItem'],
} as const satisfies Record<Extract<Access, `metadefs:${string}`>, readonly string[]>;

/**
 * The condition on every metadefs grant: each partition key the request touches (every item of
 * a batch or transaction, the partition of a Query) begins with METADEF_KEY_PREFIX, the
 * catalogue's and the namespaces' partitions and no image's. ForAllValues, because a batch
 * carries several keys.
 */
export const METADEF_LEADING_KEYS = { 'ForAllValues:StringLike': { 'dynamodb:LeadingKeys': [`${METADEF_KEY_PREFIX}*`] } } as const;

/**
 * Actions that support no resource-level permissions (so `Resource: "*"` is the only way to
 * grant them): X-Ray tracing, and the ListStreams of a stream event source mapping. They live
 * in a policy of their own, the only place cdk-nag's IAM5[Resource::*] is acknowledged, so a
 * data statement on `*` added anywhere else is still reported.
 */
export const TRACING_ACTIONS = ['xray:PutTraceSegments', 'xray:PutTelemetryRecords'] as const;
export const STREAM_LIST_ACTIONS = ['dynamodb:ListStreams'] as const;

/** Where every image object lives; keys are `images/<image id>/<unique id>` (shared/app/image-data.ts). */
export const IMAGE_KEY_PREFIX = 'images/';

/**
 * S3 actions per object access kind, all on `<bucket>/images/*` only. A function that presigns
 * must itself hold the action the URL performs (the URL is signed with its role's
 * credentials): so multipart includes s3:PutObject, which covers CreateMultipartUpload,
 * UploadPart (the presigned part PUTs) and CompleteMultipartUpload, and presigned downloads
 * rest on bucket:read's s3:GetObject (which also covers HeadObject).
 */
export const ACCESS_GRANTS = {
  'bucket:read': ['s3:GetObject'],
  'bucket:write': ['s3:PutObject'],
  'bucket:delete': ['s3:DeleteObject'],
  'bucket:multipart': ['s3:PutObject'],
  'bucket:parts': ['s3:ListMultipartUploadParts'],
  'bucket:abort': ['s3:AbortMultipartUpload'],
} as const satisfies Record<Exclude<Extract<Access, `bucket:${string}`>, 'bucket:list' | 'bucket:list-uploads'>, readonly string[]>;

/**
 * `bucket:list`, the one bucket-level grant: s3:ListBucket on the bucket ARN, and only for
 * listings whose prefix is under images/ (a ListObjectsV2 without such a prefix is refused).
 */
export const LIST_GRANT = {
  actions: ['s3:ListBucket'],
  condition: { StringLike: { 's3:prefix': `${IMAGE_KEY_PREFIX}*` } },
} as const;

/** What each `workflow:*` kind grants on its state machine (StopExecution on its executions only). */
export const WORKFLOW_ACTIONS = {
  'workflow:verify': { start: true, stop: false, list: false },
  'workflow:scrub': { start: true, stop: false, list: false },
  'workflow:stop-scrub': { start: false, stop: true, list: false },
  'workflow:redrive-verify': { start: true, stop: false, list: true },
  'workflow:redrive-scrub': { start: true, stop: false, list: true },
} as const satisfies Record<Extract<Access, `workflow:${string}`>, { start: boolean; stop: boolean; list: boolean }>;

/** A state machine whose name is known (StopExecution is granted on its executions by name). */
export type NamedStateMachine = sfn.IStateMachine & { readonly stateMachineName: string };

/** What a function's access kinds are granted on. */
export interface AccessTargets {
  readonly table: dynamodb.ITable;
  /** Needed by any `bucket:*` kind: the default store's bucket (the only one without `skyglass:stores`). */
  readonly bucket?: s3.IBucket;
  /**
   * The buckets of the other stores (`skyglass:stores`): every `bucket:*` grant covers each of
   * them as it covers `bucket`, since an image's bytes may be in any store.
   * @default none
   */
  readonly otherStores?: readonly s3.IBucket[];
  /** Needed by `workflow:verify` and `workflow:redrive-verify`. */
  readonly verifier?: NamedStateMachine;
  /** Needed by `workflow:scrub`, `workflow:stop-scrub` and `workflow:redrive-scrub`. */
  readonly scrubber?: NamedStateMachine;
  /** Needed by `events:publish`. */
  readonly eventBus?: events.IEventBus;
  /**
   * Lifetimes handed to data functions.
   * @default DEFAULT_DATA_SETTINGS
   */
  readonly dataSettings?: DataSettings;
  /**
   * Delayed delete, handed to functions that start the scrubber.
   * @default DEFAULT_DELETE_SETTINGS
   */
  readonly deleteSettings?: DeleteSettings;
  /**
   * Per-project quotas, handed (as QUOTAS) to every function that reads or writes the table.
   * @default none: unlimited
   */
  readonly quotas?: QuotaConfig;
}

export interface SkyglassFunctionProps
  extends Omit<NodejsFunctionProps, 'entry' | 'runtime' | 'architecture' | 'projectRoot' | 'depsLockFilePath' | 'logGroup' | 'role'> {
  /** Handler module relative to the repository root, as in the route table (`functions/<group>/<name>.ts`). */
  readonly handlerPath: string;
  /**
   * What happens to the function's log group when the stack is deleted.
   * @default RemovalPolicy.RETAIN
   */
  readonly logRemovalPolicy?: RemovalPolicy;
  /**
   * Log retention.
   * @default logs.RetentionDays.ONE_MONTH
   */
  readonly logRetention?: logs.RetentionDays;
}

/**
 * A `NodejsFunction` with the house defaults: newest Node.js runtime on ARM64, 512 MB, 10 s,
 * X-Ray active tracing, an explicit one-month log group, and an ESM bundle that includes the
 * AWS SDK v3 (so the code runs against the SDK version we tested, not the runtime's).
 *
 * Its role starts empty (no AWSLambdaBasicExecutionRole managed policy): it may write only to
 * its own log group, plus whatever `grantAccess` adds.
 */
export class SkyglassFunction extends NodejsFunction {
  /** The function's own log group (one-month retention). */
  public readonly functionLogGroup: logs.LogGroup;
  /** The execution role; starts with write access to the log group only. */
  public readonly serviceRole: iam.Role;
  /** The role's statements on `*` (actions without resource-level permissions), apart from its data grants. */
  public readonly unscopedPolicy: iam.Policy;

  constructor(scope: Construct, id: string, props: SkyglassFunctionProps) {
    const { handlerPath, logRemovalPolicy, logRetention, bundling, tracing, ...rest } = props;
    // The log group and role must exist before `super()`, so they are created in the parent
    // scope under ids derived from this function's id (unique because `id` is unique there).
    const logGroup = new logs.LogGroup(scope, `${id}LogGroup`, {
      retention: logRetention ?? logs.RetentionDays.ONE_MONTH,
      removalPolicy: logRemovalPolicy ?? RemovalPolicy.RETAIN,
    });
    const role = new iam.Role(scope, `${id}Role`, {
      assumedBy: new iam.ServicePrincipal('lambda.amazonaws.com'),
      description: `Execution role of the ${id} function`,
    });
    logGroup.grantWrite(role);

    super(scope, id, {
      runtime: NODE_RUNTIME,
      architecture: lambda.Architecture.ARM_64,
      memorySize: 512,
      timeout: Duration.seconds(10),
      // Tracing is set on the resource below, so that its X-Ray grant lands in the unscoped policy.
      ...rest,
      entry: path.join(REPO_ROOT, handlerPath),
      handler: 'handler',
      projectRoot: REPO_ROOT,
      depsLockFilePath: path.join(REPO_ROOT, 'package-lock.json'),
      logGroup,
      role,
      bundling: {
        // infra/bundling.ts is the one definition; the bench builds with the same.
        format: OutputFormat.ESM,
        minify: LAMBDA_BUNDLE.minify,
        sourceMap: LAMBDA_BUNDLE.sourcemap,
        target: LAMBDA_BUNDLE.target,
        mainFields: [...LAMBDA_BUNDLE.mainFields],
        banner: LAMBDA_BUNDLE.banner,
        define: { ...LAMBDA_BUNDLE.define },
        esbuildArgs: Object.fromEntries(Object.entries(LAMBDA_BUNDLE.alias).map(([from, to]) => [`--alias:${from}`, to])),
        // Bundle the AWS SDK v3 in rather than relying on the runtime's copy.
        externalModules: [],
        ...bundling,
      },
    });
    this.functionLogGroup = logGroup;
    this.serviceRole = role;

    // Active tracing (the house default), with its X-Ray grant in a policy of its own: cdk-nag 3
    // reads acknowledgements from a construct and its ancestors, so acknowledging IAM5[Resource::*]
    // on this policy alone leaves every other statement of the role checked.
    const mode = tracing ?? lambda.Tracing.ACTIVE;
    this.unscopedPolicy = new iam.Policy(role, 'Unscoped', { roles: [role] });
    Validations.of(this.unscopedPolicy).acknowledge({
      id: 'AwsSolutions-IAM5[Resource::*]',
      reason:
        'This policy holds only actions that support no resource-level permissions (xray:PutTraceSegments, xray:PutTelemetryRecords; dynamodb:ListStreams for a stream mapping), so Resource "*" is the only form; data grants live in the role\'s other policy.',
    });
    if (mode !== lambda.Tracing.DISABLED) {
      (this.node.defaultChild as lambda.CfnFunction).tracingConfig = { mode };
      this.unscopedPolicy.addStatements(new iam.PolicyStatement({ sid: 'Tracing', actions: [...TRACING_ACTIONS], resources: ['*'] }));
    }
    // Lambda refuses to create a traced function whose role cannot write traces yet.
    this.node.addDependency(this.unscopedPolicy);
  }

  /**
   * Grants the least IAM actions covering `access` and sets the environment variables those
   * grants come with (see grantAccessTo).
   */
  grantAccess(access: readonly Access[], targets: AccessTargets): void {
    grantAccessTo(
      {
        node: this.node,
        role: this.serviceRole,
        addToRolePolicy: (statement) => this.addToRolePolicy(statement),
        addEnvironment: (name, value) => void this.addEnvironment(name, value),
        unscopedPolicy: this.unscopedPolicy,
      },
      access,
      targets,
    );
  }
}

/**
 * Whatever runs the product's code with a role of its own: a SkyglassFunction, or the data
 * front's container (infra/constructs/data-front.ts). Both are granted by grantAccessTo, so an
 * access kind means the same IAM actions wherever it is declared.
 */
export interface AccessGrantee {
  /** Names the grantee in synth-time errors. */
  readonly node: Node;
  /** Where cdk-nag acknowledgements of the data grants go. */
  readonly role: iam.IRole;
  addToRolePolicy(statement: iam.PolicyStatement): void;
  addEnvironment(name: string, value: string): void;
  /** The policy for actions without resource-level permissions; absent, a kind needing one is refused. */
  readonly unscopedPolicy?: iam.Policy;
}

/**
 * Grants the least IAM actions covering `access` and sets the environment variables those
 * grants come with. A kind this stack does not know is a synth-time error (and, through the
 * `never` check, a compile-time one) rather than a grantee that fails with AccessDenied.
 */
export function grantAccessTo(grantee: AccessGrantee, access: readonly Access[], targets: AccessTargets): void {
  const tableItemActions = new Set<string>();
  const queriedIndexes = new Set<string>();
  let tableAccess = false;
  let imageTable = false;
  let metadefTable = false;
  let publish = false;
  let list = false;
  let listUploads = false;
  let stream = false;
  const objectActions = new Set<string>();
  const workflows = new Map<keyof typeof WORKFLOW_ACTIONS, { machine: NamedStateMachine; variable: string }>();
  const workflow = (kind: keyof typeof WORKFLOW_ACTIONS, machine: NamedStateMachine | undefined, variable: string) => {
    if (!machine) throw new Error(`${grantee.node.path}: ${kind} needs the ${kind.endsWith('verify') ? 'verifier' : 'scrubber'} state machine`);
    workflows.set(kind, { machine, variable });
  };
  for (const kind of access) {
    switch (kind) {
      case 'table:read':
      case 'table:write':
      case 'table:insert':
      case 'table:list':
      case 'table:read-members':
      case 'table:list-members':
      case 'table:write-member':
      case 'table:image-tasks':
      case 'table:share-copies':
      case 'table:list-tasks':
      case 'table:sweep':
        tableAccess = true;
        imageTable = true;
        for (const action of TABLE_GRANTS[kind].item) tableItemActions.add(action);
        for (const index of TABLE_GRANTS[kind].query) queriedIndexes.add(index);
        break;
      case 'bucket:read':
      case 'bucket:write':
      case 'bucket:delete':
      case 'bucket:multipart':
      case 'bucket:parts':
      case 'bucket:abort':
        if (!targets.bucket) throw new Error(`${grantee.node.path}: ${kind} needs the image bucket`);
        for (const action of ACCESS_GRANTS[kind]) objectActions.add(action);
        break;
      case 'bucket:list':
        if (!targets.bucket) throw new Error(`${grantee.node.path}: ${kind} needs the image bucket`);
        list = true;
        break;
      case 'bucket:list-uploads':
        if (!targets.bucket) throw new Error(`${grantee.node.path}: ${kind} needs the image bucket`);
        listUploads = true;
        break;
      case 'workflow:verify':
      case 'workflow:redrive-verify':
        workflow(kind, targets.verifier, 'VERIFIER_STATE_MACHINE_ARN');
        break;
      case 'workflow:scrub':
      case 'workflow:stop-scrub':
      case 'workflow:redrive-scrub':
        workflow(kind, targets.scrubber, 'SCRUBBER_STATE_MACHINE_ARN');
        break;
      case 'events:publish':
        if (!targets.eventBus) throw new Error(`${grantee.node.path}: ${kind} needs the image event bus`);
        publish = true;
        break;
      case 'metadefs:read':
      case 'metadefs:write':
        tableAccess = true;
        metadefTable = true;
        for (const action of METADEF_GRANTS[kind]) tableItemActions.add(action);
        break;
      case 'table:stream':
        if (!targets.table.tableStreamArn) throw new Error(`${grantee.node.path}: ${kind} needs a table with a stream`);
        stream = true;
        break;
      default:
        throw new Error(`${grantee.node.path}: unknown access kind ${JSON.stringify(kind satisfies never)}; add it to SkyglassFunction.grantAccess`);
    }
  }

  if (tableAccess) {
    // A grant conditioned on metadefs keys would refuse image items, an unconditioned one would open them to metadefs functions.
    if (imageTable && metadefTable) throw new Error(`${grantee.node.path}: metadefs:* and table:* access in one function; the metadefs grants are limited to metadefs keys`);
    grantTable(grantee, targets.table, [...tableItemActions], [...queriedIndexes], metadefTable ? METADEF_LEADING_KEYS : undefined);
    if (targets.quotas) grantee.addEnvironment('QUOTAS', JSON.stringify(targets.quotas));
  }
  if (stream && targets.table.tableStreamArn) {
    // What a stream's event source mapping reads with: DescribeStream, GetRecords and
    // GetShardIterator on this table's stream, and ListStreams, which has no resource level.
    grantee.addToRolePolicy(
      new iam.PolicyStatement({
        sid: 'ReadTableStream',
        actions: ['dynamodb:DescribeStream', 'dynamodb:GetRecords', 'dynamodb:GetShardIterator'],
        resources: [targets.table.tableStreamArn],
      }),
    );
    if (!grantee.unscopedPolicy) throw new Error(`${grantee.node.path}: table:stream needs a policy for dynamodb:ListStreams (Resource "*")`);
    grantee.unscopedPolicy.addStatements(new iam.PolicyStatement({ sid: 'ListStreams', actions: [...STREAM_LIST_ACTIONS], resources: ['*'] }));
  }

  // Every store's bucket (the default's first), granted alike.
  const buckets = targets.bucket ? [targets.bucket, ...(targets.otherStores ?? [])] : [];
  if (objectActions.size > 0 && buckets.length > 0) {
    // Objects only, and only under the prefix the server chooses keys in
    // (images/<image id>/<unique id>); the one bucket-level action is bucket:list's below.
    grantee.addToRolePolicy(
      new iam.PolicyStatement({
        sid: 'ImageObjects',
        actions: [...objectActions].sort(),
        resources: buckets.map((bucket) => bucket.arnForObjects(`${IMAGE_KEY_PREFIX}*`)),
      }),
    );
    for (const bucket of buckets) {
      const created = bucket.node.defaultChild as s3.CfnBucket | undefined;
      // cdk-nag names a bucket the stack creates by its logical id, a bucket it only names by its ARN.
      const resource = created ? `<${Stack.of(grantee.role).getLogicalId(created)}.Arn>` : `arn:<AWS::Partition>:s3:::${bucket.bucketName}`;
      Validations.of(grantee.role).acknowledge({
        id: `AwsSolutions-IAM5[Resource::${resource}/${IMAGE_KEY_PREFIX}*]`,
        reason:
          'Object keys are chosen per image and upload by the server (images/<image id>/<unique id>), so the images/ prefix is the narrowest resource that covers them; these are object-level actions only.',
      });
    }
  }
  if (list && buckets.length > 0) {
    // The bucket itself (ListBucket acts on the bucket ARN), for listings under images/ only.
    grantee.addToRolePolicy(
      new iam.PolicyStatement({
        sid: 'ListImageObjects',
        actions: [...LIST_GRANT.actions],
        resources: buckets.map((bucket) => bucket.bucketArn),
        conditions: LIST_GRANT.condition,
      }),
    );
  }

  if (listUploads && buckets.length > 0) {
    // Which multipart uploads are open (keys and upload ids, no bytes); S3 scopes this action
    // to the bucket, and the auditor lists under images/ only.
    grantee.addToRolePolicy(
      new iam.PolicyStatement({ sid: 'ListOpenUploads', actions: ['s3:ListBucketMultipartUploads'], resources: buckets.map((bucket) => bucket.bucketArn) }),
    );
  }

  for (const [kind, { machine, variable }] of workflows) {
    const { start, stop, list } = WORKFLOW_ACTIONS[kind];
    if (start) grantee.addToRolePolicy(new iam.PolicyStatement({ actions: ['states:StartExecution'], resources: [machine.stateMachineArn] }));
    // ListExecutions acts on the state machine: which executions still run (the sweeper's re-drive).
    if (list) grantee.addToRolePolicy(new iam.PolicyStatement({ actions: ['states:ListExecutions'], resources: [machine.stateMachineArn] }));
    if (stop) {
      // StopExecution acts on an execution ARN: scoped to this state machine's executions.
      grantee.addToRolePolicy(new iam.PolicyStatement({ actions: ['states:StopExecution'], resources: [executionsOf(machine)] }));
      const machineId = Stack.of(grantee.role).getLogicalId(machine.node.defaultChild as sfn.CfnStateMachine);
      Validations.of(grantee.role).acknowledge({
        id: `AwsSolutions-IAM5[Resource::arn:<AWS::Partition>:states:<AWS::Region>:<AWS::AccountId>:execution:<${machineId}.Name>:*]`,
        reason: 'Execution names are per image version (restore stops the delayed scrub of that version); the wildcard covers only this state machine\'s executions.',
      });
    }
    grantee.addEnvironment(variable, machine.stateMachineArn);
  }
  if (workflows.has('workflow:scrub')) {
    const deletes = targets.deleteSettings ?? DEFAULT_DELETE_SETTINGS;
    grantee.addEnvironment('DELAYED_DELETE', String(deletes.delayedDelete));
    grantee.addEnvironment('SCRUB_DELAY_SECONDS', String(deletes.scrubDelaySeconds));
  }

  if (publish && targets.eventBus) {
    grantee.addToRolePolicy(new iam.PolicyStatement({ sid: 'PublishImageEvents', actions: ['events:PutEvents'], resources: [targets.eventBus.eventBusArn] }));
    grantee.addEnvironment('EVENT_BUS_NAME', targets.eventBus.eventBusName);
  }

  // Only functions that touch the bucket learn its name (and the data lifetimes).
  if ((objectActions.size > 0 || list) && targets.bucket) {
    const data = targets.dataSettings ?? DEFAULT_DATA_SETTINGS;
    grantee.addEnvironment('BUCKET_NAME', targets.bucket.bucketName);
    // Presigned URLs are signed with this role's temporary credentials and carry its session
    // token: S3 refuses them once that role session expires, whatever X-Amz-Expires says.
    // Lambda's role sessions last hours at most, so these lifetimes are upper bounds; a
    // client whose part URL died early fetches fresh ones with GET .../uploads/{id}, and a
    // download simply asks again.
    grantee.addEnvironment('UPLOAD_URL_SECONDS', String(data.uploadUrlSeconds));
    grantee.addEnvironment('UPLOAD_SESSION_SECONDS', String(data.uploadSessionSeconds));
    grantee.addEnvironment('DOWNLOAD_URL_SECONDS', String(data.downloadUrlSeconds));
  }
  }

/** Item actions on the table, Queries on the named indexes; sets `TABLE_NAME`. */
function grantTable(grantee: AccessGrantee, table: dynamodb.ITable, itemActions: string[], indexes: string[], conditions?: Record<string, Record<string, unknown>>): void {
  // A Query of the table itself (one image's partition) is a statement of its own: a function
  // that reads items by key and queries a partition gets each action for what it is, and the
  // Query grants of a role can be read in one place (test/infra "scopes table permissions").
  const keyActions = itemActions.filter((action) => action !== 'dynamodb:Query');
  if (keyActions.length > 0) {
    grantee.addToRolePolicy(new iam.PolicyStatement({ sid: 'TableItems', actions: keyActions.sort(), resources: [table.tableArn], ...(conditions && { conditions }) }));
  }
  if (keyActions.length < itemActions.length) {
    grantee.addToRolePolicy(new iam.PolicyStatement({ sid: 'QueryTablePartitions', actions: ['dynamodb:Query'], resources: [table.tableArn], ...(conditions && { conditions }) }));
  }
  if (indexes.length > 0) {
    grantee.addToRolePolicy(
      new iam.PolicyStatement({
        sid: 'QueryIndexes',
        actions: ['dynamodb:Query'],
        resources: indexes.sort().map((index) => `${table.tableArn}/index/${index}`),
      }),
    );
  }
  grantee.addEnvironment('TABLE_NAME', table.tableName);
}

/** `arn:…:states:<region>:<account>:execution:<state machine name>:*`: the executions of one state machine. */
function executionsOf(machine: NamedStateMachine): string {
  return Stack.of(machine).formatArn({
    service: 'states',
    resource: 'execution',
    arnFormat: ArnFormat.COLON_RESOURCE_NAME,
    resourceName: `${machine.stateMachineName}:*`,
  });
}
