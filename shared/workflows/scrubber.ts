/**
 * The scrubber state machine (Amazon States Language, JSONPath mode): Glance's delayed delete.
 * Deployed by the stack with the function ARN substituted; run as is by the local runtime.
 *
 * Wait out the restore window → claim the image, one conditional write on the version that
 * was deleted, which a restore can no longer undo (a restore that came first makes the claim
 * fail: then end) → delete its bytes and abort any open upload (retried with backoff) →
 * pending_delete → deleted, and emit image.delete. Every task is idempotent, so a retry or a
 * second run after a crash between any two steps ends the same (a claimed image is joined).
 * If the bytes cannot be deleted, RecordFailure logs an alarm and the execution fails, leaving
 * the image pending_delete and claimed, for the sweeper to re-drive: no state ever claims the
 * bytes are gone while they exist.
 */
export const SCRUB_FUNCTION_ARN = '${ScrubImageFunctionArn}';

const task = (action: string, extra: Record<string, string> = {}) => ({
  Type: 'Task',
  Resource: 'arn:aws:states:::lambda:invoke',
  Parameters: {
    FunctionName: SCRUB_FUNCTION_ARN,
    Payload: { action, 'image_id.$': '$.image_id', 'version.$': '$.version', ...extra },
  },
  ResultSelector: { 'result.$': '$.Payload' },
});

const RETRY = [
  {
    ErrorEquals: ['Lambda.ServiceException', 'Lambda.AWSLambdaException', 'Lambda.SdkClientException', 'Lambda.TooManyRequestsException'],
    IntervalSeconds: 2,
    MaxAttempts: 6,
    BackoffRate: 2,
    JitterStrategy: 'FULL',
  },
  { ErrorEquals: ['States.ALL'], IntervalSeconds: 2, MaxAttempts: 5, BackoffRate: 2, JitterStrategy: 'FULL' },
];

export function scrubberDefinition() {
  return {
    Comment: "Skyglass scrubber: Glance's delayed delete (pending_delete -> bytes gone -> deleted)",
    QueryLanguage: 'JSONPath',
    StartAt: 'WaitForRestoreWindow',
    States: {
      WaitForRestoreWindow: { Type: 'Wait', SecondsPath: '$.delay_seconds', Next: 'Claim' },
      Claim: { ...task('claim'), ResultPath: '$.claim', Retry: RETRY, Next: 'Claimed' },
      Claimed: {
        Type: 'Choice',
        Choices: [{ Variable: '$.claim.result.claimed', BooleanEquals: true, Next: 'DeleteData' }],
        Default: 'NothingToScrub',
      },
      NothingToScrub: { Type: 'Succeed' },
      DeleteData: {
        ...task('delete-data'),
        ResultPath: '$.deleted',
        Retry: RETRY,
        Catch: [{ ErrorEquals: ['States.ALL'], ResultPath: '$.error', Next: 'RecordFailure' }],
        Next: 'MarkDeleted',
      },
      MarkDeleted: {
        ...task('mark-deleted'),
        ResultPath: '$.marked',
        Retry: RETRY,
        Catch: [{ ErrorEquals: ['States.ALL'], ResultPath: '$.error', Next: 'RecordFailure' }],
        End: true,
      },
      RecordFailure: {
        ...task('record-failure', { 'error.$': '$.error.Error', 'cause.$': '$.error.Cause' }),
        ResultPath: '$.recorded',
        Retry: RETRY,
        Next: 'ScrubFailed',
      },
      ScrubFailed: { Type: 'Fail', Error: 'ScrubFailed', Cause: 'The image data could not be deleted; the image stays pending_delete.' },
    },
  };
}
