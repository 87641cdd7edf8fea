import { imageService } from '../../shared/app/services.js';
import { httpHandler } from '../../shared/http/handler.js';
import { noContent } from '../../shared/http/response.js';

export const handler = httpHandler(async (req) => {
  await imageService().addTag(req.caller, req.pathParameters.image_id ?? '', req.pathParameters.tag_value ?? '');
  return noContent();
});
