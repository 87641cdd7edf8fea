import { metadefCatalogue } from '../../shared/app/metadef-services.js';
import { httpHandler } from '../../shared/http/handler.js';
import { noContent } from '../../shared/http/response.js';

export const handler = httpHandler(async (req) => {
  await metadefCatalogue().deleteTags(req.caller, req.pathParameters.namespace_name ?? '');
  return noContent();
});
