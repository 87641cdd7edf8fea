import * as path from 'node:path';
import { fileURLToPath } from 'node:url';
import { Duration, RemovalPolicy, Stack, Validations } from 'aws-cdk-lib';
import * as dynamodb from 'aws-cdk-lib/aws-dynamodb';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as lambda from 'aws-cdk-lib/aws-lambda';
import { NodejsFunction, OutputFormat, type NodejsFunctionProps } from 'aws-cdk-lib/aws-lambda-nodejs';
import * as logs from 'aws-cdk-lib/aws-logs';
import type { Construct } from 'constructs';
import type { Access } from '../../shared/routes.js';
import { LAMBDA_BUNDLE } from '../bundling.js';

/** Repository root: NodejsFunction's `projectRoot`, and the base that route handler paths are relative to. */
export const REPO_ROOT = fileURLToPath(new URL('../../', import.meta.url));

/** The newest Node.js runtime this aws-cdk-lib offers; cdk-nag's AwsSolutions-L1 checks the same thing. */
export const NODE_RUNTIME = lambda.Runtime.NODEJS_24_X;

/** IAM actions per access level; nothing else is ever granted on the table. */
export const TABLE_ACTIONS = {
  /** Key reads and Queries (on the table and its indexes). */
  read: ['dynamodb:GetItem', 'dynamodb:BatchGetItem', 'dynamodb:Query'],
  /**
   * Item writes, table only (indexes are never written directly). ConditionCheckItem is what a
   * TransactWriteItems `ConditionCheck` element needs; TransactWriteItems itself is not an IAM action.
   */
  write: ['dynamodb:PutItem', 'dynamodb:UpdateItem', 'dynamodb:DeleteItem', 'dynamodb:ConditionCheckItem'],
} as const;

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
 * its own log group, plus whatever `grantTable` adds.
 */
export class SkyglassFunction extends NodejsFunction {
  /** The function's own log group (one-month retention). */
  public readonly functionLogGroup: logs.LogGroup;
  /** The execution role; starts with write access to the log group only. */
  public readonly serviceRole: iam.Role;

  constructor(scope: Construct, id: string, props: SkyglassFunctionProps) {
    const { handlerPath, logRemovalPolicy, logRetention, bundling, ...rest } = props;
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
      tracing: lambda.Tracing.ACTIVE,
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
        esbuildArgs: Object.fromEntries(Object.entries(LAMBDA_BUNDLE.alias).map(([from, to]) => [`--alias:${from}`, to])),
        // Bundle the AWS SDK v3 in rather than relying on the runtime's copy.
        externalModules: [],
        ...bundling,
      },
    });
    this.functionLogGroup = logGroup;
    this.serviceRole = role;

    // cdk-nag 3 reads acknowledgements from this construct and its ancestors, so acknowledging
    // on the role covers its DefaultPolicy.
    Validations.of(role).acknowledge({
      id: 'AwsSolutions-IAM5[Resource::*]',
      reason: 'Active tracing needs xray:PutTraceSegments and xray:PutTelemetryRecords, which support no resource-level permissions (Resource "*").',
    });
  }

  /**
   * Grants the least DynamoDB actions covering `access` on the table and its indexes, and sets
   * `TABLE_NAME`. A function with no access gets neither the permission nor the variable.
   */
  grantTable(table: dynamodb.ITable, access: readonly Access[]): void {
    if (access.length === 0) return;
    const canWrite = access.includes('table:write');
    const indexArn = `${table.tableArn}/index/*`;
    this.addToRolePolicy(
      new iam.PolicyStatement({
        sid: 'TableRead',
        actions: [...TABLE_ACTIONS.read],
        resources: [table.tableArn, indexArn],
      }),
    );
    if (canWrite) {
      this.addToRolePolicy(
        new iam.PolicyStatement({
          sid: 'TableWrite',
          actions: [...TABLE_ACTIONS.write],
          resources: [table.tableArn],
        }),
      );
    }
    this.addEnvironment('TABLE_NAME', table.tableName);

    const tableId = Stack.of(this).getLogicalId(table.node.defaultChild as dynamodb.CfnTable);
    Validations.of(this.serviceRole).acknowledge({
      id: `AwsSolutions-IAM5[Resource::<${tableId}.Arn>/index/*]`,
      reason: "Queries run on the table's global secondary indexes (byOwner, byVisibility, all); the wildcard covers only this table's indexes and only read actions.",
    });
  }
}
