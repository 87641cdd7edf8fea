import { versionDocument } from '../../shared/domain/versions.js';
import { httpHandler } from '../../shared/http/handler.js';
import { json } from '../../shared/http/response.js';

// Glance answers `GET /` with 300 Multiple Choices and `GET /versions` with 200, same body.
export const handler = httpHandler(async (req) => json(req.path === '/versions' ? 200 : 300, versionDocument(req.baseUrl)));
