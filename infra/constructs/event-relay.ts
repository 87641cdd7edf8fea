import { Duration } from 'aws-cdk-lib';
import type * as dynamodb from 'aws-cdk-lib/aws-dynamodb';
import * as lambda from 'aws-cdk-lib/aws-lambda';
import { SqsDlq } from 'aws-cdk-lib/aws-lambda-event-sources';
import type * as sqs from 'aws-cdk-lib/aws-sqs';
import { Construct } from 'constructs';
import { deadLetterQueue } from './dead-letter-queue.js';

export interface EventRelayProps {
  /** The image table; it must have a stream (ImageTable gives it one). */
  readonly table: dynamodb.ITable;
  /** The publishEvents worker, which `table:stream` already lets read the stream. */
  readonly relay: lambda.IFunction;
}

/**
 * The outbox's delivery: the table's stream invokes the relay with batches of new item images,
 * in order per image. A record the relay cannot publish is retried from that record on
 * (ReportBatchItemFailures, batches halved on error); after a day of failures its position goes
 * to a dead-letter queue, which an alarm watches, and the stream moves on.
 */
export class EventRelay extends Construct {
  public readonly mapping: lambda.EventSourceMapping;
  /** Where the stream records the relay gave up on are described (not the events themselves). */
  public readonly deadLetterQueue: sqs.Queue;

  constructor(scope: Construct, id: string, props: EventRelayProps) {
    super(scope, id);
    if (!props.table.tableStreamArn) throw new Error('EventRelay needs a table with a stream');
    this.deadLetterQueue = deadLetterQueue(this, 'DeadLetters', "the on-failure destination of the event relay's stream mapping");
    // A lower-level mapping than DynamoEventSource, which would grant stream reads itself:
    // the relay's IAM comes from its access kinds (table:stream) alone.
    this.mapping = new lambda.EventSourceMapping(this, 'TableStream', {
      target: props.relay,
      eventSourceArn: props.table.tableStreamArn,
      startingPosition: lambda.StartingPosition.TRIM_HORIZON,
      batchSize: 100,
      maxBatchingWindow: Duration.seconds(0),
      bisectBatchOnError: true,
      reportBatchItemFailures: true,
      retryAttempts: 100,
      maxRecordAge: Duration.days(1),
      onFailure: new SqsDlq(this.deadLetterQueue),
    });
  }
}
