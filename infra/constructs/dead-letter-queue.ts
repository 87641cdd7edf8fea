import { Duration, Validations } from 'aws-cdk-lib';
import * as sqs from 'aws-cdk-lib/aws-sqs';
import type { Construct } from 'constructs';

/**
 * A dead-letter queue as every Skyglass one is: SQS-managed encryption, TLS only, kept 14 days.
 * `of` says whose dead letters they are: cdk-nag's SQS3 (a queue without a dead-letter queue of
 * its own) does not recognize dead-letter queues that are not named in a redrive policy.
 */
export function deadLetterQueue(scope: Construct, id: string, of: string): sqs.Queue {
  const queue = new sqs.Queue(scope, id, {
    encryption: sqs.QueueEncryption.SQS_MANAGED,
    enforceSSL: true,
    retentionPeriod: Duration.days(14),
  });
  Validations.of(queue).acknowledge({
    id: 'AwsSolutions-SQS3',
    reason: `This queue is itself a dead-letter queue: ${of}, which cdk-nag does not recognize (it looks only at queue redrive policies and function DeadLetterConfig).`,
  });
  return queue;
}
