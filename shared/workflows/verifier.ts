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
 * the fetcher keeps failing, FetchGiveUp fails the import with the error. A fetch longer than
 * one run (a ranged source) answers `continue` and Fetched sends it back to Fetch: each loop is
 * about seven history events, and the fetcher ends an import after MAX_FETCH_RUNS (3,000) runs,
 * within Step Functions' 25,000 events (a 1 TiB image at 10 MiB/s takes 125 runs of 840 s; the
 * default 24 h limit allows 103 runs, so it fails on time first).
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

/** Where the input leads: a copy-image's `copy`, a web-download's `uri`, else the bytes already in place. */
const SOURCE_CHOICE = {
  Type: 'Choice',
  Choices: [
    { Variable: '$.copy', IsPresent: true, Next: 'Copy' },
    { Variable: '$.uri', IsPresent: true, Next: 'Fetch' },
  ],
  Default: 'Verify',
};

/**
 * A step that invokes `functionArn` with the state as its payload, its answer at `resultPath`:
 * transient Lambda faults retried with backoff, anything else `otherAttempts` times, then
 * `giveUp` with the error at `$.error`.
 */
function invokeStep(functionArn: string, resultPath: string, otherAttempts: number, giveUp: string, then: { Next: string } | { End: true }) {
  return {
    Type: 'Task',
    Resource: 'arn:aws:states:::lambda:invoke',
    Parameters: { FunctionName: functionArn, 'Payload.$': '$' },
    ResultSelector: { 'outcome.$': '$.Payload' },
    ResultPath: resultPath,
    Retry: [
      { ErrorEquals: LAMBDA_TRANSIENT, IntervalSeconds: 2, MaxAttempts: 6, BackoffRate: 2, JitterStrategy: 'FULL' },
      { ErrorEquals: ['States.ALL'], IntervalSeconds: 5, MaxAttempts: otherAttempts, BackoffRate: 2 },
    ],
    Catch: [{ ErrorEquals: ['States.ALL'], ResultPath: '$.error', Next: giveUp }],
    ...then,
  };
}

/**
 * The give-up step after `invokeStep` failed: the same function called with `give_up` and the
 * error, plus the input fields it needs (`extra`: the uri or the copy), retried harder since
 * it is what leaves no import running for ever.
 */
function giveUpStep(functionArn: string, resultPath: string, extra: Record<string, string> = {}) {
  return {
    Type: 'Task',
    Resource: 'arn:aws:states:::lambda:invoke',
    Parameters: {
      FunctionName: functionArn,
      Payload: { 'image_id.$': '$.image_id', 'key.$': '$.key', ...extra, give_up: true, 'error.$': '$.error.Error', 'cause.$': '$.error.Cause' },
    },
    ResultSelector: { 'outcome.$': '$.Payload' },
    ResultPath: resultPath,
    Retry: [{ ErrorEquals: ['States.ALL'], IntervalSeconds: 5, MaxAttempts: 5, BackoffRate: 2 }],
    End: true,
  };
}

export function verifierDefinition() {
  return {
    Comment: "Skyglass verifier: fetch a web-download's URI if given, read the image's bytes once, then make it active or refuse it",
    QueryLanguage: 'JSONPath',
    StartAt: 'Source',
    States: {
      Source: SOURCE_CHOICE,
      Copy: invokeStep(VERIFY_FUNCTION_ARN, '$.copied', 3, 'CopyGiveUp', { End: true }),
      CopyGiveUp: giveUpStep(VERIFY_FUNCTION_ARN, '$.copied', { 'copy.$': '$.copy' }),
      Fetch: invokeStep(FETCH_FUNCTION_ARN, '$.fetch', 2, 'FetchGiveUp', { Next: 'Fetched' }),
      Fetched: {
        Type: 'Choice',
        Choices: [
          { Variable: '$.fetch.outcome.result', StringEquals: 'fetched', Next: 'Verify' },
          // A ranged source's run spent its budget with parts left: the next run resumes it.
          { Variable: '$.fetch.outcome.result', StringEquals: 'continue', Next: 'Fetch' },
        ],
        Default: 'NotFetched',
      },
      NotFetched: { Type: 'Succeed' },
      FetchGiveUp: giveUpStep(FETCH_FUNCTION_ARN, '$.fetch', { 'uri.$': '$.uri' }),
      Verify: invokeStep(VERIFY_FUNCTION_ARN, '$.verification', 3, 'GiveUp', { End: true }),
      GiveUp: giveUpStep(VERIFY_FUNCTION_ARN, '$.verification'),
    },
  };
}
