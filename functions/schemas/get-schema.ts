import { GlanceError } from '../../shared/domain/errors.js';
import { schemaNamed } from '../../shared/domain/schema-catalogue.js';
import { httpHandler } from '../../shared/http/handler.js';
import { json } from '../../shared/http/response.js';

export const handler = httpHandler(async (req) => {
  const schema = schemaNamed(req.pathParameters.schema_name ?? '');
  // Glance answers an unknown schema name as any unknown path.
  if (!schema) throw new GlanceError(404, 'The resource could not be found.');
  return json(200, schema);
});
