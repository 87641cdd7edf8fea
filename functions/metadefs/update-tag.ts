import { metadefCatalogue } from '../../shared/app/metadef-services.js';
import { httpHandler } from '../../shared/http/handler.js';
import { jsonBody } from '../../shared/http/request.js';
import { json } from '../../shared/http/response.js';

export const handler = httpHandler(async (req) => json(200, await metadefCatalogue().updateTag(req.caller, req.pathParameters.namespace_name ?? '', req.pathParameters.tag_name ?? '', jsonBody(req))));
