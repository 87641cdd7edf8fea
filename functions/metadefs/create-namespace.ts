import { metadefContext } from '../../shared/app/metadef-services.js';
import { createNamespace } from '../../shared/app/metadefs.js';
import { httpHandler } from '../../shared/http/handler.js';
import { jsonBody } from '../../shared/http/request.js';
import { json } from '../../shared/http/response.js';

export const handler = httpHandler(async (req) => json(201, await createNamespace(metadefContext(), req.caller, jsonBody(req))));
