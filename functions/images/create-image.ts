import { imageService } from '../../shared/app/services.js';
import { httpHandler } from '../../shared/http/handler.js';
import { jsonBody } from '../../shared/http/request.js';
import { json } from '../../shared/http/response.js';
import { IMPORT_METHODS } from '../../shared/domain/import-methods.js';
import { storeCatalog } from '../../shared/app/config.js';

export const handler = httpHandler(async (req) => {
  const image = await imageService().create(req.caller, jsonBody(req));
  const stores = storeCatalog();
  return json(201, image, {
    Location: `${req.baseUrl}/v2/images/${image.id}`,
    'OpenStack-image-import-methods': IMPORT_METHODS.join(','),
    // Multi-store Glance names its stores here too (glance/api/v2/images.py create).
    ...(stores.multiStore && { 'OpenStack-image-store-ids': stores.ids.join(',') }),
  });
});
