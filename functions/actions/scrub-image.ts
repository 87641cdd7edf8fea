import { imageRemoval } from '../../shared/app/services.js';
import { httpHandler } from '../../shared/http/handler.js';

export const handler = httpHandler(async (req) => {
  await imageRemoval().scrubNow(req.caller, req.pathParameters.image_id ?? '');
  return { statusCode: 202, headers: {}, body: '' };
});
