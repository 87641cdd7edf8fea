import { taskServices } from '../../shared/app/read-services.js';
import { httpHandler } from '../../shared/http/handler.js';
import { json } from '../../shared/http/response.js';

export const handler = httpHandler(async (req) => json(200, await taskServices().list(req.caller, req.query, req.rawQuery)));
