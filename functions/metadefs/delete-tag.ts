import { metadefContext } from '../../shared/app/metadef-services.js';
import { deleteTag } from '../../shared/app/metadefs.js';
import { httpHandler } from '../../shared/http/handler.js';
import { noContent } from '../../shared/http/response.js';

export const handler = httpHandler(async (req) => {
  await deleteTag(metadefContext(), req.caller, req.pathParameters.namespace_name ?? '', req.pathParameters.tag_name ?? '');
  return noContent();
});
