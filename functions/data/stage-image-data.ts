import { imageDataService } from '../../shared/app/data-services.js';
import { httpHandler } from '../../shared/http/handler.js';
import { noContent } from '../../shared/http/response.js';

export const handler = httpHandler(async (req) => {
  const body = req.body ?? Buffer.alloc(0);
  await imageDataService().stageFile(req.caller, req.pathParameters.image_id ?? '', body, req.headers['x-openstack-image-size']);
  return noContent();
});
