import { GlanceError } from '../../shared/domain/errors.js';
import { versionDocument } from '../../shared/domain/versions.js';
import { httpHandler } from '../../shared/http/handler.js';
import { json } from '../../shared/http/response.js';
import { matchPath } from '../../shared/routes.js';

/**
 * What no route answers, as Glance does: a known path with another method → 405 with
 * `Allow`; an unknown path under /v2 → 404; any other unversioned path → 300 versions.
 */
export const handler = httpHandler(async (req) => {
  const allowed = [...new Set(matchPath(req.path).map((m) => m.route.method))].sort();
  if (allowed.length > 0) {
    throw new GlanceError(405, `The method ${req.method} is not allowed for this resource.`, { Allow: allowed.join(', ') });
  }
  if (req.path === '/v2' || req.path.startsWith('/v2/')) throw new GlanceError(404, 'The resource could not be found.');
  return json(300, versionDocument(req.baseUrl));
});
