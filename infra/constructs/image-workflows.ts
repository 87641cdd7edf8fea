import { Aws, Duration, Fn, RemovalPolicy, Validations, type CfnElement } from 'aws-cdk-lib';
import * as iam from 'aws-cdk-lib/aws-iam';
import type * as dynamodb from 'aws-cdk-lib/aws-dynamodb';
import type * as events from 'aws-cdk-lib/aws-events';
import * as logs from 'aws-cdk-lib/aws-logs';
import type * as s3 from 'aws-cdk-lib/aws-s3';
import * as sfn from 'aws-cdk-lib/aws-stepfunctions';
import { Construct } from 'constructs';
import { WORKERS, type Access, type Worker } from '../../shared/routes.js';
import { scrubberDefinition } from '../../shared/workflows/scrubber.js';
import { verifierDefinition } from '../../shared/workflows/verifier.js';
import type { QuotaConfig } from '../../shared/domain/quota.js';
import { DEFAULT_SWEEP_SETTINGS, type DataSettings, type DeleteSettings, type SweepSettings } from '../config.js';
import { SkyglassFunction, type SkyglassFunctionProps } from './skyglass-function.js';

export interface ImageWorkflowsProps {
  readonly stage: string;
  readonly table: dynamodb.ITable;
  readonly bucket: s3.IBucket;
  /**
   * The other stores' buckets (`skyglass:stores`), granted as `bucket` is.
   * @default none
   */
  readonly otherStores?: readonly s3.IBucket[];
  /** Where workers publish image events. */
  readonly eventBus: events.IEventBus;
  /**
   * Lifetimes of upload sessions and presigned URLs, for workers with data access.
   * @default DEFAULT_DATA_SETTINGS
   */
  readonly dataSettings?: DataSettings;
  /**
   * Delayed delete, for workers that start the scrubber.
   * @default DEFAULT_DELETE_SETTINGS
   */
  readonly deleteSettings?: DeleteSettings;
  /**
   * Per-project quotas (QUOTAS), for workers that write images.
   * @default none: unlimited
   */
  readonly quotas?: QuotaConfig;
  /**
   * The sweepers' limits, for the `sweep` worker.
   * @default DEFAULT_SWEEP_SETTINGS
   */
  readonly sweepSettings?: SweepSettings;
  /**
   * Production retains log groups when the stack is deleted.
   * @default false
   */
  readonly production?: boolean;
  /**
   * The functions no route calls.
   * @default WORKERS from shared/routes.ts
   */
  readonly workers?: readonly Worker[];
}

/**
 * Sizes that differ from the house defaults (512 MB, 10 s), by worker name.
 *
 * verifyImage streams a whole image once (MD5 + SHA-512 + format inspection). Hashing is
 * CPU-bound, so it gets 1769 MB, the size at which Lambda allots one full vCPU, and Lambda's
 * maximum of 15 minutes. Limit to document: MD5 and SHA-512 over the same bytes on one core
 * run at about 180 MiB/s (measured on one x86 core) and an S3 GET streams at up to ~300 MB/s,
 * so 15 minutes cover roughly 100-250 GiB: images above ~100 GiB may not verify in one
 * invocation. The state machine then retries and finally refuses the image (GiveUp).
 */
const WORKER_SIZING: Readonly<Record<string, Pick<SkyglassFunctionProps, 'timeout' | 'memorySize'>>> = {
  verifyImage: { timeout: Duration.minutes(15), memorySize: 1769 },
  // Streaming a source into parts is I/O-bound: memory for (4 + 1) parts of up to a few
  // tens of MiB, and Lambda's maximum of 15 minutes (the fetch itself stops at 14).
  fetchImage: { timeout: Duration.minutes(15), memorySize: 1024 },
  // The sweepers query the status index and list the bucket's images/ prefix: I/O-bound, so
  // the default memory, but Lambda's maximum of 15 minutes.
  sweep: { timeout: Duration.minutes(15) },
  // A stream batch of up to 100 records, one PutEvents call each, with the SDK's own retries.
  publishEvents: { timeout: Duration.minutes(1) },
};

/** Settings that only one worker reads, by worker name (shared/app/config.ts reads them). */
const workerEnvironment = (sweeps: SweepSettings): Readonly<Record<string, Record<string, string>>> => ({
  sweep: { SWEEP_STUCK_SECONDS: String(sweeps.stuckSeconds), ORPHAN_GRACE_SECONDS: String(sweeps.orphanGraceSeconds) },
});

