/**
 * The verifier state machine (Amazon States Language, JSONPath mode). The CDK stack deploys
 * this definition, substituting the function ARNs; the local runtime runs the very same JSON.
 *
 * Verify reads the image's bytes once and activates or refuses it (idempotent, so retries are
 * safe). Transient Lambda faults are retried with backoff; if verification still fails, GiveUp
 * refuses the image with the error as its reason, so no image stays `saving` for ever.
 *
 * A web-download import's input carries its `uri`: Fetch streams it into `key` first and
 * Verify runs only if it was fetched (a failed fetch has queued the image again itself); if
 * the fetcher keeps failing, FetchGiveUp fails the import with the error.
 *
 * A copy-image import's input carries `copy` (its task id): Copy copies the active image's bytes
 * to the stores the import names, server-side, recording each store as it ends; no
 * verification follows (the bytes were verified when the image went active). If the copy step
 * keeps failing, CopyGiveUp records every store still pending as failed, ending the import.
 */
export const VERIFY_FUNCTION_ARN = '${VerifyImageFunctionArn}';
/** The web-download fetcher (functions/workers/fetch-image.ts), run first when the input has a `uri`. */
export const FETCH_FUNCTION_ARN = '${FetchImageFunctionArn}';

const LAMBDA_TRANSIENT = [
  'Lambda.ServiceException',
  'Lambda.AWSLambdaException',
  'Lambda.SdkClientException',
  'Lambda.TooManyRequestsException',
  'Lambda.Unknown',
];

export function verifierDefinition() {
  return {
    Comment: "Skyglass verifier: fetch a web-download's URI if given, read the image's bytes once, then make it active or refuse it",
    QueryLanguage: 'JSONPath',
    StartAt: 'Source',
    States: {
      Source: {
        Type: 'Choice',
        Choices: [
          { Variable: '$.copy', IsPresent: true, Next: 'Copy' },
          { Variable: '$.uri', IsPresent: true, Next: 'Fetch' },
        ],
        Default: 'Verify',
      },
      Copy: {
        Type: 'Task',
        Resource: 'arn:aws:states:::lambda:invoke',
        Parameters: { FunctionName: VERIFY_FUNCTION_ARN, 'Payload.$': '$' },
        ResultSelector: { 'outcome.$': '$.Payload' },
        ResultPath: '$.copied',
        Retry: [
          { ErrorEquals: LAMBDA_TRANSIENT, IntervalSeconds: 2, MaxAttempts: 6, BackoffRate: 2, JitterStrategy: 'FULL' },
          { ErrorEquals: ['States.ALL'], IntervalSeconds: 5, MaxAttempts: 3, BackoffRate: 2 },
        ],
        Catch: [{ ErrorEquals: ['States.ALL'], ResultPath: '$.error', Next: 'CopyGiveUp' }],
        End: true,
      },
      CopyGiveUp: {
        Type: 'Task',
        Resource: 'arn:aws:states:::lambda:invoke',
        Parameters: {
          FunctionName: VERIFY_FUNCTION_ARN,
          Payload: { 'image_id.$': '$.image_id', 'key.$': '$.key', 'copy.$': '$.copy', give_up: true, 'error.$': '$.error.Error', 'cause.$': '$.error.Cause' },
        },
        ResultSelector: { 'outcome.$': '$.Payload' },
        ResultPath: '$.copied',
        Retry: [{ ErrorEquals: ['States.ALL'], IntervalSeconds: 5, MaxAttempts: 5, BackoffRate: 2 }],
        End: true,
      },
      Fetch: {
        Type: 'Task',
        Resource: 'arn:aws:states:::lambda:invoke',
        Parameters: { FunctionName: FETCH_FUNCTION_ARN, 'Payload.$': '$' },
        ResultSelector: { 'outcome.$': '$.Payload' },
        ResultPath: '$.fetch',
        Retry: [
          { ErrorEquals: LAMBDA_TRANSIENT, IntervalSeconds: 2, MaxAttempts: 6, BackoffRate: 2, JitterStrategy: 'FULL' },
          { ErrorEquals: ['States.ALL'], IntervalSeconds: 5, MaxAttempts: 2, BackoffRate: 2 },
        ],
        Catch: [{ ErrorEquals: ['States.ALL'], ResultPath: '$.error', Next: 'FetchGiveUp' }],
        Next: 'Fetched',
      },
      Fetched: {
        Type: 'Choice',
        Choices: [{ Variable: '$.fetch.outcome.result', StringEquals: 'fetched', Next: 'Verify' }],
        Default: 'NotFetched',
      },
      NotFetched: { Type: 'Succeed' },
      FetchGiveUp: {
        Type: 'Task',
        Resource: 'arn:aws:states:::lambda:invoke',
        Parameters: {
          FunctionName: FETCH_FUNCTION_ARN,
          Payload: { 'image_id.$': '$.image_id', 'key.$': '$.key', 'uri.$': '$.uri', give_up: true, 'error.$': '$.error.Error', 'cause.$': '$.error.Cause' },
        },
        ResultSelector: { 'outcome.$': '$.Payload' },
        ResultPath: '$.fetch',
        Retry: [{ ErrorEquals: ['States.ALL'], IntervalSeconds: 5, MaxAttempts: 5, BackoffRate: 2 }],
        End: true,
      },
      Verify: {
        Type: 'Task',
        Resource: 'arn:aws:states:::lambda:invoke',
        Parameters: { FunctionName: VERIFY_FUNCTION_ARN, 'Payload.$': '$' },
        ResultSelector: { 'outcome.$': '$.Payload' },
        ResultPath: '$.verification',
        Retry: [
          { ErrorEquals: LAMBDA_TRANSIENT, IntervalSeconds: 2, MaxAttempts: 6, BackoffRate: 2, JitterStrategy: 'FULL' },
          { ErrorEquals: ['States.ALL'], IntervalSeconds: 5, MaxAttempts: 3, BackoffRate: 2 },
        ],
        Catch: [{ ErrorEquals: ['States.ALL'], ResultPath: '$.error', Next: 'GiveUp' }],
        End: true,
      },
      GiveUp: {
        Type: 'Task',
        Resource: 'arn:aws:states:::lambda:invoke',
        Parameters: {
          FunctionName: VERIFY_FUNCTION_ARN,
          Payload: { 'image_id.$': '$.image_id', 'key.$': '$.key', give_up: true, 'error.$': '$.error.Error', 'cause.$': '$.error.Cause' },
        },
        ResultSelector: { 'outcome.$': '$.Payload' },
        ResultPath: '$.verification',
        Retry: [{ ErrorEquals: ['States.ALL'], IntervalSeconds: 5, MaxAttempts: 5, BackoffRate: 2 }],
        End: true,
      },
    },
  };
}
