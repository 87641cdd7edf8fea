import { metadefContext } from '../../shared/app/metadef-services.js';
import { updateObject } from '../../shared/app/metadefs.js';
import { httpHandler } from '../../shared/http/handler.js';
import { jsonBody } from '../../shared/http/request.js';
import { json } from '../../shared/http/response.js';

export const handler = httpHandler(async (req) => json(200, await updateObject(metadefContext(), req.caller, req.pathParameters.namespace_name ?? '', req.pathParameters.object_name ?? '', jsonBody(req))));
