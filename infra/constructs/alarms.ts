import { Duration, RemovalPolicy, Stack } from 'aws-cdk-lib';
import * as cloudwatch from 'aws-cdk-lib/aws-cloudwatch';
import * as actions from 'aws-cdk-lib/aws-cloudwatch-actions';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as kms from 'aws-cdk-lib/aws-kms';
import type * as lambda from 'aws-cdk-lib/aws-lambda';
import * as sns from 'aws-cdk-lib/aws-sns';
import * as subscriptions from 'aws-cdk-lib/aws-sns-subscriptions';
import type * as sqs from 'aws-cdk-lib/aws-sqs';
import type * as sfn from 'aws-cdk-lib/aws-stepfunctions';
import { Construct } from 'constructs';
import { SKYGLASS_METRICS } from '../../shared/app/metrics.js';

/** Every alarm looks at 5-minute sums and fires on the first occurrence. */
const PERIOD = Duration.minutes(5);
/** How failures and errors are counted: their sum over one alarm period. */
const FAILURES = { statistic: cloudwatch.Stats.SUM, period: PERIOD } as const;

export interface SkyglassAlarmsProps {
  readonly stage: string;
  readonly verifier: sfn.IStateMachine;
  readonly scrubber: sfn.IStateMachine;
  /** The sweep worker. */
  readonly sweeper: lambda.IFunction;
  /** Where EventBridge puts sweep schedule events it could not deliver. */
  readonly sweepDeadLetters: sqs.IQueue;
  /** The outbox relay (publishEvents worker). */
  readonly relay: lambda.IFunction;
  /** Where the relay's stream mapping describes records it gave up on. */
  readonly relayDeadLetters: sqs.IQueue;
  /**
   * Create an SNS topic that every alarm notifies.
   * @default true
   */
  readonly topic?: boolean;
  /** Subscribe this address to the topic. */
  readonly email?: string;
  /**
   * Production retains the topic's key when the stack is deleted.
   * @default false
   */
  readonly production?: boolean;
}

/**
 * The alarms an operator needs: a workflow execution failed (verifier, scrubber), the scrubber
 * could not delete an image's data, the sweeper found images whose object is gone, a sweep
 * failed or could not be started. Each fires on one occurrence in 5 minutes and treats missing
 * data as fine (the metrics exist only when something happens or a sweep runs).
 *
 * The optional topic is encrypted with its own customer managed key: CloudWatch can publish to
 * an encrypted topic only if the key policy lets it, which the AWS managed aws/sns key does not.
 */
export class SkyglassAlarms extends Construct {
  /** By name: VerifierFailed, ScrubberFailed, ScrubFailures, MissingObjects, SweepErrors, SweepUndelivered, RelayErrors, EventsUndelivered. */
  public readonly alarms: Readonly<Record<string, cloudwatch.Alarm>>;
  /** Notified by every alarm (absent with `topic: false`). */
  public readonly topic?: sns.Topic;

