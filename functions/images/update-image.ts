import { imageService } from '../../shared/app/services.js';
import { httpHandler } from '../../shared/http/handler.js';
import { json } from '../../shared/http/response.js';

export const handler = httpHandler(async (req) => {
  const image = await imageService().update(req.caller, req.pathParameters.image_id ?? '', req.headers['content-type'], req.body);
  return json(200, image);
});
