import { imageMembers } from '../../shared/app/member-services.js';
import { httpHandler } from '../../shared/http/handler.js';
import { jsonBody } from '../../shared/http/request.js';
import { json } from '../../shared/http/response.js';

// 200, not 201: Glance answers a new membership with 200 and the member.
export const handler = httpHandler(async (req) => json(200, await imageMembers().create(req.caller, req.pathParameters.image_id ?? '', jsonBody(req))));
