import { IMPORT_METHODS } from '../../shared/domain/import-methods.js';
import { httpHandler } from '../../shared/http/handler.js';
import { json } from '../../shared/http/response.js';

export const handler = httpHandler(async () =>
  json(200, { 'import-methods': { description: 'Import methods available.', type: 'array', value: [...IMPORT_METHODS] } }),
);
