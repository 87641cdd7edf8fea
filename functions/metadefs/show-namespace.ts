import { metadefCatalogue } from '../../shared/app/metadef-services.js';
import { httpHandler } from '../../shared/http/handler.js';
import { json } from '../../shared/http/response.js';

export const handler = httpHandler(async (req) => json(200, await metadefCatalogue().showNamespace(req.caller, req.pathParameters.namespace_name ?? '')));
