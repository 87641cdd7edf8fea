import { imageRemoval } from '../../shared/app/services.js';
import { httpHandler } from '../../shared/http/handler.js';
import { noContent } from '../../shared/http/response.js';

export const handler = httpHandler(async (req) => {
  await imageRemoval().restore(req.caller, req.pathParameters.image_id ?? '');
  return noContent();
});
