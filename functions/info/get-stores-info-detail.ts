import { storeCatalog } from '../../shared/app/config.js';
import { policy } from '../../shared/app/policy-config.js';
import { forbidden } from '../../shared/domain/errors.js';
import { httpHandler } from '../../shared/http/handler.js';
import { json } from '../../shared/http/response.js';

// Glance answers 404 without multi-store before it asks the policy (discovery.py get_stores_detail).
export const handler = httpHandler(async (req) => {
  const stores = storeCatalog();
  stores.requireMultiStore();
  if (!policy().allows('stores_info_detail', req.caller, { project_id: req.caller.projectId })) {
    throw forbidden('You are not authorized to complete stores_info_detail action.');
  }
  return json(200, stores.infoView(true));
});