/** What Step Functions needs to deliver a state machine's logs to CloudWatch Logs (no resource-level permissions). */
const LOG_DELIVERY_ACTIONS = [
  'logs:CreateLogDelivery', 'logs:GetLogDelivery', 'logs:UpdateLogDelivery', 'logs:DeleteLogDelivery',
  'logs:ListLogDeliveries', 'logs:PutResourcePolicy', 'logs:DescribeResourcePolicies', 'logs:DescribeLogGroups',
] as const;
/** What an X-Ray-traced state machine needs (no resource-level permissions). */
const STATE_MACHINE_TRACING_ACTIONS = ['xray:PutTraceSegments', 'xray:PutTelemetryRecords', 'xray:GetSamplingRules', 'xray:GetSamplingTargets'] as const;

/** `verifyImage` → `VerifyImageFunctionArn`, the placeholder state machine definitions use for it. */
export const functionArnPlaceholder = (workerName: string): string => `${workerName.charAt(0).toUpperCase()}${workerName.slice(1)}FunctionArn`;

/** The state machines: construct id, the shared ASL, and the access kind that starts it. */
const MACHINES = [
  { id: 'Verifier', name: 'verifier', definition: verifierDefinition, startedBy: 'workflow:verify' },
  { id: 'Scrubber', name: 'scrubber', definition: scrubberDefinition, startedBy: 'workflow:scrub' },
] as const satisfies readonly { id: string; name: string; definition: () => object; startedBy: Access }[];

/**
 * The workers (one function per entry of WORKERS, construct id = worker name, granted the
 * least access its entry declares) and the state machines that run them: the ASL of
 * shared/workflows/*.ts, deployed as is with the function ARNs substituted, so AWS runs
 * exactly the JSON the local runtime runs. Each state machine's role may invoke only the
 * functions its definition names.
 */
export class ImageWorkflows extends Construct {
  /** Worker functions by name. */
  public readonly functions: Readonly<Record<string, SkyglassFunction>>;
  /** Hashes and inspects an image after upload, then activates or refuses it. */
  public readonly verifier: sfn.StateMachine;
  /** Glance's delayed delete: waits out the restore window, removes the data, tombstones the image. */
  public readonly scrubber: sfn.StateMachine;
  /** Each state machine's log group, by construct id (`Verifier`, `Scrubber`). */
  public readonly logGroups: Readonly<Record<string, logs.LogGroup>>;

