import { imageDataService } from '../../shared/app/data-services.js';
import { httpHandler } from '../../shared/http/handler.js';
import { json } from '../../shared/http/response.js';

export const handler = httpHandler(async (req) =>
  json(200, await imageDataService().getUpload(req.caller, req.pathParameters.image_id ?? '', req.pathParameters.upload_id ?? '')),
);
