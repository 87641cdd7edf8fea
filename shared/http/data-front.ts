import type { APIGatewayProxyEvent, APIGatewayProxyResult, Context } from 'aws-lambda';
import { streamedDataService } from '../app/data-services.js';
import { checkImageDataType } from './binary-media.js';
import { httpHandler } from './handler.js';
import { noContent } from './response.js';

/** The routes whose bodies the data front streams instead of buffering (shared/routes.ts operation ids). */
export const STREAMED_OPERATIONS = new Set(['uploadImageFile', 'stageImageData']);

/**
 * One streamed PUT /file or PUT /stage: the same request parsing, caller and Glance errors as
 * the Lambda handlers (the event carries the authorizer's context and no body), with the body
 * read from `chunks` as it arrives.
 */
export function streamedDataRequest(operationId: string, event: APIGatewayProxyEvent, chunks: AsyncIterable<Uint8Array>, context: Context): Promise<APIGatewayProxyResult> {
  const handler = httpHandler(async (req) => {
    checkImageDataType(req.headers);
    const body = { chunks, declaredSize: req.headers['x-openstack-image-size'], store: req.headers['x-image-meta-store'] };
    const id = req.pathParameters.image_id ?? '';
    if (operationId === 'stageImageData') await streamedDataService().stageFile(req.caller, id, body);
    else await streamedDataService().putFile(req.caller, id, body);
    return noContent();
  });
  // A Lambda's deadline does not apply: the front takes as long as the body does (middy
  // otherwise answers 500 when getRemainingTimeInMillis runs out, the upload still going).
  return handler(event, { ...context, getRemainingTimeInMillis: () => NO_DEADLINE_MS });
}

/** The longest timer Node keeps (about 24.8 days): in effect, no deadline. */
const NO_DEADLINE_MS = 2 ** 31 - 1;