  constructor(scope: Construct, id: string, props: ImageWorkflowsProps) {
    super(scope, id);
    const workers = props.workers ?? WORKERS;
    const logRemovalPolicy = props.production ? RemovalPolicy.RETAIN : RemovalPolicy.DESTROY;

    const environments = workerEnvironment(props.sweepSettings ?? DEFAULT_SWEEP_SETTINGS);
    const functions: Record<string, SkyglassFunction> = {};
    for (const worker of workers) {
      const environment = environments[worker.name];
      functions[worker.name] = new SkyglassFunction(this, worker.name, {
        handlerPath: worker.handler,
        description: `skyglass-${props.stage} worker ${worker.name}: ${worker.summary}`.slice(0, 256),
        logRemovalPolicy,
        ...WORKER_SIZING[worker.name],
        // STAGE: the dimension of the workers' embedded metrics (shared/app/metrics.ts).
        environment: { STAGE: props.stage, ...environment },
      });
    }
    this.functions = functions;

    // --- state machines --------------------------------------------------------------------
    const machines: Record<string, sfn.StateMachine> = {};
    const logGroups: Record<string, logs.LogGroup> = {};
    // The /aws/vendedlogs/ prefix keeps Step Functions from growing the account's CloudWatch
    // Logs resource policy (5,120 characters, shared by every log delivery in the region); the
    // stack id's UUID keeps a retained log group from blocking a redeployment under the same name.
    const stackUuid = Fn.select(2, Fn.split('/', Aws.STACK_ID));
    for (const spec of MACHINES) {
      const definition = JSON.stringify(spec.definition());
      const placeholders = [...new Set([...definition.matchAll(/\$\{(\w+)\}/g)].map((m) => m[1] as string))];
      const invoked: SkyglassFunction[] = [];
      const definitionSubstitutions: Record<string, string> = {};
      for (const placeholder of placeholders) {
        const worker = workers.find((w) => functionArnPlaceholder(w.name) === placeholder);
        if (!worker) throw new Error(`The ${spec.name} definition uses \${${placeholder}}, which names no worker`);
        // Its ARN is in the definition, so it cannot also need the state machine's ARN (a cycle).
        if (worker.access.includes(spec.startedBy)) throw new Error(`Worker ${worker.name} runs inside the ${spec.name}, so it cannot start it`);
        const fn = functions[worker.name] as SkyglassFunction;
        definitionSubstitutions[placeholder] = fn.functionArn;
        invoked.push(fn);
      }

      const logGroup = new logs.LogGroup(this, `${spec.id}Logs`, {
        logGroupName: `/aws/vendedlogs/states/skyglass-${props.stage}-${spec.name}-${stackUuid}`,
        retention: logs.RetentionDays.ONE_MONTH,
        removalPolicy: logRemovalPolicy,
      });
      const machine = new sfn.StateMachine(this, spec.id, {
        stateMachineType: sfn.StateMachineType.STANDARD,
        definitionBody: sfn.DefinitionBody.fromString(definition),
        definitionSubstitutions,
      });
      // Logging and tracing are set on the resource rather than through CDK, whose grants for
      // them (all on "*") would land in the role's DefaultPolicy beside the invoke grants: here
      // they get a policy of their own, the only place IAM5[Resource::*] is acknowledged.
      const cfnMachine = machine.node.defaultChild as sfn.CfnStateMachine;
      cfnMachine.loggingConfiguration = {
        destinations: [{ cloudWatchLogsLogGroup: { logGroupArn: logGroup.logGroupArn } }],
        level: sfn.LogLevel.ALL,
        // Execution data would put image ids and error causes in the logs; the execution
        // history has them for whoever may read it.
        includeExecutionData: false,
      };
      cfnMachine.tracingConfiguration = { enabled: true };
      const unscoped = new iam.Policy(machine.role, 'Unscoped', {
        roles: [machine.role],
        statements: [
          new iam.PolicyStatement({ sid: 'LogDelivery', actions: [...LOG_DELIVERY_ACTIONS], resources: ['*'] }),
          new iam.PolicyStatement({ sid: 'Tracing', actions: [...STATE_MACHINE_TRACING_ACTIONS], resources: ['*'] }),
        ],
      });
      // Step Functions checks at creation that the role can deliver its logs.
      cfnMachine.node.addDependency(unscoped);
      Validations.of(unscoped).acknowledge({
        id: 'AwsSolutions-IAM5[Resource::*]',
        reason:
          'This policy holds only log delivery (logs:CreateLogDelivery and friends) and X-Ray tracing (xray:PutTraceSegments and friends), which support no resource-level permissions; the invoke grants live in the role\'s other policy.',
      });
      // A definition given as a string grants nothing by itself: the role may invoke exactly
      // the functions the definition names (their ARN and qualified ARNs), nothing else.
      for (const fn of invoked) fn.grantInvoke(machine);

      Validations.of(machine.role).acknowledge(
        ...invoked.map((fn) => ({
          id: `AwsSolutions-IAM5[Resource::<${fn.stack.getLogicalId(fn.node.defaultChild as CfnElement)}.Arn>:*]`,
          reason: `lambda:InvokeFunction on ${fn.node.id}'s qualified ARNs (versions and aliases) only; the wildcard covers no other function.`,
        })),
      );
      machines[spec.id] = machine;
      logGroups[spec.id] = logGroup;
    }
    this.verifier = machines.Verifier as sfn.StateMachine;
    this.scrubber = machines.Scrubber as sfn.StateMachine;
    this.logGroups = logGroups;

    // Worker grants last: a worker may start a state machine, which exists only now.
    for (const worker of workers) {
      (functions[worker.name] as SkyglassFunction).grantAccess(worker.access, {
        table: props.table,
        bucket: props.bucket,
        ...(props.otherStores && { otherStores: props.otherStores }),
        eventBus: props.eventBus,
        verifier: this.verifier,
        scrubber: this.scrubber,
        ...(props.dataSettings && { dataSettings: props.dataSettings }),
        ...(props.deleteSettings && { deleteSettings: props.deleteSettings }),
        ...(props.quotas && { quotas: props.quotas }),
      });
    }
  }
}