  constructor(scope: Construct, id: string, props: SkyglassAlarmsProps) {
    super(scope, id);
    if (props.email !== undefined && props.topic === false) throw new Error('An alarm email needs the alarm topic');

    // The functions' embedded metrics (shared/app/metrics.ts), for this stage only.
    const emf = (metricName: string) =>
      new cloudwatch.Metric({
        namespace: SKYGLASS_METRICS.namespace,
        metricName,
        dimensionsMap: { [SKYGLASS_METRICS.dimension]: props.stage },
        ...FAILURES,
      });
    const specs: Record<string, { metric: cloudwatch.IMetric; description: string }> = {
      VerifierFailed: {
        metric: props.verifier.metricFailed(FAILURES),
        description: 'A verifier execution failed: an uploaded image may be left saving or importing until the stuck sweeper queues it again.',
      },
      ScrubberFailed: {
        metric: props.scrubber.metricFailed(FAILURES),
        description: "A scrubber execution failed: a deleted image's data may still be stored, and the image stays pending_delete.",
      },
      ScrubFailures: {
        metric: emf(SKYGLASS_METRICS.scrubFailures),
        description: "The scrubber could not delete an image's data (see the scrubImage worker's log for the image and cause).",
      },
      MissingObjects: {
        metric: emf(SKYGLASS_METRICS.missingObjects),
        description: "The sweeper's audit found active or deactivated images whose object is missing (see the sweep worker's log).",
      },
      UsageDrift: {
        metric: emf(SKYGLASS_METRICS.usageDrift),
        description: "The daily audit found projects whose quota usage counters disagreed with their images, and repaired them (see the sweep worker's log): a write path that misses the counters.",
      },
      SweepErrors: {
        metric: props.sweeper.metricErrors(FAILURES),
        description: 'A sweep failed (see the sweep worker\'s log); the next scheduled run retries its work.',
      },
      RelayErrors: {
        metric: props.relay.metricErrors(FAILURES),
        description: "The event relay failed on a batch of the table's stream (see the publishEvents worker's log); the stream retries it, so image events (or members' lists of the images shared with them) are late.",
      },
      EventsUndelivered: {
        metric: props.relayDeadLetters.metricApproximateNumberOfMessagesVisible({ statistic: cloudwatch.Stats.MAXIMUM, period: PERIOD }),
        description: "The event relay gave up on stream records after a day of failures: their image events were never published. The dead-letter queue says which shard and sequence numbers.",
      },
      SweepUndelivered: {
        metric: props.sweepDeadLetters.metricApproximateNumberOfMessagesVisible({ statistic: cloudwatch.Stats.MAXIMUM, period: PERIOD }),
        description: 'EventBridge could not start a scheduled sweep; the undelivered events are in the sweep dead-letter queue.',
      },
    };

    const alarms: Record<string, cloudwatch.Alarm> = {};
    for (const [name, { metric, description }] of Object.entries(specs)) {
      alarms[name] = new cloudwatch.Alarm(this, name, {
        alarmName: `skyglass-${props.stage}-${name}`,
        alarmDescription: `Skyglass (${props.stage}): ${description}`,
        metric,
        threshold: 1,
        comparisonOperator: cloudwatch.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
        evaluationPeriods: 1,
        treatMissingData: cloudwatch.TreatMissingData.NOT_BREACHING,
      });
    }
    this.alarms = alarms;

    if (props.topic ?? true) {
      const key = new kms.Key(this, 'TopicKey', {
        description: `Skyglass (${props.stage}) alarm topic encryption`,
        enableKeyRotation: true,
        removalPolicy: props.production ? RemovalPolicy.RETAIN : RemovalPolicy.DESTROY,
        pendingWindow: Duration.days(7),
      });
      const cloudWatch = new iam.ServicePrincipal('cloudwatch.amazonaws.com');
      // Publishing to an encrypted topic needs a data key; only CloudWatch gets one.
      key.grant(cloudWatch, 'kms:Decrypt', 'kms:GenerateDataKey*');
      const topic = new sns.Topic(this, 'Topic', {
        displayName: `Skyglass ${props.stage} alarms`,
        masterKey: key,
        enforceSSL: true,
      });
      // The topic's policy replaces SNS's default one: let this account's alarms publish.
      const { account, region, partition } = Stack.of(this);
      topic.addToResourcePolicy(
        new iam.PolicyStatement({
          sid: 'CloudWatchAlarmsPublish',
          principals: [cloudWatch],
          actions: ['sns:Publish'],
          resources: [topic.topicArn],
          conditions: {
            StringEquals: { 'aws:SourceAccount': account },
            ArnLike: { 'aws:SourceArn': `arn:${partition}:cloudwatch:${region}:${account}:alarm:skyglass-${props.stage}-*` },
          },
        }),
      );
      if (props.email !== undefined) topic.addSubscription(new subscriptions.EmailSubscription(props.email));
      for (const alarm of Object.values(alarms)) alarm.addAlarmAction(new actions.SnsAction(topic));
      this.topic = topic;
    }
  }
}
