import { imageService } from '../../shared/app/services.js';
import { httpHandler } from '../../shared/http/handler.js';
import { bodyText } from '../../shared/http/request.js';
import { json } from '../../shared/http/response.js';

export const handler = httpHandler(async (req) => {
  const image = await imageService().update(req.caller, req.pathParameters.image_id ?? '', req.headers['content-type'], bodyText(req));
  return json(200, image);
});
