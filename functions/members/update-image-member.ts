import { imageMembers } from '../../shared/app/member-services.js';
import { httpHandler } from '../../shared/http/handler.js';
import { jsonBody } from '../../shared/http/request.js';
import { json } from '../../shared/http/response.js';

export const handler = httpHandler(async (req) =>
  json(200, await imageMembers().update(req.caller, req.pathParameters.image_id ?? '', req.pathParameters.member_id ?? '', jsonBody(req))),
);
