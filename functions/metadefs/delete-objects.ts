import { metadefContext } from '../../shared/app/metadef-services.js';
import { deleteObjects } from '../../shared/app/metadefs.js';
import { httpHandler } from '../../shared/http/handler.js';
import { noContent } from '../../shared/http/response.js';

export const handler = httpHandler(async (req) => {
  await deleteObjects(metadefContext(), req.caller, req.pathParameters.namespace_name ?? '');
  return noContent();
});
