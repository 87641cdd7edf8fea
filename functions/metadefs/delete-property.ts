import { metadefContext } from '../../shared/app/metadef-services.js';
import { deleteProperty } from '../../shared/app/metadefs.js';
import { httpHandler } from '../../shared/http/handler.js';
import { noContent } from '../../shared/http/response.js';

export const handler = httpHandler(async (req) => {
  await deleteProperty(metadefContext(), req.caller, req.pathParameters.namespace_name ?? '', req.pathParameters.property_name ?? '');
  return noContent();
});
