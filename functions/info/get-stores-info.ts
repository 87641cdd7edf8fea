import { storeCatalog } from '../../shared/app/config.js';
import { httpHandler } from '../../shared/http/handler.js';
import { json } from '../../shared/http/response.js';

// Glance's discovery: every caller may list the stores; 404 where multi-store is off.
export const handler = httpHandler(async () => json(200, storeCatalog().infoView(false)));
