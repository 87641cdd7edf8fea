import { imageDataService, imageVerifier } from '../../shared/app/data-services.js';
import { imageDataBody } from '../../shared/http/binary-media.js';
import { httpHandler } from '../../shared/http/handler.js';
import { noContent } from '../../shared/http/response.js';

export const handler = httpHandler(async (req) => {
  const body = imageDataBody(req);
  // X-Image-Meta-Store: Glance's choice of store for the data (absent: the default store).
  await imageDataService().putFile(imageVerifier(), req.caller, req.pathParameters.image_id ?? '', body, req.headers['x-openstack-image-size'], req.headers['x-image-meta-store']);
  return noContent();
});
