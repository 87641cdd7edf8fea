import { metadefCatalogue } from '../../shared/app/metadef-services.js';
import { httpHandler } from '../../shared/http/handler.js';
import { json } from '../../shared/http/response.js';

export const handler = httpHandler(async (req) => json(200, await metadefCatalogue().showProperty(req.caller, req.pathParameters.namespace_name ?? '', req.pathParameters.property_name ?? '')));
