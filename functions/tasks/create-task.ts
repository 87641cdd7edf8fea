import { taskServices } from '../../shared/app/read-services.js';
import { httpHandler } from '../../shared/http/handler.js';
import { jsonBody } from '../../shared/http/request.js';
import { json } from '../../shared/http/response.js';

export const handler = httpHandler(async (req) => json(201, await taskServices().create(req.caller, jsonBody(req), req.requestId)));
