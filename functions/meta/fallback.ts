import { GlanceError } from '../../shared/domain/errors.js';
import { preflightResponse } from '../../shared/http/cors.js';
import { versionDocument } from '../../shared/domain/versions.js';
import { httpHandler } from '../../shared/http/handler.js';
import { json } from '../../shared/http/response.js';
import { matchPath } from '../../shared/routes.js';

/**
 * What no route answers, as Glance does: a known path with another method → 405 with
 * `Allow`; an unknown path under /v2 → 404; any other unversioned path → 300 versions. And the
 * browser console's CORS preflights (OPTIONS reaches this function through the ANY method on
 * every resource, so they cost the stack no method of their own).
 */
export const handler = httpHandler(async (req) => {
  const allowed = [...new Set(matchPath(req.path).map((m) => m.route.method))].sort();
  const preflight = preflightResponse(req.method, req.headers, allowed);
  if (preflight) return preflight;
  if (allowed.length > 0) {
    throw new GlanceError(405, `The method ${req.method} is not allowed for this resource.`, { Allow: allowed.join(', ') });
  }
  if (req.path === '/v2' || req.path.startsWith('/v2/')) throw new GlanceError(404, 'The resource could not be found.');
  return json(300, versionDocument(req.baseUrl));
});
