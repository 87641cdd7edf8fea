import { metadefContext } from '../../shared/app/metadef-services.js';
import { createTag } from '../../shared/app/metadefs.js';
import { httpHandler } from '../../shared/http/handler.js';
import { json } from '../../shared/http/response.js';

export const handler = httpHandler(async (req) => json(201, await createTag(metadefContext(), req.caller, req.pathParameters.namespace_name ?? '', req.pathParameters.tag_name ?? '')));
