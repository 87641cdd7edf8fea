import { imageDataService } from '../../shared/app/data-services.js';
import { imageDataBody } from '../../shared/http/binary-media.js';
import { httpHandler } from '../../shared/http/handler.js';
import { noContent } from '../../shared/http/response.js';

export const handler = httpHandler(async (req) => {
  const body = imageDataBody(req);
  await imageDataService().stageFile(req.caller, req.pathParameters.image_id ?? '', body, req.headers['x-openstack-image-size']);
  return noContent();
});
