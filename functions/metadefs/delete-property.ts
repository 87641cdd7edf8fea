import { metadefCatalogue } from '../../shared/app/metadef-services.js';
import { httpHandler } from '../../shared/http/handler.js';
import { noContent } from '../../shared/http/response.js';

export const handler = httpHandler(async (req) => {
  await metadefCatalogue().deleteProperty(req.caller, req.pathParameters.namespace_name ?? '', req.pathParameters.property_name ?? '');
  return noContent();
});
