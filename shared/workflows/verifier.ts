/**
 * The verifier state machine (Amazon States Language, JSONPath mode). The CDK stack deploys
 * this definition, substituting the function ARNs; the local runtime runs the very same JSON.
 *
 * Verify reads the image's bytes once and activates or refuses it (idempotent, so retries are
 * safe). Transient Lambda faults are retried with backoff; if verification still fails, GiveUp
 * refuses the image with the error as its reason, so no image stays `saving` for ever.
 */
export const VERIFY_FUNCTION_ARN = '${VerifyImageFunctionArn}';

const LAMBDA_TRANSIENT = [
  'Lambda.ServiceException',
  'Lambda.AWSLambdaException',
  'Lambda.SdkClientException',
  'Lambda.TooManyRequestsException',
  'Lambda.Unknown',
];

export function verifierDefinition() {
  return {
    Comment: "Skyglass verifier: read an image's bytes once, then make it active or refuse it",
    QueryLanguage: 'JSONPath',
    StartAt: 'Verify',
    States: {
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
