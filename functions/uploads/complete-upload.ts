import { imageDataService } from '../../shared/app/data-services.js';
import { httpHandler } from '../../shared/http/handler.js';
import { jsonBody } from '../../shared/http/request.js';
import { noContent } from '../../shared/http/response.js';

export const handler = httpHandler(async (req) => {
  // The body is optional: without a part list the server completes with the parts the store holds.
  const body = req.body && req.body.length > 0 ? jsonBody(req) : undefined;
  await imageDataService().completeUpload(req.caller, req.pathParameters.image_id ?? '', req.pathParameters.upload_id ?? '', body);
  return { ...noContent(), statusCode: 202 };
});
