import { taskServices } from '../../shared/app/read-services.js';
import { httpHandler } from '../../shared/http/handler.js';
import { json } from '../../shared/http/response.js';

export const handler = httpHandler(async (req) => json(200, await taskServices().show(req.caller, req.pathParameters.task_id ?? '')));
