import { metadefContext } from '../../shared/app/metadef-services.js';
import { updateTag } from '../../shared/app/metadefs.js';
import { httpHandler } from '../../shared/http/handler.js';
import { jsonBody } from '../../shared/http/request.js';
import { json } from '../../shared/http/response.js';

export const handler = httpHandler(async (req) => json(200, await updateTag(metadefContext(), req.caller, req.pathParameters.namespace_name ?? '', req.pathParameters.tag_name ?? '', jsonBody(req))));
