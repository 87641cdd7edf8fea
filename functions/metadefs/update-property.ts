import { metadefContext } from '../../shared/app/metadef-services.js';
import { updateProperty } from '../../shared/app/metadefs.js';
import { loadDefinitionCompiler } from '../../shared/domain/metadef-bodies.js';
import { httpHandler } from '../../shared/http/handler.js';
import { jsonBody } from '../../shared/http/request.js';
import { json } from '../../shared/http/response.js';

// Every request of this function compiles the property definition it carries: ajv is loaded at
// import, not deferred to the first request (shared/domain/metadef-bodies.ts).
await loadDefinitionCompiler();

export const handler = httpHandler(async (req) => json(200, await updateProperty(metadefContext(), req.caller, req.pathParameters.namespace_name ?? '', req.pathParameters.property_name ?? '', jsonBody(req))));
