import { imageDataService } from '../../shared/app/data-services.js';
import { httpHandler } from '../../shared/http/handler.js';
import { jsonBody } from '../../shared/http/request.js';
import { json } from '../../shared/http/response.js';

export const handler = httpHandler(async (req) =>
  json(201, await imageDataService().createUpload(req.caller, req.pathParameters.image_id ?? '', jsonBody(req), req.headers['x-image-meta-store'])),
);
