import { Duration } from 'aws-cdk-lib';
import * as events from 'aws-cdk-lib/aws-events';
import * as targets from 'aws-cdk-lib/aws-events-targets';
import type * as lambda from 'aws-cdk-lib/aws-lambda';
import type * as sqs from 'aws-cdk-lib/aws-sqs';
import { Construct } from 'constructs';
import { deadLetterQueue } from './dead-letter-queue.js';

/** A job of functions/workers/sweep.ts (its input is `{"jobs": [...]}`). */
export type SweepJob = 'uploads' | 'stuck' | 'audit' | 'redrive';

/** One EventBridge schedule per sweeper job, at the rate its job needs. */
export const SWEEP_SCHEDULES: readonly { id: string; job: SweepJob; every: Duration; summary: string }[] = [
  { id: 'Uploads', job: 'uploads', every: Duration.minutes(15), summary: 'aborts expired upload sessions and queues their images again' },
  { id: 'Stuck', job: 'stuck', every: Duration.minutes(30), summary: 'queues again images whose verification never finished' },
  { id: 'Audit', job: 'audit', every: Duration.days(1), summary: 'deletes orphan objects, reports images whose object is missing, and repairs quota usage counters that drifted' },
  { id: 'Redrive', job: 'redrive', every: Duration.minutes(15), summary: 'restarts lost scrubber and verifier executions (pending_delete images past their scrub time, verifications never started)' },
];

/** EventBridge keeps an event for at most 24 hours. */
const MAX_EVENT_AGE = Duration.hours(24);

export interface SweepSchedulesProps {
  readonly stage: string;
  /** The sweep worker. */
  readonly sweeper: lambda.IFunction;
}

/**
 * The sweepers' schedules: one EventBridge rule per job, invoking the sweep function with the job
 * each names. Every job is idempotent (each decision a conditional write) and its next run
 * redoes whatever a failed run left, so delivery is retried briefly (twice, within one period)
 * and an event that still cannot be delivered lands in a dead-letter queue that an alarm
 * watches. A sweep that fails inside the function is retried once by Lambda and shows in the
 * function's Errors metric (alarmed too).
 */
export class SweepSchedules extends Construct {
  /** The rules, by job. */
  public readonly rules: Readonly<Record<SweepJob, events.Rule>>;
  /** Events EventBridge could not deliver to the sweep function. */
  public readonly deadLetterQueue: sqs.Queue;

  constructor(scope: Construct, id: string, props: SweepSchedulesProps) {
    super(scope, id);

    this.deadLetterQueue = deadLetterQueue(this, 'DeadLetters', "the one of the sweep schedules' EventBridge targets");

    const rules: Partial<Record<SweepJob, events.Rule>> = {};
    for (const schedule of SWEEP_SCHEDULES) {
      rules[schedule.job] = new events.Rule(this, schedule.id, {
        description: `skyglass-${props.stage} sweeper "${schedule.job}": ${schedule.summary}`,
        schedule: events.Schedule.rate(schedule.every),
        targets: [
          new targets.LambdaFunction(props.sweeper, {
            event: events.RuleTargetInput.fromObject({ jobs: [schedule.job] }),
            retryAttempts: 2,
            // An event older than its period is superseded by the next run.
            maxEventAge: schedule.every.toSeconds() > MAX_EVENT_AGE.toSeconds() ? MAX_EVENT_AGE : schedule.every,
            deadLetterQueue: this.deadLetterQueue,
          }),
        ],
      });
    }
    this.rules = rules as Record<SweepJob, events.Rule>;

    // A failed sweep is retried once (the next scheduled run covers the rest), not Lambda's default twice.
    props.sweeper.configureAsyncInvoke({ retryAttempts: 1 });
  }
}
