import { metadefContext } from '../../shared/app/metadef-services.js';
import { listNamespaces } from '../../shared/app/metadefs.js';
import { httpHandler } from '../../shared/http/handler.js';
import { json } from '../../shared/http/response.js';

export const handler = httpHandler(async (req) => json(200, await listNamespaces(metadefContext(), req.caller, Object.fromEntries(Object.entries(req.query).map(([k, v]) => [k, v[0]])))));
