import { metadefContext } from '../../shared/app/metadef-services.js';
import { deleteNamespace } from '../../shared/app/metadefs.js';
import { httpHandler } from '../../shared/http/handler.js';
import { noContent } from '../../shared/http/response.js';

export const handler = httpHandler(async (req) => {
  await deleteNamespace(metadefContext(), req.caller, req.pathParameters.namespace_name ?? '');
  return noContent();
});
