import { metadefContext } from '../../shared/app/metadef-services.js';
import { listObjects } from '../../shared/app/metadefs.js';
import { httpHandler } from '../../shared/http/handler.js';
import { json } from '../../shared/http/response.js';

export const handler = httpHandler(async (req) => json(200, await listObjects(metadefContext(), req.caller, req.pathParameters.namespace_name ?? '')));
