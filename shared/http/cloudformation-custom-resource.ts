import type { CloudFormationCustomResourceEvent } from 'aws-lambda';

/** What a custom resource's work returns: CloudFormation's `Data` (read with Fn::GetAtt), strings and numbers only. */
export type CustomResourceData = Record<string, string | number>;

/**
 * A Lambda that CloudFormation invokes directly as a custom resource's ServiceToken: `work` runs
 * on Create and Update, nothing on Delete (what it wrote is the product's data, kept with the
 * table), and the outcome is always PUT to the presigned ResponseURL (CloudFormation's
 * custom resource protocol), FAILED with the error's message when `work` throws, so a failed
 * run fails the deployment at once instead of leaving CloudFormation waiting for an hour.
 * The physical id is fixed: an Update replaces nothing.
 */
export function customResourceHandler(physicalResourceId: string, work: () => Promise<CustomResourceData>) {
  return async (event: CloudFormationCustomResourceEvent): Promise<void> => {
    let status: 'SUCCESS' | 'FAILED' = 'SUCCESS';
    let reason = 'ok';
    let data: CustomResourceData = {};
    try {
      if (event.RequestType !== 'Delete') data = await work();
    } catch (error) {
      status = 'FAILED';
      reason = error instanceof Error ? error.message : String(error);
      console.error(JSON.stringify({ level: 'ERROR', message: 'custom resource failed', requestType: event.RequestType, error: reason }));
    }
    const body = JSON.stringify({
      Status: status,
      // CloudFormation shows the reason in the stack's events; its response is at most 4 KB.
      Reason: reason.slice(0, 1000),
      PhysicalResourceId: physicalResourceId,
      StackId: event.StackId,
      RequestId: event.RequestId,
      LogicalResourceId: event.LogicalResourceId,
      Data: data,
    });
    // The URL is presigned for a PUT without a content type.
    const response = await fetch(event.ResponseURL, { method: 'PUT', body, headers: { 'content-type': '' } });
    if (!response.ok) throw new Error(`CloudFormation's ResponseURL answered ${response.status}`);
  };
}
