import { GlanceError } from '../../shared/domain/errors.js';
import { METADEF_SCHEMAS } from '../../shared/domain/metadef-schemas.js';
import { httpHandler } from '../../shared/http/handler.js';
import { json } from '../../shared/http/response.js';

export const handler = httpHandler(async (req) => {
  const name = req.pathParameters.schema_name ?? '';
  // Glance answers an unknown schema name as any unknown path.
  if (!Object.hasOwn(METADEF_SCHEMAS, name)) throw new GlanceError(404, 'The resource could not be found.');
  return json(200, METADEF_SCHEMAS[name]!());
});
