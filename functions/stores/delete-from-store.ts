import { storeCopies } from '../../shared/app/data-services.js';
import { httpHandler } from '../../shared/http/handler.js';
import { noContent } from '../../shared/http/response.js';

export const handler = httpHandler(async (req) => {
  await storeCopies().deleteFromStore(req.caller, req.pathParameters.store_id ?? '', req.pathParameters.image_id ?? '');
  return noContent();
});
