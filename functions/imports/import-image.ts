import { imageImports } from '../../shared/app/data-services.js';
import { httpHandler } from '../../shared/http/handler.js';
import { jsonBody } from '../../shared/http/request.js';

export const handler = httpHandler(async (req) => {
  await imageImports().importImage(req.caller, req.pathParameters.image_id ?? '', jsonBody(req), req.headers['x-image-meta-store'], req.requestId);
  return { statusCode: 202, headers: {}, body: '' };
});
