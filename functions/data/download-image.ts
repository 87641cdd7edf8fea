import { imageDataService } from '../../shared/app/data-services.js';
import { httpHandler } from '../../shared/http/handler.js';
import { noContent } from '../../shared/http/response.js';

// Bytes never pass through here: a redirect to a short-lived presigned GET, which clients
// (glanceclient, curl -L, browsers) follow, resending any Range header to the store.
export const handler = httpHandler(async (req) => {
  const answer = await imageDataService().download(req.caller, req.pathParameters.image_id ?? '');
  if (answer.kind === 'no-data') return noContent();
  return { statusCode: 302, headers: { Location: answer.url, 'Cache-Control': 'no-store' }, body: '' };
});
