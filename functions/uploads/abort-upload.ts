import { imageDataService } from '../../shared/app/data-services.js';
import { httpHandler } from '../../shared/http/handler.js';
import { noContent } from '../../shared/http/response.js';

export const handler = httpHandler(async (req) => {
  await imageDataService().abortUpload(req.caller, req.pathParameters.image_id ?? '', req.pathParameters.upload_id ?? '');
  return noContent();
});
