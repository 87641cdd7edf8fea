import { taskCreation } from '../../shared/app/task-creation-services.js';
import { httpHandler } from '../../shared/http/handler.js';
import { jsonBody } from '../../shared/http/request.js';
import { json } from '../../shared/http/response.js';

export const handler = httpHandler(async (req) => json(201, await taskCreation().create(req.caller, jsonBody(req), req.requestId)));
