import { imageShow } from '../../shared/app/read-services.js';
import { httpHandler } from '../../shared/http/handler.js';
import { json } from '../../shared/http/response.js';

export const handler = httpHandler(async (req) => json(200, await imageShow().show(req.caller, req.pathParameters.image_id ?? '')));
