import { imageMembers } from '../../shared/app/member-services.js';
import { httpHandler } from '../../shared/http/handler.js';
import { noContent } from '../../shared/http/response.js';

export const handler = httpHandler(async (req) => {
  await imageMembers().remove(req.caller, req.pathParameters.image_id ?? '', req.pathParameters.member_id ?? '');
  return noContent();
});
